"""Command terms: end-effector poses, a smooth trajectory example, and no command."""

from roboforge.mdp.commands.null_command import NullCommandCfg
from roboforge.mdp.commands.pose_command import PoseRanges, UniformPoseCommandCfg
from roboforge.mdp.commands.trajectory_command import UniformTrajectoryCommandCfg

__all__ = ["NullCommandCfg", "PoseRanges", "UniformPoseCommandCfg", "UniformTrajectoryCommandCfg"]
