"""Action terms: joint space, task space (IK, OSC), grippers and planar bases."""

from roboforge.mdp.actions.gripper_actions import BinaryJointPositionActionCfg, GradedJointPositionActionCfg
from roboforge.mdp.actions.joint_actions import (
    JointEffortActionCfg,
    JointPositionActionCfg,
    JointVelocityActionCfg,
)
from roboforge.mdp.actions.planar_actions import PlanarVelocityActionCfg
from roboforge.mdp.actions.task_space_actions import DifferentialIKActionCfg, OperationalSpaceControlActionCfg

__all__ = [
    "BinaryJointPositionActionCfg",
    "DifferentialIKActionCfg",
    "GradedJointPositionActionCfg",
    "JointEffortActionCfg",
    "JointPositionActionCfg",
    "JointVelocityActionCfg",
    "OperationalSpaceControlActionCfg",
    "PlanarVelocityActionCfg",
]
