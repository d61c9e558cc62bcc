"""The default state an entity is reset to (root pose and velocity, joint values by regex)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from roboforge.utils.config import ConfigError, compile_regexes, is_number


@dataclass(kw_only=True)
class InitialStateCfg:
    """Default root pose/velocity and joint positions/velocities (joint values by regex)."""

    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Root position (m) in the env frame."""
    rot: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    """Root orientation quaternion (w, x, y, z)."""
    lin_vel: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Root linear velocity (m/s), world frame; floating bases only."""
    ang_vel: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Root angular velocity (rad/s), body frame; floating bases only."""
    joint_pos: dict[str, float] = field(default_factory=lambda: {".*": 0.0})
    """Default joint positions by regex; joints matched by no regex keep the model's qpos0."""
    joint_vel: dict[str, float] = field(default_factory=lambda: {".*": 0.0})
    """Default joint velocities by regex."""


VECTOR_FIELDS = {"pos": 3, "rot": 4, "lin_vel": 3, "ang_vel": 3}
"""The fixed-size fields of InitialStateCfg and their lengths."""


def check_init_state(init: InitialStateCfg, what: str) -> None:
    """Raise ConfigError, naming `what`'s field, unless every value is a finite number of the right count, the
    orientation is not all zeros (MuJoCo normalizes it; zeros have no direction) and the joint keys are regexes."""
    for name, size in VECTOR_FIELDS.items():
        value = getattr(init, name)
        if not isinstance(value, (tuple, list)) or len(value) != size or not all(_finite(v) for v in value):
            raise ConfigError(f"{what}.{name} must be {size} finite numbers, got {value!r:.200}.")
    if not any(init.rot):
        raise ConfigError(f"{what}.rot is all zeros; give a quaternion (w, x, y, z), e.g. (1, 0, 0, 0).")
    for name in ("joint_pos", "joint_vel"):
        values = getattr(init, name)
        if not isinstance(values, dict):
            raise ConfigError(f"{what}.{name} must be a {{regex: value}} dict, got {values!r:.200}.")
        compile_regexes(list(values), f"{what}.{name}")
        for pattern, v in values.items():
            if not _finite(v):
                raise ConfigError(f"{what}.{name}[{pattern!r}] must be a finite number, got {v!r:.200}.")


def _finite(value: object) -> bool:
    return is_number(value) and math.isfinite(value)
