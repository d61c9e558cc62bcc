"""Config helpers: build dataclasses from dicts with unknown keys rejected, apply dotted overrides."""

from __future__ import annotations

import dataclasses
import difflib
import keyword
import numbers
import os
import re
import types
import typing
from typing import Any, TypeVar

from roboforge.utils.errors import UserInputError

MAX_NUM_ENVS = 1 << 20
"""Most worlds of one scene (1,048,576; `SceneCfg.num_envs`, `--num-envs`): more than a GPU holds of the
smallest task, so a larger number is a typo, and one that fills the host's memory before anything can say so.
The job service allows fewer (`service.config.MAX_NUM_ENVS`)."""

T = TypeVar("T")
V = TypeVar("V")


class ConfigError(UserInputError):
    """A configuration value or key is invalid; the message names it and the allowed values."""


def closest(name: str, options: typing.Iterable[str], n: int = 3) -> list[str]:
    """Closest matches of `name` among `options` (for 'did you mean' messages)."""
    return difflib.get_close_matches(name, list(options), n=n, cutoff=0.4)


def is_number(value: object) -> typing.TypeGuard[float]:
    """A real number (int, float, numpy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def compile_regexes(patterns: str | typing.Iterable[str], what: str) -> list[re.Pattern[str]]:
    """The compiled regexes of config field `what` (one string or several); one that is not a regex is a
    ConfigError naming the field."""
    compiled = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        try:
            compiled.append(re.compile(pattern))
        except (re.error, TypeError) as err:
            raise ConfigError(
                f"{what}: {pattern!r} is not a regex ({err}); names are matched by Python regexes in full, "
                "e.g. '.*_joint' (not '*_joint')."
            ) from err
    return compiled


def regex_table(table: typing.Mapping[str, V], what: str) -> list[tuple[re.Pattern[str], V]]:
    """The entries of a {regex: value} config field as (compiled regex, value), in order (`compile_regexes`)."""
    return list(zip(compile_regexes(list(table), what), table.values(), strict=True))


def unknown_key_error(kind: str, key: str, allowed: typing.Iterable[str]) -> ConfigError:
    """A ConfigError for an unknown key, listing the allowed ones and the closest match."""
    allowed = sorted(allowed)
    hint = closest(key, allowed)
    did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
    return ConfigError(f"Unknown {kind} {key!r}.{did_you_mean} Allowed: {', '.join(allowed)}.")


AT_LEAST_1 = {"min": 1}
"""Field metadata of a count that must be positive (rollout lengths, epochs, mini-batches): a file or an
override outside a field's limits is an error naming the field (`utils/overrides.check_limits`)."""
POSITIVE = {"above": 0}
"""Field metadata of a rate or range that must be > 0 (learning rates, PPO clip ranges)."""
UNIT_INTERVAL = {"min": 0, "max": 1}
"""Field metadata of a fraction in [0, 1] (discount factors, GAE lambdas, soft-update rates)."""


def attr_name(key: str) -> str:
    """The attribute of config key `key`. A field named like a Python keyword (skrl's `class` and
    `lambda`) is declared with a trailing underscore (`lambda_`) and spelled without it in files,
    overrides and messages."""
    return f"{key}_" if keyword.iskeyword(key) else key


def key_name(attr: str) -> str:
    """The config key of attribute `attr` (`lambda_` -> `lambda`); the inverse of `attr_name`."""
    return attr[:-1] if attr.endswith("_") and keyword.iskeyword(attr[:-1]) else attr


def field_names(cfg_type: type) -> list[str]:
    """Config keys of the dataclass fields of `cfg_type` (`lambda_` is listed as `lambda`)."""
    return [key_name(f.name) for f in dataclasses.fields(cfg_type)]


