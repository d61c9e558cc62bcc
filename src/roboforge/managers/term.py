"""Term configs and the check that binds a term's `params` to its function signature at build time."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roboforge.utils.config import ConfigError, unknown_key_error


@dataclass(kw_only=True)
class TermCfg:
    """A term: a plain function `(env, ...) -> Tensor` or a small class, with its keyword parameters."""

    func: Callable[..., Any]
    """Term function, or a class built as `cls(env, **params)` and then called like the function."""
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword parameters passed to `func` on every call."""


def bind_term(
    kind: str, name: str, cfg: TermCfg, env: Any, positional: tuple[str, ...] = ("env",)
) -> Callable:
    """Check `cfg.params` against `cfg.func` and return a callable taking only the positional args.

    Unknown or missing parameters raise a ConfigError naming the term and the allowed parameters.
    A class term is instantiated with `(env, **params)` and its instance is called with the positionals.
    """
    if not callable(cfg.func):
        raise ConfigError(f"{kind} term {name!r}: func must be callable, got {cfg.func!r}.")
    if inspect.isclass(cfg.func):
        check_params(kind, name, cfg.func.__init__, cfg.params, ("self", "env"))
        return cfg.func(env, **cfg.params)  # type: ignore[call-arg,return-value]
    check_params(kind, name, cfg.func, cfg.params, positional)
    params = dict(cfg.params)
    func = cfg.func
    return lambda *args: func(*args, **params)


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


def _qualname(func: Callable) -> str:
    return getattr(func, "__qualname__", repr(func))
