"""Planar goal commands `(num_envs, 4)` = (x_b, y_b, z_b, heading_b): a goal position in the robot's yaw
frame (heading only, roll/pitch ignored) and the goal heading relative to the robot's heading (rad).

`UniformPose2dCommandCfg` draws goals around each world's origin; `TerrainBasedPose2dCommandCfg` draws
them from the flat patches of the world's current sub-terrain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from roboforge.managers.command_manager import CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError
from roboforge.utils.math import quat_apply_inverse, quat_yaw_only, sample_uniform, wrap_to_pi, yaw_from_quat


@dataclass(kw_only=True)
class Pose2dRanges:
    """Sampling ranges of planar goals."""

    pos_x: tuple[float, float] = (-2.0, 2.0)
    """Goal x offset (m, world frame) from the origin (unused by terrain-based goals)."""
    pos_y: tuple[float, float] = (-2.0, 2.0)
    """Goal y offset (m, world frame) from the origin (unused by terrain-based goals)."""
    heading: tuple[float, float] = (-math.pi, math.pi)
    """Goal heading (rad, world frame) unless `simple_heading`."""


@dataclass(kw_only=True)
class UniformPose2dCommandCfg(CommandTermCfg):
    """Planar goals: the world's origin (`scene.env_origins`: zero on flat ground, the terrain patch's
    origin on a terrain) + a uniform xy offset, at the robot's default root height; and a heading."""

    asset_name: str = "robot"
    """Scene entity sent to the goal."""
    ranges: Pose2dRanges = field(default_factory=Pose2dRanges)
    """Sampling ranges."""
    simple_heading: bool = False
    """Goal heading = direction to the goal (or its opposite, whichever is closer to the current heading)."""
    resampling_time_range: tuple[float, float] = (8.0, 8.0)
    """Seconds between resamples, drawn uniformly per world."""

    def build(self, env: TermEnv) -> CommandTerm:
        return UniformPose2dCommand(self, env)


@dataclass(kw_only=True)
class TerrainBasedPose2dCommandCfg(UniformPose2dCommandCfg):
    """Planar goals on a flat patch of the world's current sub-terrain (`scene.terrain.flat_patches`)."""

    def build(self, env: TermEnv) -> CommandTerm:
        return TerrainBasedPose2dCommand(self, env)


class UniformPose2dCommand(CommandTerm):
    """Samples planar goals; metrics: xy distance to the goal (m) and heading error (rad)."""

    cfg: UniformPose2dCommandCfg

    def __init__(self, cfg: UniformPose2dCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.entity = env.scene[cfg.asset_name]
        r = cfg.ranges
        self.lo = torch.tensor([r.pos_x[0], r.pos_y[0], r.heading[0]], device=env.device)
        self.hi = torch.tensor([r.pos_x[1], r.pos_y[1], r.heading[1]], device=env.device)
        n = env.num_envs
        self.pos_command_w = torch.zeros(n, 3, device=env.device)
        self.heading_command_w = torch.zeros(n, device=env.device)
        self.pose_command_b = torch.zeros(n, 4, device=env.device)
        self.metrics = {
            "error_pos_2d": torch.zeros(n, device=env.device),
            "error_heading": torch.zeros(n, device=env.device),
        }

    @property
    def command(self) -> torch.Tensor:
        return self.pose_command_b

    def _goal_positions_w(self) -> torch.Tensor:
        """Candidate goal positions `(num_envs, 3)` for every world (the caller keeps the resampled ones)."""
        offset = sample_uniform(self.lo[:2], self.hi[:2], (self.num_envs, 2), self.device, self.env.rng)
        origins, default_z = self.env.scene.env_origins, self.entity.default_root_pos[:, 2:]
        return torch.cat((origins[:, :2] + offset, origins[:, 2:] + default_z), dim=1)

    def _resample(self, mask: torch.Tensor) -> None:
        goal_w = self._goal_positions_w()
        heading = sample_uniform(self.lo[2], self.hi[2], (self.num_envs,), self.device, self.env.rng)
        if self.cfg.simple_heading:
            data = self.entity.data
            to_goal = goal_w - data.root_pos_w
            toward = torch.atan2(to_goal[:, 1], to_goal[:, 0])
            away = wrap_to_pi(toward + math.pi)
            robot_heading = yaw_from_quat(data.root_quat_w)
            closer = wrap_to_pi(toward - robot_heading).abs() <= wrap_to_pi(away - robot_heading).abs()
            heading = torch.where(closer, toward, away)
        self.pos_command_w[:] = torch.where(mask[:, None], goal_w, self.pos_command_w)
        self.heading_command_w[:] = torch.where(mask, heading, self.heading_command_w)
        self._update()

    def _update(self) -> None:
        data = self.entity.data
        root_pos_w, root_quat_w = data.root_pos_w, data.root_quat_w
        to_goal_w = self.pos_command_w - root_pos_w
        self.pose_command_b[:, :3] = quat_apply_inverse(quat_yaw_only(root_quat_w), to_goal_w)
        heading_error = wrap_to_pi(self.heading_command_w - yaw_from_quat(root_quat_w))
        self.pose_command_b[:, 3] = heading_error
        self.metrics["error_pos_2d"][:] = torch.norm(to_goal_w[:, :2], dim=1)
        self.metrics["error_heading"][:] = heading_error.abs()


class TerrainBasedPose2dCommand(UniformPose2dCommand):
    """Goals on a random flat patch `(x, y, z)` of the world's sub-terrain, raised by the default root height."""

    def __init__(self, cfg: UniformPose2dCommandCfg, env: TermEnv):
        terrain = getattr(env.scene, "terrain", None)
        if terrain is None or not getattr(terrain, "has_height_field", False):
            raise ConfigError(
                "TerrainBasedPose2dCommandCfg needs a terrain with flat patches (scene.terrain.flat_patches); "
                "use UniformPose2dCommandCfg on flat ground."
            )
        self.terrain = terrain
        super().__init__(cfg, env)

    def _goal_positions_w(self) -> torch.Tensor:
        patches = self.terrain.flat_patches  # (num_rows, num_cols, P, 3)
        choice = torch.randint(
            0, patches.shape[2], (self.num_envs,), device=self.device, generator=self.env.rng
        )
        goal = patches[self.terrain.terrain_levels, self.terrain.terrain_types, choice]
        return goal + torch.nn.functional.pad(self.entity.default_root_pos[:, 2:], (2, 0))
