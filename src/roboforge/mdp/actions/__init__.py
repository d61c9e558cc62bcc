"""Action terms."""

from roboforge.mdp.actions.joint_actions import (
    JointEffortActionCfg,
    JointPositionActionCfg,
    JointVelocityActionCfg,
)

__all__ = ["JointEffortActionCfg", "JointPositionActionCfg", "JointVelocityActionCfg"]
