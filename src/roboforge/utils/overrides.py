"""Config overrides `env.<path>=VALUE` / `agent.<path>=VALUE`: one module for the CLI, eval, play, export
and the job service.

A value is JSON (`3e-4`, `true`, `[64, 64]`, `"x"`); a bare word that is not JSON is a string. Every
value is checked against the declared type of its field (or, where a field has no declaration, such as
a term's `params`, against the kind of the value it replaces), non-finite numbers are refused, and
optional `Bound`s limit the fields that set sizes and rates (the job service uses them). A bad key or
value raises `OverrideError`, whose message names the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from roboforge.utils.config import ConfigError, apply_overrides, attr_name, is_number, materialize

SCOPES = ("env", "agent")
RESERVED = {
    "env.sim.device": "--device (the job's `device`)",
    "env.sim.backend": "--sim",
}
"""Keys that the command line (and the job service) set through their own options, checked there."""
_MISSING = object()


class OverrideError(ConfigError):
    """An override key or value is invalid; `key` is the dotted key as the user wrote it."""

    def __init__(self, key: str, message: str):
        super().__init__(f"override {key}: {message}")
        self.key = key
        self.reason = message


class SettingError(OverrideError):
    """A setting that does not fit the others, wherever its value came from (an override, an agent file,
    the task's default): named without the word 'override'; the job service reports it on `key` as an
    OverrideError."""

    def __init__(self, key: str, message: str):
        ConfigError.__init__(self, f"{key}: {message}")
        self.key = key
        self.reason = message


@dataclass(frozen=True)
class Bound:
    """Inclusive numeric limits for an override (each element, for a list of numbers)."""

    low: float
    high: float
    max_items: int | None = None
    """Longest list allowed (for list fields such as hidden_dims)."""

    def check(self, key: str, value: Any) -> None:
        """Raise OverrideError if `value` (a number or a list of numbers) is outside the limits."""
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and self.max_items is not None and len(value) > self.max_items:
            raise OverrideError(key, f"at most {self.max_items} entries are allowed, got {len(value)}.")
        for v in values:
            if is_number(v) and not self.low <= v <= self.high:
                raise OverrideError(key, f"{v!r} is outside the allowed range {self.low:g}..{self.high:g}.")


def parse_item(item: str) -> tuple[str, Any]:
    """`'env.a.b=1'` -> `('env.a.b', 1)`; the value is JSON, or a string when it is not JSON."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    scope, _, path = key.partition(".")
    if not sep or scope not in SCOPES or not path:
        raise OverrideError(item, "use env.<path>=<value> or agent.<path>=<value> (the value as JSON).")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def parse_items(items: Iterable[str] | None) -> dict[str, Any]:
    """`-o` items as one `{dotted key: value}` dict (a later item wins)."""
    return dict(parse_item(item) for item in items or [])


def split_scopes(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`{'env.a': 1, 'agent.b': 2}` -> `({'a': 1}, {'b': 2})` (paths without their scope)."""
    scoped: dict[str, dict[str, Any]] = {scope: {} for scope in SCOPES}
    for key, value in overrides.items():
        scope, _, path = key.partition(".")
        if scope not in SCOPES or not path:
            raise OverrideError(key, "keys are env.<path> or agent.<path>.")
        scoped[scope][path] = value
    return scoped["env"], scoped["agent"]


def join_scope(scope: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`('env', {'a': 1})` -> `{'env.a': 1}`."""
    return {f"{scope}.{path}": value for path, value in overrides.items()}


def apply_checked(
    cfg: Any, scope: str, overrides: Mapping[str, Any], bounds: Mapping[str, Bound] | None = None
) -> None:
    """Check each `path: value` of `scope` ('env' or 'agent') and set it on `cfg` in place."""
    for path, value in overrides.items():
        key = f"{scope}.{path}"
        materialize(cfg, path)  # an optional section set field by field exists, so its fields are typed
        check_value(cfg, key, path, value)
        bound = find_bound(key, bounds or {})
        if bound is not None:
            bound.check(key, value)
        try:
            apply_overrides(cfg, {path: value})
        except ConfigError as err:
            raise OverrideError(key, str(err)) from err


def find_bound(key: str, bounds: Mapping[str, Bound]) -> Bound | None:
    """The bound of `key`: an exact entry, else the first glob pattern (`agent.*.hidden_dims`) it matches."""
    if key in bounds:
        return bounds[key]
    return next((b for pattern, b in bounds.items() if fnmatch.fnmatchcase(key, pattern)), None)


def check_value(cfg: Any, key: str, path: str, value: Any) -> None:
    """Raise OverrideError when `value` does not fit the field at `path` of `cfg`."""
    if key in RESERVED:
        raise OverrideError(key, f"set it with {RESERVED[key]}, not as an override.")
    if not _finite(value):
        raise _not_finite(key, value)
    hint = field_hint(cfg, path)
    if hint is not _MISSING and _holds_configs(_current_value(cfg, path)):
        raise OverrideError(
            key, "it holds configs; set their fields one by one (e.g. env.rewards.NAME.weight)."
        )
    if hint is not _MISSING:
        if not _matches(hint, value):
            raise _mismatch(key, value, type_name(hint))
        check_limits(key, value, field_limits(cfg, path))
        return
    current = _current_value(cfg, path)
    if _holds_configs(current):
        raise OverrideError(
            key, "it holds configs; set their fields one by one (e.g. env.rewards.NAME.weight)."
        )
    if current is not _MISSING and current is not None and not _same_kind(current, value):
        raise _mismatch(key, value, f"{type(current).__name__} (the current value is {current!r})")


def _mismatch(key: str, value: Any, expected: str) -> OverrideError:
    """The error for a value that does not fit the field (`expected`: what does). A bare word for NaN or
    infinity (`nan`, `inf`: not JSON, so parsed as a string) is refused as the number it means."""
    if isinstance(value, str) and not _finite(_as_float(value)):
        return _not_finite(key, value)
    return OverrideError(key, f"{value!r} is not a valid {expected}.")


def _not_finite(key: str, value: Any) -> OverrideError:
    """The error for NaN or infinity anywhere in `value`."""
    return OverrideError(key, f"{value} is not a finite number; NaN and infinity are not allowed.")


def _as_float(word: str) -> float | None:
    """`word` as Python reads a float ('nan', '-inf', 'Infinity' included), or None."""
    try:
        return float(word)
    except ValueError:
        return None


def field_hint(cfg: Any, path: str) -> Any:
    """The declared type of the dataclass field at `path`, or of a term parameter (`...NAME.params.KEY`: the
    term function's annotation of KEY); a sentinel otherwise (unknown path, other dict entry, no hint)."""
    parts = path.split(".")
    if len(parts) >= 3 and parts[-2] == "params":
        hint = _param_hint(_walk(cfg, parts[:-2]), parts[-1])
        if hint is not _MISSING:
            return hint
    target = _walk(cfg, parts[:-1])
    if target is _MISSING or not dataclasses.is_dataclass(target) or isinstance(target, type):
        return _MISSING
    try:
        return typing.get_type_hints(type(target)).get(attr_name(parts[-1]), _MISSING)
    except Exception:  # unresolvable annotations: the key itself is still checked when applied
        return _MISSING


def _param_hint(term: Any, name: str) -> Any:
    """The annotation of parameter `name` of the function of a term config (`term.func`), or the sentinel."""
    func = getattr(term, "func", None)
    if not inspect.isfunction(func):  # a class term's hints are its attributes', not its parameters'
        return _MISSING
    try:
        return typing.get_type_hints(func).get(name, _MISSING)
    except (NameError, TypeError):  # unresolvable annotations (names imported for type checking only)
        return _MISSING


def field_limits(cfg: Any, path: str) -> Mapping[str, float]:
    """The limits the dataclass field at `path` declares in its metadata (`utils/config`: AT_LEAST_1,
    POSITIVE, UNIT_INTERVAL), or none."""
    target = _walk(cfg, path.split(".")[:-1])
    if not dataclasses.is_dataclass(target) or isinstance(target, type):
        return {}
    found = {f.name: f for f in dataclasses.fields(target)}.get(attr_name(path.split(".")[-1]))
    return {} if found is None else found.metadata


def check_limits(key: str, value: Any, limits: Mapping[str, float]) -> None:
    """Raise OverrideError when the number `value`, or a number of the list `value` (skrl SAC's learning rate
    per network), is outside `limits` ({min, max, above}: >= min, <= max, > above); other values (None,
    strings) are the type check's."""
    if isinstance(value, list | tuple):
        for item in value:
            check_limits(key, item, limits)
        return
    if not is_number(value):
        return
    if "min" in limits and value < limits["min"]:
        raise OverrideError(key, f"{value!r} is below the minimum {limits['min']}.")
    if "max" in limits and value > limits["max"]:
        raise OverrideError(key, f"{value!r} is above the maximum {limits['max']}.")
    if "above" in limits and value <= limits["above"]:
        raise OverrideError(key, f"{value!r} must be greater than {limits['above']}.")


def type_name(hint: Any) -> str:
    """A readable name of a type hint: 'float', 'int | None', "Literal['a', 'b']"."""
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        other = next(a for a in args if a is not type(None))
        if typing.get_origin(other) is typing.Literal:  # not "Optional[Literal[...]]"
            return f"{type_name(other)} or null"
    if typing.get_args(hint):  # list[int], int | None: the name alone would drop the arguments
        return str(hint).replace("typing.", "")
    return getattr(hint, "__name__", None) or str(hint)


def _walk(cfg: Any, parts: list[str]) -> Any:
    target = cfg
    for part in parts:
        target = (
            target.get(part, _MISSING)
            if isinstance(target, dict)
            else getattr(target, attr_name(part), _MISSING)
        )
        if target is _MISSING:
            return _MISSING
    return target


def _current_value(cfg: Any, path: str) -> Any:
    return _walk(cfg, path.split("."))


def _holds_configs(value: Any) -> bool:
    """True for a config object or a dict of them (a term table): replaced whole, it would lose its types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return True
    return isinstance(value, dict) and any(dataclasses.is_dataclass(v) for v in value.values())


def _finite(value: Any) -> bool:
    """False if a float anywhere in `value` (lists and dicts included) is NaN or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _same_kind(current: Any, value: Any) -> bool:
    """True if `value` may replace `current` in a field without a declared type."""
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if is_number(current):
        return is_number(value) and (isinstance(current, float) or isinstance(value, int))
    if isinstance(current, (list, tuple)):
        return isinstance(value, (list, tuple))
    if isinstance(current, (str, dict)):
        return isinstance(value, type(current))
    return True


def _matches(hint: Any, value: Any) -> bool:
    """True if a JSON value fits `hint` (lists stand for tuples; kinds of hints not known here accept)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(a, value) for a in args)
    if origin is typing.Literal:
        return value in args
    scalar = {bool: lambda v: isinstance(v, bool), int: lambda v: is_number(v) and isinstance(v, int),
              float: is_number, str: lambda v: isinstance(v, str)}  # fmt: skip
    if hint in scalar:
        return scalar[hint](value)
    if dataclasses.is_dataclass(hint):
        return False  # set nested fields one by one
    if origin in (list, tuple) or hint in (list, tuple):
        return _matches_sequence(origin, args, value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _matches_sequence(origin: Any, args: tuple, value: Any) -> bool:
    if not isinstance(value, (list, tuple)):  # JSON gives lists; Python callers may pass tuples
        return False
    if origin is tuple and args and args[-1] is not Ellipsis:
        return len(args) == len(value) and all(_matches(a, v) for a, v in zip(args, value, strict=True))
    return not args or all(_matches(args[0], v) for v in value)
