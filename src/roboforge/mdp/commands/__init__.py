"""Command terms: end-effector poses, a smooth trajectory example, and no command."""

from roboforge.mdp.commands.null_command import NullCommandCfg
from roboforge.mdp.commands.object_goal_command import ObjectGoalCommandCfg
from roboforge.mdp.commands.pose_command import PoseRanges, UniformPoseCommandCfg
from roboforge.mdp.commands.trajectory_command import UniformTrajectoryCommandCfg

__all__ = [
    "NullCommandCfg",
    "ObjectGoalCommandCfg",
    "PoseRanges",
    "UniformPoseCommandCfg",
    "UniformTrajectoryCommandCfg",
]
