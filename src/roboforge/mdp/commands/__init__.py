"""Command terms: end-effector poses, object goals and stacking, base velocities and planar goals
(locomotion), navigation goals among obstacles, a smooth trajectory example, and no command."""

from roboforge.mdp.commands.navigation_command import NavigationCommandCfg
from roboforge.mdp.commands.null_command import NullCommandCfg
from roboforge.mdp.commands.object_goal_command import ObjectGoalCommandCfg
from roboforge.mdp.commands.pose2d_command import (
    Pose2dRanges,
    TerrainBasedPose2dCommandCfg,
    UniformPose2dCommandCfg,
)
from roboforge.mdp.commands.pose_command import PoseRanges, UniformPoseCommandCfg
from roboforge.mdp.commands.stack_command import ObjectStackCommandCfg
from roboforge.mdp.commands.trajectory_command import UniformTrajectoryCommandCfg
from roboforge.mdp.commands.velocity_command import UniformVelocityCommandCfg, VelocityRanges

__all__ = [
    "NavigationCommandCfg",
    "NullCommandCfg",
    "ObjectGoalCommandCfg",
    "ObjectStackCommandCfg",
    "Pose2dRanges",
    "PoseRanges",
    "TerrainBasedPose2dCommandCfg",
    "UniformPose2dCommandCfg",
    "UniformPoseCommandCfg",
    "UniformTrajectoryCommandCfg",
    "UniformVelocityCommandCfg",
    "VelocityRanges",
]
