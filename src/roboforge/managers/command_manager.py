"""Command manager: command terms (targets the policy must follow) resampled on a timer and at reset."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError
from roboforge.utils.markers import CommandMarker
from roboforge.utils.math import sample_uniform


@dataclass(kw_only=True)
class CommandTermCfg:
    """Base config of a command term; subclasses build their term in `build`."""

    resampling_time_range: tuple[float, float] = (10.0, 10.0)
    """Seconds between resamples, drawn uniformly per world."""
    metric_window_s: float | None = None
    """Average the term's metrics over the last this-many seconds of each episode (None: whole episode)."""

    def build(self, env: TermEnv) -> CommandTerm:
        """The runtime term for `env`."""
        raise NotImplementedError(f"{type(self).__name__} must implement build(env).")


class CommandTerm:
    """A command `(num_envs, dim)` resampled where each world's timer runs out, and at reset.

    Subclasses implement `_resample(mask)` (write new commands where `mask`) and may implement
    `_update()` (called every step, e.g. to recompute a heading command) and `metrics`.
    """

    def __init__(self, cfg: CommandTermCfg, env: TermEnv):
        self.cfg = cfg
        self.env = env
        self.num_envs = env.num_envs
        self.device = env.device
        self.time_left = torch.zeros(env.num_envs, device=env.device)
        self.metrics: dict[str, torch.Tensor] = {}
        self._metric_sums: dict[str, torch.Tensor] = {}
        self._metric_steps = torch.zeros(env.num_envs, device=env.device)

    @property
    def command(self) -> torch.Tensor:
        """The current command `(num_envs, dim)`."""
        raise NotImplementedError

    def markers(self, world: int) -> list[CommandMarker]:
        """What a video draws for world `world`'s command (nothing unless the term says; reads the device)."""
        return []

    def compute(self, dt: float) -> None:
        """Advance timers by `dt`, resample the worlds whose timer ran out, update, accumulate metrics."""
        self.time_left -= dt
        self._resample_where(self.time_left <= 0.0)
        self._update()
        if not self.metrics:
            return
        self._make_metric_sums()
        window = self.cfg.metric_window_s
        steps_left = self.env.max_episode_length - self.env.episode_length_buf
        counted = (
            torch.ones_like(self.time_left) if window is None else (steps_left * dt <= window + 1e-6).float()
        )
        for key, value in self.metrics.items():
            self._metric_sums[key] += value * counted
        self._metric_steps += counted

    def reset(self, mask: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Resample the selected worlds; returns (sum of per-episode metric means, episodes) for logging."""
        log = {}
        self._make_metric_sums()
        if self._metric_sums:
            counted = mask & (self._metric_steps > 0)
            steps = self._metric_steps.clamp(min=1.0)
            for key, total in self._metric_sums.items():
                log[key] = ((total / steps * counted).sum(), counted.sum())
                total.masked_fill_(mask, 0.0)
            self._metric_steps.masked_fill_(mask, 0.0)
        self._resample_where(mask)
        return log

    def _make_metric_sums(self) -> None:
        """The per-world metric sums, made once the term's metrics exist (before the first step too, so the
        env lists the metrics it logs before any episode ends)."""
        if self._metric_sums or not self.metrics:
            return
        with torch.inference_mode(False):  # normal tensors: reset() edits them outside inference mode
            self._metric_sums = {k: torch.zeros(self.num_envs, device=self.device) for k in self.metrics}

    def _resample_where(self, mask: torch.Tensor) -> None:
        lo, hi = self.cfg.resampling_time_range
        new_time = sample_uniform(lo, hi, (self.num_envs,), self.device, self.env.rng)
        self.time_left[:] = torch.where(mask, new_time, self.time_left)
        self._resample(mask)

    def _resample(self, mask: torch.Tensor) -> None:
        raise NotImplementedError

    def _update(self) -> None:
        """Per-step update of the command (default: nothing)."""


class CommandManager:
    """Holds the command terms by name."""

    def __init__(self, cfgs: dict[str, CommandTermCfg], env: TermEnv):
        self.terms: dict[str, CommandTerm] = {name: cfg.build(env) for name, cfg in cfgs.items()}

    def get_command(self, name: str) -> torch.Tensor:
        """The command of term `name`, `(num_envs, dim)`."""
        if name not in self.terms:
            raise ConfigError(f"No command term {name!r}. Commands: {', '.join(self.terms) or '(none)'}.")
        return self.terms[name].command

    def markers(self, world: int) -> list[CommandMarker]:
        """What a video draws for world `world`'s commands, every term's together."""
        return [marker for term in self.terms.values() for marker in term.markers(world)]

    def compute(self, dt: float) -> None:
        """Advance every term by one env step."""
        for term in self.terms.values():
            term.compute(dt)

    def reset(self, mask: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Resample the selected worlds' commands; returns 'Metrics/<term>/<name>' log entries."""
        log = {}
        for name, term in self.terms.items():
            log.update({f"Metrics/{name}/{k}": v for k, v in term.reset(mask).items()})
        return log
