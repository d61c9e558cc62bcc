"""The velocity task's domain randomization and reward terms (`velocity_env_cfg` assembles the task)."""

from __future__ import annotations

import math

from roboforge import mdp
from roboforge.managers import EventTermCfg, RewardTermCfg
from roboforge.mdp import locomotion, randomization
from roboforge.mdp.locomotion import JointAccL2
from roboforge.tasks.locomotion.robots import LeggedRobot

COMMAND = "base_velocity"
FEET = "feet_contact"
BODY = "body_contact"


def velocity_events(robot: LeggedRobot, pushes: bool) -> dict[str, EventTermCfg]:
    """Domain randomization: startup and reset draws, plus velocity pushes at intervals if `pushes`."""
    events = {
        # startup: one draw per world for the whole run
        "physics_material": EventTermCfg(
            func=randomization.randomize_friction, mode="startup", params={"friction_range": (0.4, 1.2)}
        ),
        "add_base_mass": EventTermCfg(
            func=randomization.add_base_mass,
            mode="startup",
            params={"mass_range": robot.add_base_mass, "body_names": [robot.base_body]},
        ),
        "base_com": EventTermCfg(
            func=randomization.randomize_com,
            mode="startup",
            params={
                "com_range": {"x": (-0.03, 0.03), "y": (-0.03, 0.03), "z": (-0.02, 0.02)},
                "body_names": [robot.base_body],
            },
        ),
        "actuator_gains": EventTermCfg(
            func=randomization.randomize_actuator_gains,
            mode="startup",
            params={"stiffness_range": (0.9, 1.1), "damping_range": (0.9, 1.1)},
        ),
        # reset
        "reset_base": EventTermCfg(
            func=mdp.reset_root_state_uniform,
            mode="reset",
            params={
                "pose_range": {"x": (-0.5, 0.5), "y": (-0.5, 0.5), "yaw": (-math.pi, math.pi)},
                "velocity_range": {k: (-0.5, 0.5) for k in ("x", "y", "z", "roll", "pitch", "yaw")},
            },
        ),
        "reset_robot_joints": EventTermCfg(
            func=mdp.reset_joints_by_offset,
            mode="reset",
            params={"position_range": (-0.1, 0.1), "velocity_range": (0.0, 0.0)},
        ),
        # interval
        "push_robot": EventTermCfg(
            func=randomization.push_by_setting_velocity,
            mode="interval",
            interval_range_s=(10.0, 15.0),
            params={"velocity_range": {"x": (-0.5, 0.5), "y": (-0.5, 0.5)}},
        ),
    }
    if not pushes:
        del events["push_robot"]
    return events


def velocity_rewards(robot: LeggedRobot, rough: bool) -> dict[str, RewardTermCfg]:
    """Isaac Lab's velocity rewards: the quadruped set, or the biped set (`robot.biped`); rough terrain leaves
    the undesired-contact and flat-orientation terms out of the quadruped's."""
    rewards = {
        "action_rate_l2": RewardTermCfg(func=mdp.action_rate_l2, weight=-0.01),
        "ang_vel_xy_l2": RewardTermCfg(func=locomotion.ang_vel_xy_l2, weight=-0.05),
        "dof_pos_limits": RewardTermCfg(func=locomotion.joint_pos_limits, weight=-1.0),
    }
    if robot.biped:
        return rewards | biped_rewards(robot)
    return rewards | quadruped_rewards(robot, rough)


def biped_rewards(robot: LeggedRobot) -> dict[str, RewardTermCfg]:
    """The humanoids' terms (Isaac Lab's G1/H1 configs): yaw-frame tracking, a termination penalty, biped air
    time, feet slide, torso orientation, ankle limits and joint deviations."""
    cmd = {"command_name": COMMAND}
    legs = {"joint_names": robot.leg_joints}
    rewards = {
        "track_lin_vel_xy_exp": RewardTermCfg(
            func=locomotion.track_lin_vel_xy_yaw_frame_exp, weight=1.0, params={"std": 0.5, **cmd}
        ),
        "track_ang_vel_z_exp": RewardTermCfg(
            func=locomotion.track_ang_vel_z_world_exp, weight=2.0, params={"std": 0.5, **cmd}
        ),
        "termination_penalty": RewardTermCfg(func=mdp.is_terminated, weight=-200.0),
        "feet_air_time": RewardTermCfg(
            func=locomotion.feet_air_time_positive_biped,
            weight=0.25,
            params={"sensor_name": FEET, "threshold": 0.4, **cmd},
        ),
        "feet_slide": RewardTermCfg(func=locomotion.feet_slide, weight=-0.1, params={"sensor_name": FEET}),
        "flat_orientation_l2": RewardTermCfg(func=locomotion.flat_orientation_l2, weight=-1.0),
        "dof_torques_l2": RewardTermCfg(func=locomotion.joint_torques_l2, weight=-2.0e-6, params=legs),
        "dof_acc_l2": RewardTermCfg(func=JointAccL2, weight=-1.0e-7, params=legs),
        "dof_pos_limits": RewardTermCfg(
            func=locomotion.joint_pos_limits, weight=-1.0, params={"joint_names": robot.ankle_joints}
        ),
    }
    for name, joints in robot.deviation_joints.items():
        rewards[name] = RewardTermCfg(
            func=mdp.joint_deviation_l1, weight=-0.1, params={"joint_names": joints}
        )
    return rewards


def quadruped_rewards(robot: LeggedRobot, rough: bool) -> dict[str, RewardTermCfg]:
    """The quadrupeds' terms (Isaac Lab's Go1 configs); rough terrain leaves out undesired contacts and the flat
    orientation."""
    cmd = {"command_name": COMMAND}
    rewards = {
        "track_lin_vel_xy_exp": RewardTermCfg(
            func=locomotion.track_lin_vel_xy_exp, weight=1.5, params={"std": 0.5, **cmd}
        ),
        "track_ang_vel_z_exp": RewardTermCfg(
            func=locomotion.track_ang_vel_z_exp, weight=0.75, params={"std": 0.5, **cmd}
        ),
        "lin_vel_z_l2": RewardTermCfg(func=locomotion.lin_vel_z_l2, weight=-2.0),
        "dof_torques_l2": RewardTermCfg(func=locomotion.joint_torques_l2, weight=-2.0e-4),
        "dof_acc_l2": RewardTermCfg(func=JointAccL2, weight=-2.5e-7),
        "feet_air_time": RewardTermCfg(
            func=locomotion.feet_air_time,
            # rough: Isaac Lab's Go1 rough weight (0.25 before 2026-12-04: level 3.9 after 410 iterations)
            weight=0.01 if rough else 0.5,
            params={"sensor_name": FEET, "threshold": 0.5, **cmd},
        ),
    }
    if rough:  # as Isaac Lab's Go1 rough config: thigh and calf contacts on stairs are not penalized
        return rewards
    rewards["undesired_contacts"] = RewardTermCfg(
        func=locomotion.undesired_contacts,
        weight=-1.0,
        params={"sensor_name": BODY, "threshold": 1.0, "body_names": robot.undesired_contact_bodies},
    )
    rewards["flat_orientation_l2"] = RewardTermCfg(func=locomotion.flat_orientation_l2, weight=-2.5)
    return rewards
