"""Per-env cache for what plain term functions derive once from their params (index tensors, bounds,
nominal model values), so nothing is rebuilt or copied from the host inside the env step."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


def cached(env: Any, key: Hashable, build: Callable[[], T]) -> T:
    """`build()` the first time `key` is asked for on `env`, the stored value afterwards."""
    store: dict[Hashable, Any] = env.__dict__.setdefault("_rf_term_cache", {})
    if key not in store:
        store[key] = build()
    return store[key]
