"""A smooth end-effector trajectory, the worked example of a custom command term.

Every resample draws a new waypoint; the commanded position moves from the previous waypoint to the
new one along a minimum-jerk profile `s(t) = 10 t^3 - 15 t^4 + 6 t^5` over the resampling interval,
so the target's velocity and acceleration are continuous. The orientation is a fixed quaternion.
Writing a command term takes three things: a config with `build`, `command`, and `_resample(mask)`
(plus `_update()` for targets that move between resamples).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.managers.command_manager import CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.commands.pose_command import PoseRanges
from roboforge.utils.math import sample_uniform


@dataclass(kw_only=True)
class UniformTrajectoryCommandCfg(CommandTermCfg):
    """Minimum-jerk segments between uniformly sampled waypoints."""

    ranges: PoseRanges = field(default_factory=PoseRanges)
    """Waypoint position ranges (orientation ranges are not used)."""
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 0.0)
    """Fixed target orientation (w, x, y, z) in the root frame."""
    resampling_time_range: tuple[float, float] = (2.0, 3.0)
    """Duration of each segment (s)."""

    def build(self, env: TermEnv) -> CommandTerm:
        return UniformTrajectoryCommand(self, env)


class UniformTrajectoryCommand(CommandTerm):
    """Pose command `(num_envs, 7)` following minimum-jerk segments."""

    cfg: UniformTrajectoryCommandCfg

    def __init__(self, cfg: UniformTrajectoryCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        lo, hi = cfg.ranges.bounds()
        self.lo = torch.tensor(lo[:3], device=env.device)
        self.hi = torch.tensor(hi[:3], device=env.device)
        n = env.num_envs
        self.start = (self.lo + self.hi).expand(n, 3) / 2
        self.goal = self.start.clone()
        self.duration = torch.ones(n, device=env.device)
        self.pose_b = torch.zeros(n, 7, device=env.device)
        self.pose_b[:, :3] = self.start
        self.pose_b[:, 3:] = torch.tensor(cfg.orientation, device=env.device)

    @property
    def command(self) -> torch.Tensor:
        return self.pose_b

    def _resample(self, mask: torch.Tensor) -> None:
        m = mask[:, None]
        waypoint = sample_uniform(self.lo, self.hi, (self.num_envs, 3), self.device, self.env.rng)
        self.start[:] = torch.where(m, self.pose_b[:, :3], self.start)
        self.goal[:] = torch.where(m, waypoint, self.goal)
        self.duration[:] = torch.where(mask, self.time_left, self.duration)

    def _update(self) -> None:
        t = (1.0 - self.time_left / self.duration.clamp(min=1e-6)).clamp(0.0, 1.0)[:, None]
        s = t**3 * (10.0 - 15.0 * t + 6.0 * t**2)
        self.pose_b[:, :3] = self.start + s * (self.goal - self.start)
