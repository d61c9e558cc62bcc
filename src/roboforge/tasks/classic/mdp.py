"""Observation and reward terms of the manager-based classic tasks, on the heading target of a
`TargetCommand` (`command_name`). The math is `heading.py`'s, shared with the direct envs."""

from __future__ import annotations

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.tasks.classic import heading as hd
from roboforge.tasks.classic.target_command import TargetCommand


def _state(env: TermEnv, command_name: str) -> hd.HeadingState:
    term = env.command_manager.terms[command_name]
    assert isinstance(term, TargetCommand), f"{command_name!r} is not a TargetCommand"
    return term.state()


def torso_height(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Torso (root) height above z = 0 (m) `(num_envs, 1)`."""
    return env.scene[asset_name].data.root_pos_w[:, 2:3]


def lin_vel_heading(env: TermEnv, command_name: str) -> torch.Tensor:
    """Torso linear velocity in the heading (yaw-only) frame `(num_envs, 3)`."""
    return _state(env, command_name).lin_vel_h


def ang_vel_heading(env: TermEnv, command_name: str) -> torch.Tensor:
    """Torso angular velocity in the heading (yaw-only) frame `(num_envs, 3)`."""
    return _state(env, command_name).ang_vel_h


def angle_to_target(env: TermEnv, command_name: str) -> torch.Tensor:
    """Angle (rad) from the torso's heading to the target `(num_envs, 1)`."""
    return _state(env, command_name).angle_to_target[:, None]


def heading_projection(env: TermEnv, command_name: str) -> torch.Tensor:
    """Cosine between the torso's x axis and the target direction `(num_envs, 1)`."""
    return _state(env, command_name).heading_proj[:, None]


def joint_pos_limit_normalized(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Joint positions mapped from their limits to [-1, 1] `(num_envs, num_joints)`."""
    robot = env.scene[asset_name]
    return hd.joint_pos_unit(robot.data.joint_pos, robot.joint_pos_limits)


def progress_to_target(env: TermEnv, command_name: str, max_speed: float | None = None) -> torch.Tensor:
    """Speed (m/s) towards the target, at most `max_speed` when one is given."""
    return hd.capped_progress(_state(env, command_name).progress, max_speed)


def upright(env: TermEnv, command_name: str, threshold: float = 0.93) -> torch.Tensor:
    """1 while the torso's z axis keeps a world-z component above `threshold`."""
    return hd.upright_bonus(_state(env, command_name).up_proj, threshold)


def move_to_target(env: TermEnv, command_name: str, threshold: float = 0.8) -> torch.Tensor:
    """Facing the target: 1 above `threshold` of heading cosine, proportional below."""
    return hd.heading_bonus(_state(env, command_name).heading_proj, threshold)


def motor_power_l1(
    env: TermEnv, dof_vel_scale: float, action_name: str = "joint_effort", asset_name: str = "robot"
) -> torch.Tensor:
    """Sum of |action x scaled joint velocity|, each motor weighted by its share of the largest action scale
    (`action_name` is the env's only action term: the policy's action is its action)."""
    term = env.action_manager.terms[action_name]
    joint_vel = env.scene[asset_name].data.joint_vel[:, term.joint_ids]
    ratio = term.scale / term.scale.max()
    return hd.motor_power(env.action_manager.action, joint_vel * dof_vel_scale, ratio)


def joints_at_limit(env: TermEnv, threshold: float = 0.98, asset_name: str = "robot") -> torch.Tensor:
    """Number of joints within `1 - threshold` of a limit (in units of the half range)."""
    return hd.joints_at_limit(joint_pos_limit_normalized(env, asset_name), threshold)
