"""Planar goals with a success metric: `UniformPose2dCommand` plus `success` (1 while the robot's root is within
`success_radius` of the goal in xy), logged per episode over the command's `metric_window_s` (the episode's
end) as `Metrics/<command>/success`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.command_manager import CommandTerm
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.commands.pose2d_command import UniformPose2dCommand, UniformPose2dCommandCfg
from roboforge.utils.config import ConfigError


@dataclass(kw_only=True)
class Pose2dGoalCommandCfg(UniformPose2dCommandCfg):
    """`UniformPose2dCommandCfg` with a `success` metric."""

    success_radius: float = 0.5
    """Distance (m, xy) to the goal that counts as reached."""
    metric_window_s: float | None = 0.5
    """Metrics are averaged over the episode's last this-many seconds (success: at the end)."""

    def build(self, env: TermEnv) -> CommandTerm:
        if not self.success_radius > 0.0:
            raise ConfigError(f"success_radius must be > 0 m, got {self.success_radius}.")
        return Pose2dGoalCommand(self, env)


class Pose2dGoalCommand(UniformPose2dCommand):
    """Uniform planar goals; metrics: xy distance, heading error and success (within `success_radius`)."""

    cfg: Pose2dGoalCommandCfg

    def __init__(self, cfg: Pose2dGoalCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.metrics["success"] = torch.zeros(env.num_envs, device=env.device)

    def _update(self) -> None:
        super()._update()
        self.metrics["success"][:] = (self.metrics["error_pos_2d"] < self.cfg.success_radius).float()
