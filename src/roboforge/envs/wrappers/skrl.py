"""A finite action space for skrl's off-policy agents (SAC).

roboforge envs declare an unbounded action space (the action terms scale the policy's output). skrl's SAC
samples from a Gaussian and clips to the action space (`clip_actions`), its random exploration draws from
it, so it needs finite bounds. `BoundedActions` presents the env with the action space `[-bound, bound]`
and clamps what it passes on, so the env acts on exactly what a deterministic policy clamped the same way
outputs. The physical range of one unit is the action term's `scale` (cart-pole: 100 N), changed with
`-o env.actions.<term>.scale=...`.

Give it to skrl's own wrapper: `wrap_env(BoundedActions(env), wrapper="isaaclab")`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch


class BoundedActions:
    """The env as skrl's Isaac Lab wrapper reads it, with the action space `[-bound, bound]` per action."""

    def __init__(self, env: Any, bound: float = 1.0):
        if not bound > 0:
            raise ValueError(f"bound must be > 0, got {bound}")
        self.env = env
        self.bound = float(bound)
        self.single_action_space = gym.spaces.Box(-self.bound, self.bound, (env.num_actions,))

    @property
    def unwrapped(self) -> BoundedActions:
        """This adapter: skrl's wrappers read the spaces from `env.unwrapped`."""
        return self

    def step(self, actions: torch.Tensor):
        """The env's step on the actions clamped to `[-bound, bound]` (no host sync)."""
        return self.env.step(actions.clamp(-self.bound, self.bound))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return self.env.reset(seed=seed, options=options)

    def close(self) -> None:
        self.env.close()

    def __getattr__(self, name: str) -> Any:
        """Everything else (num_envs, device, single_observation_space, ...) from the env."""
        if name == "env":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.env, name)
