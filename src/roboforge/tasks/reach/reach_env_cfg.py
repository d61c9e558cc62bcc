"""Reach: move the end effector to a commanded pose, in any control mode."""

from __future__ import annotations

from typing import Literal

from roboforge import mdp
from roboforge.assets.robots.universal_robots import ArmDrive
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    ActionTermCfg,
    EventTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    RewardTermCfg,
    TerminationTermCfg,
    UniformNoiseCfg,
)
from roboforge.scene import SceneCfg
from roboforge.sim import SimCfg
from roboforge.tasks.reach.arms import ReachArm
from roboforge.utils.config import ConfigError

Control = Literal["joint_pos", "joint_vel", "effort", "ik_rel", "ik_abs", "osc"]
CONTROLS: tuple[Control, ...] = ("joint_pos", "joint_vel", "effort", "ik_rel", "ik_abs", "osc")
COMMAND = "ee_pose"
# Action-rate penalty per control mode. At -1e-4 the joint-position policies chattered: deterministic actions
# alternating by ~1.6-2.4 per step on every joint, the joints moving at 1-2 rad/s about a tool held 1-2 cm off
# (reach-kinova-gen3's H200 checkpoint of 2026-12-02, 10.1 mm in eval, and 2-core CPU runs). With -5e-3 (where
# Isaac Lab's reach penalty ends) the CPU runs (256 worlds, 600 iterations, eval over 512 episodes) went from
# 16.9 to 8.8 mm (Gen3) and 17.5 to 8.8 mm (UR5e), the step-to-step change to 0.26 / 0.03; -2e-2 damped the
# Gen3 fully but learned slower (11.8 mm). Effort and relative IK keep -1e-4: with -5e-3 their action std
# stayed flat (0.5-0.7 instead of growing to 2.3-2.4) but they ended further off (2-core CPU, 512 worlds,
# eval over 1024 episodes, 2026-12-07): UR5e effort 13.5 mm / 0.12 rad against 11.0 / 0.084 (1000
# iterations), Panda IK-rel 13.8 mm / 0.19 rad against 10.2 / 0.16 (1400).
ACTION_RATE_WEIGHT: dict[Control, float] = {"joint_pos": -5.0e-3}


def reach_action(arm: ReachArm, control: Control) -> tuple[ArmDrive, ActionTermCfg]:
    """The actuator drive and action term of a control mode."""
    joints, ee = arm.arm_joints, arm.ee_frame
    if control == "joint_pos":
        return "position", mdp.JointPositionActionCfg(joint_names=joints, scale=0.5)
    if control == "joint_vel":
        return "velocity", mdp.JointVelocityActionCfg(joint_names=joints, scale=0.5)
    if control == "effort":
        return "torque", mdp.JointEffortActionCfg(joint_names=joints, scale=arm.effort_scale)
    if control == "ik_rel":
        return "position", mdp.DifferentialIKActionCfg(
            joint_names=joints, body_name=ee, use_relative_mode=True, scale=0.05, ik_method="dls"
        )
    if control == "ik_abs":
        return "position", mdp.DifferentialIKActionCfg(joint_names=joints, body_name=ee, ik_method="dls")
    if control == "osc":
        return "torque", mdp.OperationalSpaceControlActionCfg(joint_names=joints, body_name=ee)
    raise ConfigError(f"Unknown control mode {control!r}. Choose from: {', '.join(CONTROLS)}.")


def reach_env_cfg(arm: ReachArm, control: Control = "joint_pos", num_envs: int = 1024, play: bool = False):
    """Reach task for `arm` driven in `control` mode."""
    drive, action = reach_action(arm, control)
    noise = None if play else UniformNoiseCfg(n_min=-0.01, n_max=0.01)
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(num_envs=32 if play else num_envs, entities={"robot": arm.robot(drive)}),
        sim=SimCfg(timestep=0.005, nconmax=arm.nconmax, njmax=arm.njmax),
        decimation=4,
        episode_length_s=8.0,
        actions={"arm": action},
        commands={
            COMMAND: mdp.UniformPoseCommandCfg(
                body_name=arm.ee_frame,
                ranges=arm.ranges,
                resampling_time_range=(4.0, 4.0),
                metric_window_s=1.0,
            )
        },
        observations={
            "policy": ObservationGroupCfg(
                enable_corruption=not play,
                terms={
                    "joint_pos": ObservationTermCfg(func=mdp.joint_pos_rel, noise=noise),
                    "joint_vel": ObservationTermCfg(func=mdp.joint_vel_rel, noise=noise),
                    "pose_command": ObservationTermCfg(
                        func=mdp.generated_commands, params={"command_name": COMMAND}
                    ),
                    "actions": ObservationTermCfg(func=mdp.last_action),
                },
            )
        },
        events={
            "reset_arm": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={
                    "joint_names": arm.arm_joints,
                    "position_range": (-0.2, 0.2),
                    "velocity_range": (0.0, 0.0),
                },
            )
        },
        rewards=reach_rewards(arm, control),
        terminations={"time_out": TerminationTermCfg(func=mdp.time_out, time_out=True)},
    )


def reach_rewards(arm: ReachArm, control: Control) -> dict[str, RewardTermCfg]:
    """The end effector's position (coarse and fine) and orientation error, smooth and slow joints."""
    ee = {"body_name": arm.ee_frame}
    return {
        "ee_position": RewardTermCfg(
            func=mdp.position_command_error, weight=-0.2, params={"command_name": COMMAND, **ee}
        ),
        "ee_position_fine": RewardTermCfg(
            func=mdp.position_command_error_tanh,
            weight=0.1,
            params={"std": 0.1, "command_name": COMMAND, **ee},
        ),
        "ee_orientation": RewardTermCfg(
            func=mdp.orientation_command_error, weight=-0.1, params={"command_name": COMMAND, **ee}
        ),
        "action_rate": RewardTermCfg(
            func=mdp.action_rate_l2, weight=ACTION_RATE_WEIGHT.get(control, -1.0e-4)
        ),
        "joint_vel": RewardTermCfg(
            func=mdp.joint_vel_l2, weight=-1.0e-4, params={"joint_names": arm.arm_joints}
        ),
    }
