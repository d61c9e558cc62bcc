"""The heading target of the manager-based classic tasks: a fixed point far along +x of each world's origin.

Its metrics are the bar of the classic tasks: `Metrics/<term>/forward_speed` (speed towards the target,
averaged over each episode) and `Metrics/<term>/fall_free` (share of ended episodes that no failure term
ended), the same names the direct envs log.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.command_manager import CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.tasks.classic.heading import HeadingState, heading_state


@dataclass(kw_only=True)
class TargetCommandCfg(CommandTermCfg):
    """A target `distance` m along +x of each world's origin (never moves)."""

    distance: float = 1000.0
    """Distance (m) of the target from the world's origin."""
    asset_name: str = "robot"
    """The entity that runs towards the target."""

    def build(self, env: TermEnv) -> CommandTerm:
        return TargetCommand(self, env)


class TargetCommand(CommandTerm):
    """Command `(num_envs, 2)`: the target's world xy position."""

    cfg: TargetCommandCfg

    def __init__(self, cfg: TargetCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.robot = env.scene[cfg.asset_name]
        self.target_xy = env.scene.env_origins[:, :2].to(env.device).clone()
        self.target_xy[:, 0] += cfg.distance
        self.metrics = {"forward_speed": torch.zeros(env.num_envs, device=env.device)}

    @property
    def command(self) -> torch.Tensor:
        return self.target_xy

    def state(self) -> HeadingState:
        """The robot's torso state against the target."""
        data = self.robot.data
        return heading_state(
            data.root_pos_w, data.root_quat_w, data.root_lin_vel_w, data.root_ang_vel_w, self.target_xy
        )

    def _resample(self, mask: torch.Tensor) -> None:
        """The target stays where it is."""

    def _update(self) -> None:
        self.metrics["forward_speed"][:] = self.state().progress

    def reset(self, mask: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The per-episode speed means, and the fall-free share of the episodes ended in `mask`."""
        fall_free = ((mask & ~self.env.termination_manager.terminated).sum().float(), mask.sum())
        return {**super().reset(mask), "fall_free": fall_free}
