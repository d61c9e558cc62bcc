"""Franka Emika Panda from MuJoCo Menagerie, with or without the hand."""

from __future__ import annotations

from roboforge.assets import (
    ActuatorCfg,
    ArticulationCfg,
    IdealPDActuatorCfg,
    ImplicitActuatorCfg,
    InitialStateCfg,
    MenagerieSpawnCfg,
)
from roboforge.assets.robots.universal_robots import ArmDrive

PANDA_DEFAULT_JOINT_POS = {
    "joint1": 0.0,
    "joint2": -0.569,
    "joint3": 0.0,
    "joint4": -2.810,
    "joint5": 0.0,
    "joint6": 3.037,
    "joint7": 0.741,
    "finger_joint.*": 0.04,
}
PANDA_ARM_JOINTS = ["joint[1-7]"]


def panda_cfg(drive: ArmDrive = "position", hand: bool = True) -> ArticulationCfg:
    """Panda arm (joints 1-4: 87 N m, 2.175 rad/s; 5-7: 12 N m, 2.61 rad/s) and its two-finger hand."""
    effort = {"joint[1-4]": 87.0, "joint[5-7]": 12.0}
    velocity = {"joint[1-4]": 2.175, "joint[5-7]": 2.61}
    if drive == "position":
        arm = ImplicitActuatorCfg(
            joint_names_expr=PANDA_ARM_JOINTS,
            stiffness=400.0,
            damping=80.0,
            effort_limit=effort,
            velocity_limit=velocity,
        )
    elif drive == "velocity":
        arm = ImplicitActuatorCfg(
            joint_names_expr=PANDA_ARM_JOINTS,
            stiffness=0.0,
            damping=40.0,
            effort_limit=effort,
            velocity_limit=velocity,
        )
    else:
        arm = IdealPDActuatorCfg(
            joint_names_expr=PANDA_ARM_JOINTS,
            stiffness=0.0,
            damping=2.0,
            effort_limit=effort,
            velocity_limit=velocity,
        )
    actuators: dict[str, ActuatorCfg] = {"arm": arm}
    joint_pos = dict(PANDA_DEFAULT_JOINT_POS)
    if hand:
        actuators["hand"] = ImplicitActuatorCfg(
            joint_names_expr=["finger_joint.*"], stiffness=2000.0, damping=100.0, effort_limit=200.0
        )
    else:
        joint_pos.pop("finger_joint.*")
    return ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="franka_emika_panda", file="panda.xml" if hand else "panda_nohand.xml"),
        init_state=InitialStateCfg(joint_pos=joint_pos),
        actuators=actuators,
        sites={"tcp": ("hand", (0.0, 0.0, 0.1034))} if hand else {},
        gravity_compensation=True,  # as the arms' own controllers do
    )
