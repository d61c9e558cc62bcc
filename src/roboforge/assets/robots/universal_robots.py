"""UR5e and UR10e asset configs, with actuator groups for position, velocity or torque control."""

from __future__ import annotations

from typing import Literal

from roboforge.assets import (
    ArticulationCfg,
    BuiltinSpawnCfg,
    IdealPDActuatorCfg,
    ImplicitActuatorCfg,
    InitialStateCfg,
)
from roboforge.assets.builtin.universal_robots import (
    JOINT_NAMES,
    UR5E,
    UR10E,
    URParams,
    ur5e_spec,
    ur10e_spec,
)

ArmDrive = Literal["position", "velocity", "torque"]

UR_DEFAULT_JOINT_POS = {
    "shoulder_pan_joint": 0.0,
    "shoulder_lift_joint": -1.5708,
    "elbow_joint": 1.5708,
    "wrist_1_joint": -1.5708,
    "wrist_2_joint": -1.5708,
    "wrist_3_joint": 0.0,
}


def _ur_cfg(params: URParams, builder, drive: ArmDrive) -> ArticulationCfg:
    effort = dict(zip(JOINT_NAMES, params.effort_limit, strict=True))
    velocity = dict(zip(JOINT_NAMES, params.velocity_limit, strict=True))
    common = {"joint_names_expr": [".*"], "effort_limit": effort, "velocity_limit": velocity, "armature": 0.1}
    if drive == "position":
        arm = ImplicitActuatorCfg(stiffness=800.0, damping=40.0, **common)
    elif drive == "velocity":
        arm = ImplicitActuatorCfg(stiffness=0.0, damping={".*wrist.*": 20.0, ".*": 150.0}, **common)
    else:
        arm = IdealPDActuatorCfg(stiffness=0.0, damping=5.0, **common)  # damping: viscous joint friction
    return ArticulationCfg(
        spawn=BuiltinSpawnCfg(builder=builder),
        init_state=InitialStateCfg(joint_pos=dict(UR_DEFAULT_JOINT_POS)),
        actuators={"arm": arm},
        gravity_compensation=True,  # as the arms' own controllers do
    )


def ur5e_cfg(drive: ArmDrive = "position") -> ArticulationCfg:
    """UR5e, gravity compensated; "position": implicit PD (kp 800, kd 40), "velocity": implicit velocity, "torque": raw torques."""
    return _ur_cfg(UR5E, ur5e_spec, drive)


def ur10e_cfg(drive: ArmDrive = "position") -> ArticulationCfg:
    """UR10e, drives as for `ur5e_cfg`."""
    return _ur_cfg(UR10E, ur10e_spec, drive)
