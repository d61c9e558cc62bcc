"""Term functions and action/command terms used by tasks."""

from roboforge.mdp.actions import JointEffortActionCfg, JointPositionActionCfg, JointVelocityActionCfg
from roboforge.mdp.events import randomize_model_field, reset_joints_by_offset, reset_root_state_uniform
from roboforge.mdp.observations import (
    base_ang_vel_b,
    base_lin_vel_b,
    generated_commands,
    joint_pos,
    joint_pos_rel,
    joint_vel,
    joint_vel_rel,
    last_action,
    projected_gravity_b,
)
from roboforge.mdp.rewards import (
    action_l2,
    action_rate_l2,
    is_alive,
    is_terminated,
    joint_pos_target_l2,
    joint_vel_l1,
    joint_vel_l2,
)
from roboforge.mdp.terminations import joint_pos_out_of_manual_limit, root_height_below, time_out

__all__ = [
    "JointEffortActionCfg",
    "JointPositionActionCfg",
    "JointVelocityActionCfg",
    "action_l2",
    "action_rate_l2",
    "base_ang_vel_b",
    "base_lin_vel_b",
    "generated_commands",
    "is_alive",
    "is_terminated",
    "joint_pos",
    "joint_pos_out_of_manual_limit",
    "joint_pos_rel",
    "joint_pos_target_l2",
    "joint_vel",
    "joint_vel_l1",
    "joint_vel_l2",
    "joint_vel_rel",
    "last_action",
    "projected_gravity_b",
    "randomize_model_field",
    "reset_joints_by_offset",
    "reset_root_state_uniform",
    "root_height_below",
    "time_out",
]
