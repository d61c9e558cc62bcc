"""Asset configs of the classic tasks: the built-in Ant and Humanoid driven by torque motors.

Motor gears (N m per unit of control, controls in [-1, 1]) are those of the classic MuJoCo files
(`nv_ant.xml`: 15 on every hinge; `nv_humanoid.xml`: abdomen and shoulders 67.5, hip x/z 45, hip y 135,
knees 90, ankles 22.5, elbows 45). The motors are ideal PD groups with zero gains: the env writes torques.
"""

from __future__ import annotations

from roboforge.assets import (
    ActuatorCfg,
    ArticulationCfg,
    BuiltinSpawnCfg,
    IdealPDActuatorCfg,
    InitialStateCfg,
)
from roboforge.assets.builtin.ant import ant_spec
from roboforge.assets.builtin.humanoid import TORSO_HEIGHT, humanoid_spec

ANT_GEAR = {".*": 15.0}
HUMANOID_GEAR = {
    "abdomen_.*": 67.5,
    ".*_hip_[xz]": 45.0,
    ".*_hip_y": 135.0,
    ".*_knee": 90.0,
    ".*_ankle_.*": 22.5,
    ".*_shoulder.*": 67.5,
    ".*_elbow": 45.0,
}
ANT_NCON = 16
"""Contacts per world the ant needs at most (four feet and a torso, a few points each)."""


def _motors(gear: dict[str, float], action_scale: float) -> dict[str, ActuatorCfg]:
    limits = {pattern: value * action_scale for pattern, value in gear.items()}
    return {"motors": IdealPDActuatorCfg(joint_names_expr=[".*"], effort_limit=limits)}


def ant_robot_cfg(action_scale: float = 0.5) -> ArticulationCfg:
    """The ant standing on its tips (ankles at 1 rad, torso at 0.56 m); torques up to `action_scale x 15`."""
    return ArticulationCfg(
        spawn=BuiltinSpawnCfg(builder=ant_spec),
        init_state=InitialStateCfg(pos=(0.0, 0.0, 0.56), joint_pos={".*_hip": 0.0, ".*_ankle": 1.0}),
        actuators=_motors(ANT_GEAR, action_scale),
        self_collisions=False,
    )


def humanoid_robot_cfg(action_scale: float = 1.0) -> ArticulationCfg:
    """The humanoid standing straight, feet just above the ground; torques up to `action_scale x gear`.
    Its limbs collide with each other (the legs cannot pass through one another)."""
    return ArticulationCfg(
        spawn=BuiltinSpawnCfg(builder=humanoid_spec),
        init_state=InitialStateCfg(pos=(0.0, 0.0, TORSO_HEIGHT)),
        actuators=_motors(HUMANOID_GEAR, action_scale),
    )