def dotted_fields(
    cfg_type: type, data: dict[str, Any], prefix: str = "", known_only: bool = False
) -> dict[str, Any]:
    """`data` (nested dicts, as in a YAML or JSON file of a `cfg_type` config) as dotted keys down to the
    fields that are not configs themselves: `{"agent": {"lambda": 0.9}}` -> `{"agent.lambda": 0.9}`.
    Keys that `cfg_type` does not have are kept as they are (applying them names the allowed ones), or
    left out with `known_only` (a saved config of an older version)."""
    hints = typing.get_type_hints(cfg_type)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if known_only and attr_name(str(key)) not in hints:
            continue
        nested = _dataclass_in(hints.get(attr_name(str(key))))
        if nested is not None and isinstance(value, dict):
            out.update(dotted_fields(nested, value, f"{prefix}{key}.", known_only))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_yaml(source: Any) -> Any:
    """Parse a YAML file (a path or an importlib resource); a missing or malformed file is a ConfigError
    naming it (and the line)."""
    import yaml

    name = str(source) if isinstance(source, os.PathLike) else getattr(source, "name", str(source))
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"Cannot read the config file {source}: {err.strerror or err}.") from err
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{name}{where} is not valid YAML: {getattr(err, 'problem', err)}.") from err


def from_dict(cfg_type: type[T], data: dict[str, Any]) -> T:
    """Build dataclass `cfg_type` from `data`, recursing into nested dataclasses; unknown keys raise."""
    if not dataclasses.is_dataclass(cfg_type):
        raise TypeError(f"{cfg_type} is not a dataclass")
    hints = typing.get_type_hints(cfg_type)
    kwargs: dict[str, Any] = {}
    names = field_names(cfg_type)
    for key, value in data.items():
        if key not in names:
            raise unknown_key_error(f"field of {cfg_type.__name__}", key, names)
        nested = _dataclass_in(hints.get(attr_name(key)))
        kwargs[attr_name(key)] = from_dict(nested, value) if nested and isinstance(value, dict) else value
    return cfg_type(**kwargs)


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass type inside a type hint such as `Foo`, `Foo | None`, else None."""
    if dataclasses.is_dataclass(hint):
        return hint  # type: ignore[return-value]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg):
                return arg  # type: ignore[return-value]
    return None


def materialize(cfg: Any, path: str) -> None:
    """Create the optional config sections on the way to dotted `path` that are None (fields typed
    `SomeCfg | None`), with their defaults, so a file or an override can set their fields one by one."""
    target = cfg
    for part in path.split(".")[:-1]:
        if not dataclasses.is_dataclass(target) or isinstance(target, type):
            return
        attr = attr_name(part)
        value = getattr(target, attr, None)
        if value is None:
            nested = _dataclass_in(typing.get_type_hints(type(target)).get(attr))
            if nested is None:
                return
            value = nested()
            setattr(target, attr, value)
        target = value


def apply_overrides(cfg: Any, overrides: dict[str, Any]) -> None:
    """Set dotted-path values in place, e.g. `{"algorithm.learning_rate": 3e-4}`; unknown paths raise
    ConfigError naming the allowed keys, as does a path that runs through a value (`episode_length_s.x`)."""
    for path, value in overrides.items():
        materialize(cfg, path)
        target = cfg
        parts = path.split(".")
        for i, part in enumerate(parts):
            where = ".".join(parts[:i]) or "config"
            last = i == len(parts) - 1
            if isinstance(target, dict):
                if part not in target:
                    raise unknown_key_error(f"key in {where}", part, target)
                if last:
                    target[part] = value
                else:
                    target = target[part]
            elif dataclasses.is_dataclass(target) and not isinstance(target, type):
                allowed = field_names(type(target))
                if part not in allowed:
                    raise unknown_key_error(f"field in {where}", part, allowed)
                if last:
                    setattr(target, attr_name(part), value)
                else:
                    target = getattr(target, attr_name(part))
            else:
                raise ConfigError(
                    f"{where} is a value ({type(target).__name__}), not a config with fields; "
                    f"set {where} itself, not {path!r}."
                )


def to_dict(cfg: Any) -> Any:
    """A JSON-friendly dict of a (nested) config; callables become their qualified names."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {key_name(f.name): to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if callable(cfg):
        return f"{getattr(cfg, '__module__', '?')}.{getattr(cfg, '__qualname__', repr(cfg))}"
    if isinstance(cfg, (str, int, float, bool)) or cfg is None:
        return cfg
    return repr(cfg)
