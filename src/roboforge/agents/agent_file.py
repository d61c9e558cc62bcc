"""Agent files in a library's own format (skrl, rl_games and sb3 YAML) read into typed configs."""

from __future__ import annotations

from typing import Any, TypeVar

from roboforge.utils.config import ConfigError, dotted_fields
from roboforge.utils.overrides import OverrideError, apply_checked

T = TypeVar("T")


def agent_cfg_from_dict(cfg_type: type[T], data: Any, source: str) -> T:
    """Build `cfg_type` from the content of an agent file: every key is checked (an unknown one names
    the allowed ones) and every value against its field's declared type. `source` names the file in
    error messages. Fields the file leaves out keep their defaults."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}.")
    cfg = cfg_type()
    try:
        apply_checked(cfg, "agent", dotted_fields(cfg_type, data))
    except OverrideError as err:
        raise ConfigError(f"{source}: {err.key.removeprefix('agent.')}: {err.reason}") from err
    return cfg
