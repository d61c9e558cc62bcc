"""Curriculum terms `(env, env_mask, **params)`: run at reset on the worlds ending an episode."""

from __future__ import annotations

import torch

from roboforge.managers.curriculum_manager import CurriculumTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError


def terrain_levels_vel(
    env: TermEnv, env_mask: torch.Tensor, asset_name: str = "robot", command_name: str = "base_velocity"
) -> torch.Tensor:
    """Terrain level up when the robot walked off its patch, down when it covered under half the
    distance its velocity command asked for; returns the mean level over all worlds.

    Worlds reset before their first step (episode length 0) and worlds the NaN guard reset (their robot
    is back at the model's default pose, not where it walked) keep their level.
    """
    terrain = env.scene.terrain
    assert terrain is not None  # created when the env binds the scene to its simulator
    root_pos_w = env.scene[asset_name].data.root_pos_w
    walked = torch.linalg.norm(root_pos_w[:, :2] - env.scene.env_origins[:, :2], dim=1)
    move_up = walked > min(terrain.patch_size) / 2
    command = env.command_manager.get_command(command_name)
    asked = torch.linalg.norm(command[:, :2], dim=1) * env.max_episode_length_s * 0.5
    move_down = (walked < asked) & ~move_up
    ran = env_mask & (env.episode_length_buf > 0) & ~env.exploded_buf
    terrain.update_env_origins(ran, move_up, move_down, generator=env.rng)
    return terrain.terrain_levels.float().mean()


def modify_reward_weight(
    env: TermEnv,
    env_mask: torch.Tensor,
    term_name: str,
    weight: float,
    num_steps: int,
    later_weight: float | None = None,
    later_steps: int = 0,
) -> torch.Tensor:
    """Reward term `term_name` takes `weight` once the env has run `num_steps` steps (its configured
    weight before), and `later_weight` from `later_steps` on if given; graph-safe, it reads the device step
    count. Returns the current weight."""
    manager = env.reward_manager
    i = manager.weight_index(term_name)
    current = torch.where(env.step_count >= num_steps, weight, manager.initial_weights[i])
    if later_weight is not None:
        if later_steps < num_steps:
            raise ConfigError(
                f"Curriculum modify_reward_weight of {term_name!r}: later_steps {later_steps} must not be "
                f"below num_steps {num_steps}."
            )
        current = torch.where(env.step_count >= later_steps, later_weight, current)
    manager.weights[i] = current
    return manager.weights[i]


def reward_weights_after(num_steps: int, weights: dict[str, float]) -> dict[str, CurriculumTermCfg]:
    """Curriculum terms that give each reward term of `weights` {term name: weight} its new weight once the
    env has run `num_steps` steps (per world; 24-step PPO iterations: num_steps / 24 iterations)."""
    return {
        name: CurriculumTermCfg(
            func=modify_reward_weight, params={"term_name": name, "weight": weight, "num_steps": num_steps}
        )
        for name, weight in weights.items()
    }
