"""Term configs, the base of class terms, and the check that binds a term's `params` at build time."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError, unknown_key_error


@dataclass(kw_only=True)
class TermCfg:
    """A term: a plain function `(env, ...) -> Tensor` or a `ManagerTermBase` class, with its keyword parameters."""

    func: Callable[..., Any]
    """Term function, or a `ManagerTermBase` subclass built once as `cls(cfg, env)` and called like the function."""
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword parameters passed to `func` on every call."""


class ManagerTermBase:
    """Base of class terms: terms that resolve names, indices, bounds or nominal values once, or keep state.

    The manager builds the class once, `term = cls(cfg, env)` (resolve everything there; `self.params` is
    `cfg.params` with the defaults of `__call__` filled in), then calls `term(env, **params)` every step
    (event and curriculum terms: `term(env, env_mask, **params)`), so `params` are checked against
    `__call__` like a function's. Terms with per-episode state override `reset(env_mask)`.
    """

    def __init__(self, cfg: TermCfg, env: TermEnv):
        self.cfg = cfg
        self.params: dict[str, Any] = {**_defaults(type(self).__call__), **cfg.params}

    def __call__(self, env: TermEnv, *args: Any, **params: Any) -> Any:
        """The term's value (or an event's effect), like the function form; `params` as in `cfg.params`."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(env, ...).")

    def reset(self, env_mask: torch.Tensor) -> None:
        """Clear per-episode state in the worlds selected by `env_mask` (default: no state)."""


@dataclass(frozen=True)
class BoundTerm:
    """A built term: `call(env[, env_mask])` runs it with its params; `reset(env_mask)` is a class term's
    own `reset` (None for functions and class terms without per-episode state)."""

    call: Callable[..., Any]
    reset: Callable[[torch.Tensor], None] | None


def bind_term(
    kind: str, name: str, cfg: TermCfg, env: TermEnv, positional: tuple[str, ...] = ("env",)
) -> BoundTerm:
    """Check `cfg.params` against the term's signature, build a class term once, bind the params.

    Unknown or missing parameters raise a ConfigError naming the term and the allowed parameters.
    """
    func = cfg.func
    if not callable(func):
        raise ConfigError(f"{kind} term {name!r}: func must be callable, got {func!r}.")
    if not inspect.isclass(func):
        check_params(kind, name, func, cfg.params, positional)
        return BoundTerm(functools.partial(func, **cfg.params), None)
    if not issubclass(func, ManagerTermBase):
        raise ConfigError(
            f"{kind} term {name!r}: class {func.__qualname__} must subclass roboforge.managers.ManagerTermBase "
            "(built once as cls(cfg, env), then called as term(env, ...))."
        )
    check_params(kind, name, func.__call__, cfg.params, ("self", *positional))
    term = func(cfg, env)
    stateful = type(term).reset is not ManagerTermBase.reset
    return BoundTerm(functools.partial(term, **cfg.params), term.reset if stateful else None)


def term_signature(func: Callable) -> inspect.Signature:
    """The signature a term's `params` are checked against: a function's, a `ManagerTermBase` class's `__call__`."""
    if inspect.isclass(func) and issubclass(func, ManagerTermBase):
        return inspect.signature(func.__call__)
    return inspect.signature(func)


def params_with_defaults(func: Callable, params: dict[str, Any]) -> dict[str, Any]:
    """A term's parameters as it runs with them: the function's keyword defaults (not `env`), then `params`."""
    defaults = {
        name: p.default
        for name, p in term_signature(func).parameters.items()
        if p.default is not p.empty and name != "env"
    }
    return {**defaults, **params}


def check_params(
    kind: str, name: str, func: Callable, params: dict[str, Any], positional: tuple[str, ...]
) -> None:
    """Raise if `params` has keys `func` does not take, or misses ones it requires."""
    sig = inspect.signature(func)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    allowed = [p for p in sig.parameters if p not in positional]
    for key in params:
        if key not in allowed:
            raise unknown_key_error(f"parameter of {kind} term {name!r} ({_qualname(func)})", key, allowed)
    missing = [
        p.name
        for p in sig.parameters.values()
        if p.name not in positional
        and p.name not in params
        and p.default is p.empty
        and p.kind is not p.VAR_POSITIONAL
    ]
    if missing:
        raise ConfigError(
            f"{kind} term {name!r} ({_qualname(func)}) is missing parameters: {', '.join(missing)}."
        )


def _defaults(func: Callable) -> dict[str, Any]:
    """Default values of `func`'s parameters."""
    return {n: p.default for n, p in inspect.signature(func).parameters.items() if p.default is not p.empty}


def _qualname(func: Callable) -> str:
    return getattr(func, "__qualname__", repr(func)).removesuffix(".__call__")
