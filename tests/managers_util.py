"""Shared pieces of the manager tests: a small fake env, simple terms, a class term, a command term."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import torch

from roboforge.managers import CommandTerm, CommandTermCfg, ManagerTermBase
from roboforge.managers.term import TermCfg, bind_term

N = 4


def fake_env(num_envs: int = N, seed: int = 0, **extra) -> SimpleNamespace:
    """What managers read from an env: num_envs, device, rng, plus test state."""
    return SimpleNamespace(
        num_envs=num_envs,
        device=torch.device("cpu"),
        rng=torch.Generator().manual_seed(seed),
        max_episode_length_s=10.0,
        value=torch.zeros(num_envs, 2),
        **extra,
    )


def value_obs(env) -> torch.Tensor:
    """The fake env's `value` tensor (num_envs, 2)."""
    return env.value.clone()


def scaled_value_obs(env, factor: float, offset: float = 0.0) -> torch.Tensor:
    return env.value * factor + offset


class CountingObs(ManagerTermBase):
    """A stateful observation term: counts calls per world, cleared by reset(mask)."""

    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.count = torch.full((env.num_envs, 1), self.params["start"])

    def __call__(self, env, start: float = 0.0):
        self.count += 1
        return self.count.clone()

    def reset(self, mask):
        self.count[mask] = 0.0


def bump(env, env_mask: torch.Tensor, amount: float = 1.0) -> None:
    """Add `amount` to the counter of the selected worlds only."""
    env.counter[:] = torch.where(env_mask, env.counter + amount, env.counter)


@dataclass(kw_only=True)
class RandomTargetCfg(CommandTermCfg):
    """A 2-d random target."""

    low: float = -1.0
    high: float = 1.0

    def build(self, env) -> CommandTerm:
        return RandomTarget(self, env)


class RandomTarget(CommandTerm):
    """Uniform 2-d target; counts how often each world was resampled."""

    def __init__(self, cfg: RandomTargetCfg, env):
        super().__init__(cfg, env)
        self.target = torch.zeros(env.num_envs, 2)
        self.resamples = torch.zeros(env.num_envs, dtype=torch.long)
        self.updates = 0

    @property
    def command(self) -> torch.Tensor:
        return self.target

    def _resample(self, mask: torch.Tensor) -> None:
        new = (
            torch.rand(self.num_envs, 2, generator=self.env.rng) * (self.cfg.high - self.cfg.low)
            + self.cfg.low
        )
        self.target[:] = torch.where(mask[:, None], new, self.target)
        self.resamples += mask.long()

    def _update(self) -> None:
        self.updates += 1


def built_term(func, env, *, event: bool = False, **params):
    """`func` with `params` as its manager builds it (params checked, a class term built once): a callable
    taking the positionals, `(env)` or for event/curriculum terms `(env, env_mask)`."""
    positional = ("env", "env_mask") if event else ("env",)
    cfg = TermCfg(func=func, params=params)
    return bind_term("test", getattr(func, "__name__", "term"), cfg, env, positional).call
