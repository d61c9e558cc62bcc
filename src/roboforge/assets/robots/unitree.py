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


def h1_cfg() -> ArticulationCfg:
    """H1 (19 joints): hips 150, knees 200, torso 200, ankles 20, arms 40 (kp); effort limits 200 / 300 / 40 N m."""
    legs = ImplicitActuatorCfg(
        joint_names_expr=[".*_hip_(yaw|roll|pitch)", ".*_knee", "torso"],
        stiffness={".*_knee": 200.0, "torso": 200.0, ".*": 150.0},
        damping={".*_knee": 5.0, "torso": 5.0, ".*": 5.0},
        effort_limit={".*_knee": 300.0, ".*": 200.0},
        velocity_limit=23.0,
    )
    feet = ImplicitActuatorCfg(
        joint_names_expr=[".*_ankle"], stiffness=20.0, damping=4.0, effort_limit=40.0, velocity_limit=9.0
    )
    arms = ImplicitActuatorCfg(
        joint_names_expr=[".*_shoulder_(pitch|roll|yaw)", ".*_elbow"],
        stiffness=40.0,
        damping=10.0,
        effort_limit=40.0,
        velocity_limit=9.0,
    )
    return ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_h1", file="h1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 1.05),
            joint_pos={
                ".*_hip_pitch": -0.28,
                ".*_knee": 0.79,
                ".*_ankle": -0.52,
                ".*_elbow": 0.52,
                ".*_shoulder_pitch": 0.28,
                ".*": 0.0,
            },
        ),
        actuators={"legs": legs, "feet": feet, "arms": arms},
        soft_joint_pos_limit_factor=0.9,
        self_collisions=False,
        contact_priority=1,  # friction randomization of the feet decides ground contacts
    )
