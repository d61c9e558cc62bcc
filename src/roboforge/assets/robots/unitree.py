"""Unitree Go1 (quadruped), G1 and H1 (humanoids) from MuJoCo Menagerie, set up for velocity tracking.

Gains are joint-space PD targets for a 50 Hz policy (implicit PD inside the physics step); effort limits
are the motors' peak torques as the Menagerie models state them. Self-collisions are off: legged
tasks only need the robot against the ground.
"""

from __future__ import annotations

from roboforge.assets import ArticulationCfg, ImplicitActuatorCfg, InitialStateCfg, MenagerieSpawnCfg

GO1_LEG_JOINTS = [".*_hip_joint", ".*_thigh_joint", ".*_calf_joint"]


def go1_cfg() -> ArticulationCfg:
    """Go1: 12 joints, kp 40 / kd 1; hip and thigh 23.7 N m, calf 35.55 N m; feet are the geoms FR, FL, RR, RL."""
    legs = ImplicitActuatorCfg(
        joint_names_expr=GO1_LEG_JOINTS,
        stiffness=40.0,  # kp 25 lets the 12 kg robot sag 0.3 rad at the calves; 40 holds it within 0.17
        damping=1.0,
        effort_limit={".*_hip_joint": 23.7, ".*_thigh_joint": 23.7, ".*_calf_joint": 35.55},
        velocity_limit=30.0,
    )
    return ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 0.3),
            joint_pos={
                "[FR]L_hip_joint": 0.1,
                "[FR]R_hip_joint": -0.1,
                ".*_thigh_joint": 0.9,
                ".*_calf_joint": -1.8,
            },
        ),
        actuators={"legs": legs},
        soft_joint_pos_limit_factor=0.9,
        self_collisions=False,
        contact_priority=1,  # friction randomization of the feet decides ground contacts
    )


G1_LEG_JOINTS = [".*_hip_.*_joint", ".*_knee_joint", ".*_ankle_.*_joint"]


def g1_cfg() -> ArticulationCfg:
    """G1 (29 joints): legs kp 100-150, ankles 20, waist 200, arms 40, wrists 20; feet collide through
    their four sphere geoms, other links through the torso/pelvis/knee meshes only."""
    legs = ImplicitActuatorCfg(
        joint_names_expr=[".*_hip_.*_joint", ".*_knee_joint"],
        stiffness={
            ".*_hip_yaw_joint": 100.0,
            ".*_hip_roll_joint": 100.0,
            ".*_hip_pitch_joint": 100.0,
            ".*_knee_joint": 150.0,
        },
        damping={".*_hip_.*_joint": 2.0, ".*_knee_joint": 4.0},
        effort_limit={".*_hip_roll_joint": 139.0, ".*_knee_joint": 139.0, ".*": 88.0},
        velocity_limit=32.0,
    )
    feet = ImplicitActuatorCfg(
        joint_names_expr=[".*_ankle_.*_joint"],
        stiffness=20.0,
        damping=2.0,
        effort_limit=50.0,
        velocity_limit=37.0,
    )
    waist = ImplicitActuatorCfg(
        joint_names_expr=["waist_.*_joint"],
        stiffness=200.0,
        damping=5.0,
        effort_limit={"waist_yaw_joint": 88.0, ".*": 50.0},
        velocity_limit=32.0,
    )
    arms = ImplicitActuatorCfg(
        joint_names_expr=[".*_shoulder_.*_joint", ".*_elbow_joint", ".*_wrist_.*_joint"],
        stiffness={".*_wrist_.*_joint": 20.0, ".*": 40.0},
        damping={".*_wrist_.*_joint": 1.0, ".*": 2.0},
        effort_limit={".*_wrist_(pitch|yaw)_joint": 5.0, ".*": 25.0},
        velocity_limit=37.0,
    )
    return ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_g1", file="g1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 0.76),
            joint_pos={
                ".*_hip_pitch_joint": -0.2,
                ".*_knee_joint": 0.42,
                ".*_ankle_pitch_joint": -0.23,
                ".*_elbow_joint": 0.87,
                "left_shoulder_roll_joint": 0.18,
                "right_shoulder_roll_joint": -0.18,
                ".*_shoulder_pitch_joint": 0.35,
                ".*": 0.0,
            },
        ),
        actuators={"legs": legs, "feet": feet, "waist": waist, "arms": arms},
        soft_joint_pos_limit_factor=0.9,
        self_collisions=False,
        contact_priority=1,  # friction randomization of the feet decides ground contacts
        collision_geoms=[".*_ankle_roll_link", ".*_knee_link", "pelvis", "torso_link"],
    )


