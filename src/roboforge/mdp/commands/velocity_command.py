"""Base velocity commands `(num_envs, 3)` = (v_x, v_y, w_z) in the robot's base frame (m/s, rad/s)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from roboforge.managers.command_manager import CommandMarker, CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError
from roboforge.utils.math import sample_uniform, wrap_to_pi, yaw_from_quat

MARKER_HEIGHT = 0.3
"""Metres above the base where a video draws the velocity arrows."""


@dataclass(kw_only=True)
class VelocityRanges:
    """Sampling ranges of the velocity command."""

    lin_vel_x: tuple[float, float] = (-1.0, 1.0)
    """Forward velocity (m/s, base frame)."""
    lin_vel_y: tuple[float, float] = (-1.0, 1.0)
    """Sideways velocity (m/s, base frame)."""
    ang_vel_z: tuple[float, float] = (-1.0, 1.0)
    """Yaw rate (rad/s); with heading commands, also the clip range of the heading controller."""
    heading: tuple[float, float] = (-math.pi, math.pi)
    """Target heading (rad, world frame) of heading-command worlds."""


@dataclass(kw_only=True)
class UniformVelocityCommandCfg(CommandTermCfg):
    """Velocity targets drawn uniformly from `ranges`; optionally a heading target turned into a yaw rate."""

    asset_name: str = "robot"
    """Scene entity whose base velocity is commanded."""
    ranges: VelocityRanges = field(default_factory=VelocityRanges)
    """Sampling ranges."""
    heading_command: bool = False
    """Draw a target heading and command the yaw rate `stiffness * heading error` (in heading worlds)."""
    heading_control_stiffness: float = 1.0
    """Gain (1/s) from heading error (rad) to commanded yaw rate (rad/s)."""
    rel_heading_envs: float = 1.0
    """With `heading_command`: fraction of worlds (drawn at each resample) that follow a heading target."""
    rel_standing_envs: float = 0.0
    """Fraction of worlds (drawn at each resample) commanded to stand still (all-zero command)."""
    resampling_time_range: tuple[float, float] = (10.0, 10.0)
    """Seconds between resamples, drawn uniformly per world."""

    def build(self, env: TermEnv) -> CommandTerm:
        return UniformVelocityCommand(self, env)


class UniformVelocityCommand(CommandTerm):
    """Samples base velocity commands; metrics: xy speed error (m/s) and yaw-rate error (rad/s)."""

    cfg: UniformVelocityCommandCfg

    def __init__(self, cfg: UniformVelocityCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        for name in ("rel_heading_envs", "rel_standing_envs"):
            if not 0.0 <= getattr(cfg, name) <= 1.0:
                raise ConfigError(
                    f"UniformVelocityCommandCfg.{name} must be in [0, 1], got {getattr(cfg, name)}."
                )
        self.entity = env.scene[cfg.asset_name]
        r = cfg.ranges
        ranges = (r.lin_vel_x, r.lin_vel_y, r.ang_vel_z, r.heading)
        self.lo = torch.tensor([lo for lo, _ in ranges], device=env.device)
        self.hi = torch.tensor([hi for _, hi in ranges], device=env.device)
        n = env.num_envs
        self.vel_command_b = torch.zeros(n, 3, device=env.device)
        self.heading_target_w = torch.zeros(n, device=env.device)
        self.is_heading_env = torch.zeros(n, dtype=torch.bool, device=env.device)
        self.is_standing_env = torch.zeros(n, dtype=torch.bool, device=env.device)
        self.metrics = {
            "error_vel_xy": torch.zeros(n, device=env.device),
            "error_vel_yaw": torch.zeros(n, device=env.device),
        }

    @property
    def command(self) -> torch.Tensor:
        return self.vel_command_b

    def _resample(self, mask: torch.Tensor) -> None:
        sample = sample_uniform(self.lo, self.hi, (self.num_envs, 4), self.device, self.env.rng)
        draw = torch.rand((self.num_envs, 2), device=self.device, generator=self.env.rng)
        heading = (draw[:, 0] < self.cfg.rel_heading_envs) & self.cfg.heading_command
        standing = draw[:, 1] < self.cfg.rel_standing_envs
        self.is_heading_env[:] = torch.where(mask, heading, self.is_heading_env)
        self.is_standing_env[:] = torch.where(mask, standing, self.is_standing_env)
        self.heading_target_w[:] = torch.where(mask, sample[:, 3], self.heading_target_w)
        vel = torch.where(standing[:, None], 0.0, sample[:, :3])
        self.vel_command_b[:] = torch.where(mask[:, None], vel, self.vel_command_b)

    def markers(self, world: int) -> list[CommandMarker]:
        """Arrows above the base: the commanded planar velocity (green) and the base's own (blue), 1 s long."""
        data = self.entity.data
        base = data.root_pos_w[world] + torch.tensor([0.0, 0.0, MARKER_HEIGHT], device=self.device)
        yaw = yaw_from_quat(data.root_quat_w[world][None])[0]
        cos, sin = torch.cos(yaw), torch.sin(yaw)

        def planar_w(vel_b: torch.Tensor) -> torch.Tensor:
            return torch.stack(
                (cos * vel_b[0] - sin * vel_b[1], sin * vel_b[0] + cos * vel_b[1], vel_b[0] * 0)
            )

        start = tuple(base.tolist())
        commanded = tuple((base + planar_w(self.vel_command_b[world])).tolist())
        actual = tuple((base + planar_w(data.root_lin_vel_b[world])).tolist())
        return [
            CommandMarker("arrow", start, commanded, size=0.015, rgba=(0.1, 0.8, 0.2, 0.9)),
            CommandMarker("arrow", start, actual, size=0.01, rgba=(0.1, 0.3, 0.9, 0.9)),
        ]

    def _update(self) -> None:
        data = self.entity.data
        if self.cfg.heading_command:
            error = wrap_to_pi(self.heading_target_w - yaw_from_quat(data.root_quat_w))
            yaw_rate = (self.cfg.heading_control_stiffness * error).clamp(
                self.cfg.ranges.ang_vel_z[0], self.cfg.ranges.ang_vel_z[1]
            )
            self.vel_command_b[:, 2] = torch.where(self.is_heading_env, yaw_rate, self.vel_command_b[:, 2])
        self.vel_command_b.masked_fill_(self.is_standing_env[:, None], 0.0)
        lin_vel_b, ang_vel_b = data.root_lin_vel_b, data.root_ang_vel_b
        self.metrics["error_vel_xy"][:] = torch.norm(self.vel_command_b[:, :2] - lin_vel_b[:, :2], dim=1)
        self.metrics["error_vel_yaw"][:] = torch.abs(self.vel_command_b[:, 2] - ang_vel_b[:, 2])
