"""Base of the numpy command twins used by the sim-to-sim check: resampling timer, per-step update and
episode metrics averaged over the episode or its last `metric_window_s` (as `roboforge eval` logs them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from roboforge.deploy.metadata import MetadataError, PolicyMetadata
from roboforge.deploy.specs import CommandSpec


class CommandSim:
    """Subclasses set `metric_names` and implement `_resample(rng)`, `_errors()` and optionally `_update()`."""

    metric_names: tuple[str, ...] = ()

    def __init__(self, name: str, resampling_time_range: tuple[float, float], metric_window_s: float | None):
        self.name = name
        self.resample_range = resampling_time_range
        self.window = metric_window_s
        self.command = np.zeros(0)
        self.time_left = 0.0
        self.sums = np.zeros(len(self.metric_names))
        self.steps = 0

    def reset(self, rng: np.random.Generator) -> None:
        """New episode: clear the metric sums and resample."""
        self.sums[:] = 0.0
        self.steps = 0
        self._resample_now(rng)

    def step(self, rng: np.random.Generator, length: int, dt: float, max_len: int) -> None:
        """After a control step (`length` steps into the episode): timer, resample, update, metrics."""
        self.time_left -= dt
        if self.time_left <= 0.0:
            self._resample_now(rng)
        self._update()
        if self.window is None or (max_len - length) * dt <= self.window + 1e-6:
            self.sums += self._errors()
            self.steps += 1

    def end(self, failed: bool) -> None:
        """The episode ended, by a failure termination if `failed` (terms that score the outcome keep it)."""

    def episode_metrics(self) -> dict[str, float]:
        """The ended episode's mean metrics (empty if no step was counted)."""
        if self.steps == 0:
            return {}
        means = self.sums / self.steps
        return {f"Metrics/{self.name}/{n}": float(v) for n, v in zip(self.metric_names, means, strict=True)}

    def _resample_now(self, rng: np.random.Generator) -> None:
        self.time_left = rng.uniform(*self.resample_range)
        self._resample(rng)

    def _resample(self, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _update(self) -> None:
        """Per-step change of the command (e.g. heading control); none by default."""

    def _errors(self) -> np.ndarray:
        raise NotImplementedError


def check_floating_base(spec: CommandSpec, meta: PolicyMetadata, robot: Any) -> None:
    """A command term about the controlled robot's free root: its asset must be that robot, with a free joint."""
    if spec.params["asset_name"] != meta.robot.asset or robot.root_d < 0:
        raise MetadataError(
            f"Command {spec.name!r} ({spec.type}) needs the controlled robot to have a floating base."
        )