# H1 (Unitree H1, 19 joints). Sources:
# - effort and velocity limits: unitree_ros `robots/h1_description/urdf/h1.urdf` (<limit effort velocity>),
#   the same torques as the Menagerie model's motor ctrlrange (`unitree_h1/h1.xml`);
# - PD gains and the standing pose: Unitree's own H1 RL example, unitree_rl_gym
#   `legged_gym/envs/h1/h1_config.py` (control.stiffness/damping, init_state.default_joint_angles,
#   action_scale 0.25, decimation 4); MuJoCo Playground's `h1_mjx.xml` uses the same kp class (40 at
#   the ankles, 200-300 at hips, knees and torso);
# - armature: the Menagerie model's 0.1 kg m^2 on every joint (kept; `armature=None`).
H1_EFFORT_LIMITS = {
    ".*_hip_(yaw|roll|pitch)": 200.0,
    ".*_knee": 300.0,
    ".*_ankle": 40.0,
    "torso": 200.0,
    ".*_shoulder_(pitch|roll)": 40.0,
    ".*_shoulder_yaw": 18.0,
    ".*_elbow": 18.0,
}
"""Peak joint torques (N m) from the H1 URDF."""
H1_VELOCITY_LIMITS = {
    ".*_hip_(yaw|roll|pitch)": 23.0,
    ".*_knee": 14.0,
    ".*_ankle": 9.0,
    "torso": 23.0,
    ".*_shoulder_(pitch|roll)": 9.0,
    ".*_shoulder_yaw": 20.0,
    ".*_elbow": 20.0,
}
"""Joint velocity limits (rad/s) from the H1 URDF."""


def h1_cfg() -> ArticulationCfg:
    """H1 (19 joints) on Unitree's published actuator data (sources above `H1_EFFORT_LIMITS`).

    kp / kd (N m/rad, N m s/rad): hips 150 / 2, knees 200 / 4, ankles 40 / 2, torso 300 / 6, shoulders
    150 / 2, elbows 100 / 2; effort limits hips and torso 200, knees 300, ankles 40, shoulder pitch/roll
    40, shoulder yaw and elbows 18 N m. The standing pose is Unitree's (hip pitch -0.1, knee 0.3, ankle
    -0.2: feet flat, the centre of mass 2 cm ahead of the ankles, pelvis 1.03 m up). Isaac Lab's deeper
    crouch (knee 0.79) puts the knees 0.2 m ahead of the feet: with knee kp 200 the knees gave 0.3 rad
    and the pelvis sank 0.1 m at zero action. With ankle kp 40 the robot is still an inverted pendulum
    (2 x 40 N m/rad against m g h ~ 440): at zero action it stands ~1.5 s, then tips; the policy balances.
    """
    legs = ImplicitActuatorCfg(
        joint_names_expr=[".*_hip_(yaw|roll|pitch)", ".*_knee", "torso"],
        stiffness={".*_knee": 200.0, "torso": 300.0, ".*": 150.0},
        damping={".*_knee": 4.0, "torso": 6.0, ".*": 2.0},
        effort_limit=H1_EFFORT_LIMITS,
        velocity_limit=H1_VELOCITY_LIMITS,
    )
    feet = ImplicitActuatorCfg(
        joint_names_expr=[".*_ankle"],
        stiffness=40.0,
        damping=2.0,
        effort_limit=H1_EFFORT_LIMITS,
        velocity_limit=H1_VELOCITY_LIMITS,
    )
    arms = ImplicitActuatorCfg(
        joint_names_expr=[".*_shoulder_(pitch|roll|yaw)", ".*_elbow"],
        stiffness={".*_elbow": 100.0, ".*": 150.0},
        damping=2.0,
        effort_limit=H1_EFFORT_LIMITS,
        velocity_limit=H1_VELOCITY_LIMITS,
    )
    return ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_h1", file="h1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 1.04),  # the feet's soles 5 mm above the ground in the standing pose
            joint_pos={".*_hip_pitch": -0.1, ".*_knee": 0.3, ".*_ankle": -0.2, ".*": 0.0},
        ),
        actuators={"legs": legs, "feet": feet, "arms": arms},
        soft_joint_pos_limit_factor=0.9,
        self_collisions=False,
        contact_priority=1,  # friction randomization of the feet decides ground contacts
    )
