"""Observation manager: groups of terms with noise, clip, scale and history, concatenated per group."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from roboforge.managers.term import TermCfg, bind_term
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError


@dataclass(kw_only=True)
class UniformNoiseCfg:
    """Additive (or multiplicative) uniform noise in [n_min, n_max]."""

    n_min: float = -0.1
    """Lower bound."""
    n_max: float = 0.1
    """Upper bound."""
    operation: str = "add"
    """'add' or 'scale'."""

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Noisy copy of `x`."""
        noise = (
            torch.rand(x.shape, device=x.device, generator=generator) * (self.n_max - self.n_min) + self.n_min
        )
        return x + noise if self.operation == "add" else x * noise


@dataclass(kw_only=True)
class GaussianNoiseCfg:
    """Additive (or multiplicative) gaussian noise N(mean, std)."""

    mean: float = 0.0
    """Mean."""
    std: float = 0.1
    """Standard deviation."""
    operation: str = "add"
    """'add' or 'scale'."""

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Noisy copy of `x`."""
        noise = torch.randn(x.shape, device=x.device, generator=generator) * self.std + self.mean
        return x + noise if self.operation == "add" else x * noise


@dataclass(kw_only=True)
class ObservationTermCfg(TermCfg):
    """An observation term: `func(env, **params) -> (num_envs, k)`, then noise -> clip -> scale -> history."""

    noise: UniformNoiseCfg | GaussianNoiseCfg | None = None
    """Noise added when the group's corruption is on."""
    clip: tuple[float, float] | None = None
    """Clip range applied after noise."""
    scale: float | None = None
    """Factor applied after clipping."""
    history_length: int = 0
    """Stack this many past values (oldest first); 0 keeps only the current one."""


@dataclass(kw_only=True)
class ObservationGroupCfg:
    """A named group of observation terms (e.g. 'policy', 'critic')."""

    terms: dict[str, ObservationTermCfg] = field(default_factory=dict)
    """Terms in output order."""
    enable_corruption: bool = False
    """Apply the terms' noise."""
    concatenate: bool = True
    """Concatenate terms into one `(num_envs, dim)` tensor (the only layout rsl_rl accepts)."""
    history_length: int | None = None
    """If set, overrides every term's history length."""


class _History:
    """Ring of the last `length` values of one term, oldest first, refilled on reset; vectors `(num_envs, k)` come
    out flattened `(num_envs, length * k)`, images `(num_envs, C, H, W)` stacked on channels."""

    def __init__(self, length: int, num_envs: int, shape: tuple[int, ...], device):
        self.buf = torch.zeros(num_envs, length, *shape, device=device)
        self.fresh = torch.ones(num_envs, dtype=torch.bool, device=device)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        self.buf[:] = torch.cat((self.buf[:, 1:], x[:, None]), dim=1)
        fresh = self.fresh.view(-1, *([1] * (self.buf.dim() - 1)))
        self.buf[:] = torch.where(fresh, x[:, None].expand_as(self.buf), self.buf)
        self.fresh.zero_()
        return self.buf.flatten(1, 2)


class ObservationManager:
    """Computes every group's observation tensor (see module docstring)."""

    def __init__(self, groups: dict[str, ObservationGroupCfg], env: TermEnv):
        self.env = env
        self.groups = groups
        terms = {
            g: {t: bind_term("observation", f"{g}.{t}", cfg, env) for t, cfg in gcfg.terms.items()}
            for g, gcfg in groups.items()
        }
        self._funcs = {g: {t: term.call for t, term in group.items()} for g, group in terms.items()}
        self._term_resets = [
            t.reset for group in terms.values() for t in group.values() if t.reset is not None
        ]
        self._history: dict[tuple[str, str], _History] = {}
        self.term_dims: dict[str, dict[str, int]] = {}
        self.group_shapes: dict[str, tuple[int, ...]] = {}
        """One world's observation shape per group: `(dim,)`, or `(channels, H, W)` for an image group."""
        for g, gcfg in groups.items():
            self.term_dims[g] = {}
            shapes = {t: tuple(self._funcs[g][t](env).shape[1:]) for t in gcfg.terms}
            for t, tcfg in gcfg.terms.items():
                length = gcfg.history_length if gcfg.history_length is not None else tcfg.history_length
                if length > 0:
                    self._history[(g, t)] = _History(length, env.num_envs, shapes[t], env.device)
                self.term_dims[g][t] = shapes[t][0] * max(length, 1)
            self.group_shapes[g] = _group_shape(g, shapes, self.term_dims[g])
        self.group_dims = {g: math.prod(shape) for g, shape in self.group_shapes.items()}

    def compute(self) -> dict[str, torch.Tensor]:
        """Observation of every group `(num_envs, group_dim)`."""
        return {g: self.compute_group(g) for g in self.groups}

    def compute_group(self, group: str) -> torch.Tensor:
        """Observation of one group, terms concatenated in order (images: on the channel dimension)."""
        gcfg = self.groups[group]
        parts = []
        for t, tcfg in gcfg.terms.items():
            x = self._funcs[group][t](self.env).float()
            if tcfg.noise is not None and gcfg.enable_corruption:
                x = tcfg.noise.apply(x, self.env.rng)
            if tcfg.clip is not None:
                x = x.clamp(*tcfg.clip)
            if tcfg.scale is not None:
                x = x * tcfg.scale
            hist = self._history.get((group, t))
            parts.append(hist.push(x) if hist is not None else x)
        return torch.cat(parts, dim=1)

    def reset(self, mask: torch.Tensor) -> None:
        """Mark the histories of the selected worlds to be refilled with their next value; reset class terms."""
        for hist in self._history.values():
            hist.fresh |= mask
        for reset in self._term_resets:
            reset(mask)


def _group_shape(group: str, shapes: dict[str, tuple[int, ...]], dims: dict[str, int]) -> tuple[int, ...]:
    """A group's shape from its terms' `(k,)` or `(C, H, W)` shapes (`dims`: channels with history); vectors and
    images do not mix, and images share height and width."""
    kinds = {len(shape) for shape in shapes.values()}
    if kinds - {1, 3} or len(kinds) > 1:
        listing = ", ".join(f"{t} {tuple(s)}" for t, s in shapes.items())
        raise ConfigError(
            f"Observation group {group!r}: terms must all give (num_envs, k) vectors or all (num_envs, C, H, W) "
            f"images; got {listing}. Put images in a group of their own."
        )
    if kinds != {3}:
        return (sum(dims.values()),)
    sizes = {shape[1:] for shape in shapes.values()}
    if len(sizes) > 1:
        raise ConfigError(f"Observation group {group!r}: images of different sizes {sorted(sizes)}.")
    return (sum(dims.values()), *sizes.pop())
