"""Event manager: randomization and reset events in modes 'startup', 'reset' and 'interval'.

An event term is `func(env, env_mask, **params)`; it must change state only where `env_mask` is True.
A term that writes MuJoCo model fields declares them with `@writes_model_fields(...)`; the env makes
exactly those fields per world before anything is built on the simulator (`per_world_model_fields`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch

from roboforge.managers.term import TermCfg, bind_term
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError
from roboforge.utils.math import sample_uniform

EventMode = Literal["startup", "reset", "interval"]
T = TypeVar("T")


def writes_model_fields(*fields: str, from_param: str | None = None) -> Callable[[T], T]:
    """Declare the model fields (e.g. 'geom_friction') an event term, function or class, writes per world;
    `from_param` names a parameter whose value is a field name (`randomize_model_field(field=...)`)."""

    def mark(term: T) -> T:
        setattr(term, "model_fields", fields)  # noqa: B010
        setattr(term, "model_fields_param", from_param)  # noqa: B010
        return term

    return mark


def per_world_model_fields(cfgs: dict[str, EventTermCfg]) -> tuple[str, ...]:
    """The model fields the event terms declare with `writes_model_fields`, each once, in order."""
    fields: list[str] = []
    for cfg in cfgs.values():
        fields += getattr(cfg.func, "model_fields", ())
        param = getattr(cfg.func, "model_fields_param", None)
        if param is not None and param in cfg.params:
            fields.append(cfg.params[param])
    return tuple(dict.fromkeys(fields))


@dataclass(kw_only=True)
class EventTermCfg(TermCfg):
    """An event term and when it runs."""

    mode: EventMode
    """'startup' (once, all worlds), 'reset' (worlds being reset), 'interval' (per-world timer)."""
    interval_range_s: tuple[float, float] | None = None
    """For 'interval': seconds between events, drawn uniformly per world."""


class EventManager:
    """Runs event terms by mode; interval terms keep a per-world countdown."""

    def __init__(self, cfgs: dict[str, EventTermCfg], env: TermEnv):
        self.env = env
        self.cfgs = cfgs
        for name, cfg in cfgs.items():
            if cfg.mode not in ("startup", "reset", "interval"):
                raise ConfigError(
                    f"Event {name!r}: mode must be 'startup', 'reset' or 'interval', got {cfg.mode!r}."
                )
            if cfg.mode == "interval" and cfg.interval_range_s is None:
                raise ConfigError(f"Event {name!r}: interval events need interval_range_s=(min_s, max_s).")
        positional = ("env", "env_mask")
        self._funcs = {n: bind_term("event", n, c, env, positional).call for n, c in cfgs.items()}
        self._time_left = {
            n: self._draw_interval(c) for n, c in cfgs.items() if c.mode == "interval" and c.interval_range_s
        }

    def _draw_interval(self, cfg: EventTermCfg) -> torch.Tensor:
        lo, hi = cfg.interval_range_s  # type: ignore[misc]
        return sample_uniform(lo, hi, (self.env.num_envs,), self.env.device, self.env.rng)

    def apply(self, mode: EventMode, mask: torch.Tensor | None = None, dt: float = 0.0) -> None:
        """Run the terms of `mode` on `mask` (all worlds if None); 'interval' advances timers by `dt`."""
        if mask is None:
            mask = torch.ones(self.env.num_envs, dtype=torch.bool, device=self.env.device)
        for name, cfg in self.cfgs.items():
            if cfg.mode != mode:
                continue
            if mode == "interval":
                timer = self._time_left[name]
                timer -= dt
                fire = timer <= 0.0
                timer[:] = torch.where(fire, self._draw_interval(cfg), timer)
                self._funcs[name](self.env, fire)
            else:
                self._funcs[name](self.env, mask)

    def has_mode(self, mode: EventMode) -> bool:
        return any(c.mode == mode for c in self.cfgs.values())
