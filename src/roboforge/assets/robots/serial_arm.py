"""Asset config of a built-in serial arm (`assets/builtin/serial_arm.py`) for one drive type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco

from roboforge.assets import (
    ArticulationCfg,
    BuiltinSpawnCfg,
    IdealPDActuatorCfg,
    ImplicitActuatorCfg,
    InitialStateCfg,
)
from roboforge.assets.builtin.serial_arm import SerialArmParams
from roboforge.assets.robots.universal_robots import ArmDrive


@dataclass(frozen=True)
class ArmDriveGains:
    """Per-joint gains of an arm's drives (one value per joint, in the arm's joint order)."""

    stiffness: tuple[float, ...]
    """Position drive kp (N m/rad)."""
    damping: tuple[float, ...]
    """Position drive kd (N m s/rad)."""
    armature: tuple[float, ...]
    """Reflected rotor inertia (kg m^2), an estimate: the makers do not publish it."""
    torque_damping: float = 2.0
    """Viscous joint friction (N m s/rad) of the torque drive."""


def _by_joint(params: SerialArmParams, values: tuple[float, ...]) -> dict[str, float]:
    return dict(zip(params.joints, values, strict=True))


def serial_arm_cfg(
    params: SerialArmParams,
    builder: Callable[[], mujoco.MjSpec],
    gains: ArmDriveGains,
    joint_pos: tuple[float, ...],
    drive: ArmDrive,
) -> ArticulationCfg:
    """The arm, gravity compensated, starting at `joint_pos`. "position": implicit PD with `gains`;
    "velocity": implicit velocity drive with kv = the peak torque per rad/s; "torque": raw torques."""
    effort = _by_joint(params, params.effort_limit)
    common = {
        "joint_names_expr": [".*"],
        "effort_limit": effort,
        "velocity_limit": _by_joint(params, params.velocity_limit),
        "armature": _by_joint(params, gains.armature),
    }
    if drive == "position":
        arm = ImplicitActuatorCfg(
            stiffness=_by_joint(params, gains.stiffness), damping=_by_joint(params, gains.damping), **common
        )
    elif drive == "velocity":
        arm = ImplicitActuatorCfg(stiffness=0.0, damping=effort, **common)
    else:
        arm = IdealPDActuatorCfg(stiffness=0.0, damping=gains.torque_damping, **common)
    return ArticulationCfg(
        spawn=BuiltinSpawnCfg(builder=builder),
        init_state=InitialStateCfg(joint_pos=_by_joint(params, joint_pos)),
        actuators={"arm": arm},
        gravity_compensation=True,  # as the arms' own controllers do
    )


def effort_scale(params: SerialArmParams, fraction: float = 0.1) -> dict[str, float]:
    """Torque per unit action for effort control: `fraction` of each joint's peak torque."""
    return {name: fraction * e for name, e in zip(params.joints, params.effort_limit, strict=True)}
