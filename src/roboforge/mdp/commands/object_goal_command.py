"""Goal positions for an object, sampled in the robot's root frame; success = object within a threshold."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.command_manager import CommandTerm
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.commands.pose_command import UniformPoseCommand, UniformPoseCommandCfg
from roboforge.utils.math import quat_apply


@dataclass(kw_only=True)
class ObjectGoalCommandCfg(UniformPoseCommandCfg):
    """A pose command (root frame of `asset_name`) whose metrics measure where `object_name` is."""

    object_name: str = "cube"
    """Scene entity that must reach the goal."""
    success_threshold: float = 0.05
    """Distance (m) from the goal that counts as success."""

    def build(self, env: TermEnv) -> CommandTerm:
        return ObjectGoalCommand(self, env)


class ObjectGoalCommand(UniformPoseCommand):
    """Metrics: `position_error` (object to goal, m) and `success` (1 when within the threshold)."""

    cfg: ObjectGoalCommandCfg

    def __init__(self, cfg: ObjectGoalCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.object = env.scene[cfg.object_name]
        self.metrics = {
            "position_error": torch.zeros(env.num_envs, device=env.device),
            "success": torch.zeros(env.num_envs, device=env.device),
        }

    def _update(self) -> None:
        data = self.entity.data
        goal_w = data.root_pos_w + quat_apply(data.root_quat_w, self.pose_b[:, :3])
        error = (goal_w - self.object.data.root_pos_w).norm(dim=-1)
        self.metrics["position_error"][:] = error
        self.metrics["success"][:] = (error < self.cfg.success_threshold).float()
