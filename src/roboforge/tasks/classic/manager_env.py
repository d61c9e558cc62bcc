"""The classic tasks as manager-based envs ('ant-manager', 'humanoid-manager'), as Isaac Lab's `Isaac-Ant-v0`
and `Isaac-Humanoid-v0` build them: each is derived from its direct task's config (robot, physics, motors,
observation scales, reward weights, reset noise, fall height), so the two stay one task step for step
(`tests/test_classic.py`). Rewards are the direct env's terms, scaled by dt as every manager-based reward.
The direct tasks name their twin as `deploy_twin`, whose terms describe their exported policies."""

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
from roboforge.tasks.classic import mdp as classic
from roboforge.tasks.classic.ant import ant_env_cfg
from roboforge.tasks.classic.direct_env import ClassicEnvCfg
from roboforge.tasks.classic.humanoid import humanoid_env_cfg
from roboforge.tasks.classic.target_command import TargetCommandCfg

TARGET = "target"


def ant_manager_env_cfg(num_envs: int = 4096, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Ant running towards a target 1 km along +x; observations `(36,)`, actions `(8,)`."""
    return classic_manager_env_cfg(ant_env_cfg(num_envs, play))


def humanoid_manager_env_cfg(num_envs: int = 4096, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Humanoid running towards a target 1 km along +x; observations `(75,)`, actions `(21,)`."""
    return classic_manager_env_cfg(humanoid_env_cfg(num_envs, play))


def classic_manager_env_cfg(direct: ClassicEnvCfg) -> ManagerBasedRLEnvCfg:
    """The manager-based form of the classic direct task `direct`."""
    target = {"command_name": TARGET}
    w = direct.rewards
    pos_noise, vel_noise = direct.reset_joint_noise
    return ManagerBasedRLEnvCfg(
        scene=direct.scene,
        sim=direct.sim,
        decimation=direct.decimation,
        episode_length_s=direct.episode_length_s,
        actions={"joint_effort": mdp.JointEffortActionCfg(scale=_effort_scale(direct))},
        commands={
            TARGET: TargetCommandCfg(distance=direct.target_distance, resampling_time_range=(1.0e9, 1.0e9))
        },
        observations={"policy": _policy_observations(direct)},
        events={
            "reset_joints": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={"position_range": (-pos_noise, pos_noise), "velocity_range": (-vel_noise, vel_noise)},
            )
        },
        rewards={
            "progress": RewardTermCfg(
                func=classic.progress_to_target,
                weight=w.progress,
                params={**target, "max_speed": w.max_progress_speed},
            ),
            "alive": RewardTermCfg(func=mdp.is_alive, weight=w.alive),
            "upright": RewardTermCfg(func=classic.upright, weight=w.upright, params=target),
            "move_to_target": RewardTermCfg(func=classic.move_to_target, weight=w.heading, params=target),
            "action_l2": RewardTermCfg(func=mdp.action_l2, weight=-w.action_cost),
            "energy": RewardTermCfg(
                func=classic.motor_power_l1,
                weight=-w.energy_cost,
                params={"dof_vel_scale": direct.dof_vel_scale},
            ),
            "joint_limits": RewardTermCfg(func=classic.joints_at_limit, weight=-w.joint_limit_cost),
            "fall": RewardTermCfg(func=mdp.is_terminated, weight=w.death_reward),
        },
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "torso_height": TerminationTermCfg(
                func=mdp.root_height_below, params={"minimum_height": direct.termination_height}
            ),
        },
    )


def _effort_scale(direct: ClassicEnvCfg) -> dict[str, float]:
    """Torque per unit action by joint regex: the action scale times the motor's gear."""
    return {joints: direct.action_scale * gear for joints, gear in direct.gear.items()}


def _policy_observations(direct: ClassicEnvCfg) -> ObservationGroupCfg:
    """The direct env's values in its order (`ClassicLocomotionEnv._get_observations`)."""
    target = {"command_name": TARGET}
    return ObservationGroupCfg(
        terms={
            "torso_height": ObservationTermCfg(func=classic.torso_height),
            "lin_vel": ObservationTermCfg(func=classic.lin_vel_heading, params=target),
            "ang_vel": ObservationTermCfg(
                func=classic.ang_vel_heading, params=target, scale=direct.angular_velocity_scale
            ),
            "projected_gravity": ObservationTermCfg(func=mdp.projected_gravity_b),
            "angle_to_target": ObservationTermCfg(func=classic.angle_to_target, params=target),
            "heading_projection": ObservationTermCfg(func=classic.heading_projection, params=target),
            "joint_pos": ObservationTermCfg(func=classic.joint_pos_limit_normalized),
            "joint_vel": ObservationTermCfg(func=mdp.joint_vel, scale=direct.dof_vel_scale),
            "actions": ObservationTermCfg(func=mdp.last_action),
        }
    )
