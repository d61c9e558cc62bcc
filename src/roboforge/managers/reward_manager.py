"""Reward manager: weighted sum of reward terms times the env step dt, with per-term episode sums."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.term import TermCfg, bind_term
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError


@dataclass(kw_only=True)
class RewardTermCfg(TermCfg):
    """A reward term `func(env, **params) -> (num_envs,)`, scaled by `weight * step_dt`."""

    weight: float
    """Weight of the term (negative for penalties)."""


class RewardManager:
    """Computes the step reward and accumulates each term over the episode for logging."""

    def __init__(self, cfgs: dict[str, RewardTermCfg], env: TermEnv):
        self.env = env
        self.cfgs = {n: c for n, c in cfgs.items() if c.weight != 0.0}
        terms = {n: bind_term("reward", n, c, env) for n, c in self.cfgs.items()}
        self._funcs = {n: term.call for n, term in terms.items()}
        self._term_resets = [term.reset for term in terms.values() if term.reset is not None]
        self.episode_sums = {n: torch.zeros(env.num_envs, device=env.device) for n in self.cfgs}
        self.reward = torch.zeros(env.num_envs, device=env.device)
        # Weights live on the device, so a curriculum can change them inside the CUDA graph.
        self.initial_weights = torch.tensor([c.weight for c in self.cfgs.values()], device=env.device)
        self.weights = self.initial_weights.clone()
        self._index = {name: i for i, name in enumerate(self.cfgs)}

    def weight_index(self, name: str) -> int:
        """Position of term `name` in `weights` (terms with weight 0 are dropped at build time)."""
        if name not in self._index:
            raise ConfigError(
                f"No reward term {name!r} with a non-zero weight. Terms: {', '.join(self._index)}."
            )
        return self._index[name]

    def compute(self, dt: float, void: torch.Tensor | None = None) -> torch.Tensor:
        """Step reward `(num_envs,)` = sum over terms of weight * term * dt; 0 where `void` (exploded worlds)."""
        self.reward.zero_()
        for i, name in enumerate(self.cfgs):
            value = self._funcs[name](self.env).float() * (self.weights[i] * dt)
            if void is not None:
                value = torch.where(void, 0.0, value)
            self.reward += value
            self.episode_sums[name] += value
        return self.reward.clone()  # callers may keep it; the buffer is reused next step

    def reset(self, mask: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per-term (sum over ended episodes, episode count) for logging; clears the selected worlds and
        resets class terms."""
        log = {}
        count = mask.sum()
        for name, sums in self.episode_sums.items():
            log[f"Episode_Reward/{name}"] = ((sums * mask).sum() / self.env.max_episode_length_s, count)
            sums.masked_fill_(mask, 0.0)
        for reset in self._term_resets:
            reset(mask)
        return log
