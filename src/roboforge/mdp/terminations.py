"""Termination terms `(env, **params) -> (num_envs,) bool`."""

from __future__ import annotations

import torch

from roboforge.managers.term_env import TermEnv


def time_out(env: TermEnv) -> torch.Tensor:
    """The episode reached its maximum length (mark the term with time_out=True)."""
    return env.episode_length_buf >= env.max_episode_length


def joint_pos_out_of_manual_limit(
    env: TermEnv, bounds: tuple[float, float], asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Any selected joint position outside [bounds[0], bounds[1]]."""
    entity = env.scene[asset_name]
    pos = entity.data.joint_pos[:, entity.joint_index(joint_names)]
    return torch.any((pos < bounds[0]) | (pos > bounds[1]), dim=1)


def root_height_below(env: TermEnv, minimum_height: float, asset_name: str = "robot") -> torch.Tensor:
    """The root is lower than `minimum_height` (m, world z)."""
    return env.scene[asset_name].data.root_pos_w[:, 2] < minimum_height
