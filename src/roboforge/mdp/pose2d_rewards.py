"""Reward terms of planar goals (`Pose2d` commands `(x_b, y_b, z_b, heading_b)`), as Isaac Lab's navigation
task rewards position and heading tracking."""

from __future__ import annotations

import torch

from roboforge.managers.term_env import TermEnv


def pose2d_position_error_tanh(env: TermEnv, std: float, command_name: str) -> torch.Tensor:
    """1 - tanh(xy distance to the goal / std): a coarse (large std) or fine (small std) pull to the goal."""
    command = env.command_manager.get_command(command_name)
    return 1.0 - torch.tanh(command[:, :2].norm(dim=1) / std)


def pose2d_heading_error_abs(env: TermEnv, command_name: str) -> torch.Tensor:
    """|goal heading - robot heading| (rad), in [0, pi]."""
    return env.command_manager.get_command(command_name)[:, 3].abs()
