"""Ant as a manager-based env ('ant-manager'): the task of 'ant' (direct_env.py) from terms, as Isaac Lab's
`Isaac-Ant-v0` builds it. Rewards are the direct env's terms, scaled by dt as every manager-based reward."""

from __future__ import annotations

from roboforge import mdp
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    EventTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    RewardTermCfg,
    TerminationTermCfg,
)
from roboforge.scene import SceneCfg
from roboforge.tasks.classic import mdp as classic
from roboforge.tasks.classic.ant import ACTION_SCALE, ant_sim_cfg
from roboforge.tasks.classic.robots import ANT_GEAR, ant_robot_cfg
from roboforge.tasks.classic.target_command import TargetCommandCfg

TARGET = "target"
DOF_VEL_SCALE = 0.2


def ant_manager_env_cfg(num_envs: int = 4096, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Ant running towards a target 1 km along +x; observations `(36,)`, actions `(8,)`."""
    target = {"command_name": TARGET}
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(num_envs=32 if play else num_envs, entities={"robot": ant_robot_cfg(ACTION_SCALE)}),
        sim=ant_sim_cfg(),
        decimation=2,
        episode_length_s=15.0,
        actions={"joint_effort": mdp.JointEffortActionCfg(scale=ACTION_SCALE * ANT_GEAR[".*"])},
        commands={TARGET: TargetCommandCfg(resampling_time_range=(1.0e9, 1.0e9))},
        observations={"policy": _policy_observations()},
        events={
            "reset_joints": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={"position_range": (-0.2, 0.2), "velocity_range": (-0.1, 0.1)},
            )
        },
        rewards={
            "progress": RewardTermCfg(func=classic.progress_to_target, weight=1.0, params=target),
            "alive": RewardTermCfg(func=mdp.is_alive, weight=0.5),
            "upright": RewardTermCfg(func=classic.upright, weight=0.1, params=target),
            "move_to_target": RewardTermCfg(func=classic.move_to_target, weight=0.5, params=target),
            "action_l2": RewardTermCfg(func=mdp.action_l2, weight=-0.005),
            "energy": RewardTermCfg(
                func=classic.motor_power_l1, weight=-0.05, params={"dof_vel_scale": DOF_VEL_SCALE}
            ),
            "joint_limits": RewardTermCfg(func=classic.joints_at_limit, weight=-0.1),
            "fall": RewardTermCfg(func=mdp.is_terminated, weight=-2.0),
        },
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "torso_height": TerminationTermCfg(func=mdp.root_height_below, params={"minimum_height": 0.31}),
        },
    )


def _policy_observations() -> ObservationGroupCfg:
    """The direct env's 36 values in its order (`ClassicLocomotionEnv._get_observations`)."""
    target = {"command_name": TARGET}
    return ObservationGroupCfg(
        terms={
            "torso_height": ObservationTermCfg(func=classic.torso_height),
            "lin_vel": ObservationTermCfg(func=classic.lin_vel_heading, params=target),
            "ang_vel": ObservationTermCfg(func=classic.ang_vel_heading, params=target),
            "projected_gravity": ObservationTermCfg(func=mdp.projected_gravity_b),
            "angle_to_target": ObservationTermCfg(func=classic.angle_to_target, params=target),
            "heading_projection": ObservationTermCfg(func=classic.heading_projection, params=target),
            "joint_pos": ObservationTermCfg(func=classic.joint_pos_limit_normalized),
            "joint_vel": ObservationTermCfg(func=mdp.joint_vel, scale=DOF_VEL_SCALE),
            "actions": ObservationTermCfg(func=mdp.last_action),
        }
    )
