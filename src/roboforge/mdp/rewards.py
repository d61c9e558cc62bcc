"""Reward terms `(env, **params) -> (num_envs,)`; the reward manager multiplies by weight and dt."""

from __future__ import annotations

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.utils.math import quat_error_angle


def is_alive(env: TermEnv) -> torch.Tensor:
    """1 for worlds not terminated by a failure this step."""
    return (~env.termination_manager.terminated).float()


def is_terminated(env: TermEnv) -> torch.Tensor:
    """1 for worlds terminated by a failure (time-outs excluded) this step."""
    return env.termination_manager.terminated.float()


def joint_pos_target_l2(
    env: TermEnv, target: float, asset_name: str = "robot", joint_names: list[str] | None = None
):
    """Squared distance of the joint positions to a fixed target, summed over joints."""
    entity = env.scene[asset_name]
    pos = entity.data.joint_pos[:, entity.joint_index(joint_names)]
    return torch.sum(torch.square(pos - target), dim=1)


def joint_vel_l1(
    env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Sum of absolute joint velocities."""
    entity = env.scene[asset_name]
    return torch.sum(torch.abs(entity.data.joint_vel[:, entity.joint_index(joint_names)]), dim=1)


def joint_vel_l2(
    env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Sum of squared joint velocities."""
    entity = env.scene[asset_name]
    return torch.sum(torch.square(entity.data.joint_vel[:, entity.joint_index(joint_names)]), dim=1)


def action_l2(env: TermEnv) -> torch.Tensor:
    """Sum of squared actions."""
    return torch.sum(torch.square(env.action_manager.action), dim=1)


def action_rate_l2(env: TermEnv) -> torch.Tensor:
    """Sum of squared changes of the action between env steps."""
    return torch.sum(torch.square(env.action_manager.action - env.action_manager.prev_action), dim=1)


def _ee_and_command_b(env: TermEnv, command_name: str, body_name: str, asset_name: str):
    entity = env.scene[asset_name]
    pos_b, quat_b = entity.frame_pose_b(entity.find_frame(body_name))
    return pos_b, quat_b, env.command_manager.get_command(command_name)


def position_command_error(
    env: TermEnv, command_name: str, body_name: str, asset_name: str = "robot"
) -> torch.Tensor:
    """Distance (m) between the end effector and the commanded position (root frame)."""
    pos_b, _, command = _ee_and_command_b(env, command_name, body_name, asset_name)
    return (command[:, :3] - pos_b).norm(dim=-1)


def position_command_error_tanh(
    env: TermEnv, std: float, command_name: str, body_name: str, asset_name: str = "robot"
) -> torch.Tensor:
    """1 - tanh(distance / std): close to 1 only near the commanded position."""
    return 1.0 - torch.tanh(position_command_error(env, command_name, body_name, asset_name) / std)


def orientation_command_error(
    env: TermEnv, command_name: str, body_name: str, asset_name: str = "robot"
) -> torch.Tensor:
    """Angle (rad) between the end-effector orientation and the commanded one."""
    _, quat_b, command = _ee_and_command_b(env, command_name, body_name, asset_name)
    return quat_error_angle(command[:, 3:7], quat_b)


def joint_deviation_l1(
    env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Sum of |joint position - default| (rad) over the selected joints (keeps e.g. arms and hips near default)."""
    entity = env.scene[asset_name]
    idx = entity.joint_index(joint_names)
    return torch.sum(torch.abs(entity.data.joint_pos[:, idx] - entity.default_joint_pos[:, idx]), dim=1)
