"""The default state an entity is reset to (root pose and velocity, joint values by regex)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
