"""Uniformly sampled end-effector pose commands `(num_envs, 7)`: position + quaternion in the root frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.managers.command_manager import CommandMarker, CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.math import (
    quat_apply,
    quat_error_angle,
    quat_from_euler_xyz,
    quat_mul,
    quat_unique,
    sample_uniform,
)


@dataclass(kw_only=True)
class PoseRanges:
    """Sampling ranges in the robot's root frame (m, rad)."""

    pos_x: tuple[float, float] = (0.35, 0.65)
    """x range."""
    pos_y: tuple[float, float] = (-0.2, 0.2)
    """y range."""
    pos_z: tuple[float, float] = (0.15, 0.5)
    """z range."""
    roll: tuple[float, float] = (0.0, 0.0)
    """Roll range (about fixed x)."""
    pitch: tuple[float, float] = (0.0, 0.0)
    """Pitch range (about fixed y)."""
    yaw: tuple[float, float] = (0.0, 0.0)
    """Yaw range (about fixed z)."""

    def bounds(self) -> tuple[list[float], list[float]]:
        keys = ("pos_x", "pos_y", "pos_z", "roll", "pitch", "yaw")
        return [getattr(self, k)[0] for k in keys], [getattr(self, k)[1] for k in keys]


@dataclass(kw_only=True)
class UniformPoseCommandCfg(CommandTermCfg):
    """End-effector pose targets drawn uniformly from `ranges`."""

    asset_name: str = "robot"
    """Scene entity whose end effector is commanded."""
    body_name: str
    """End-effector body or site whose error is reported in the metrics."""
    ranges: PoseRanges = field(default_factory=PoseRanges)
    """Sampling ranges."""
    make_quat_unique: bool = True
    """Give quaternions a non-negative real part."""
    resampling_time_range: tuple[float, float] = (4.0, 4.0)
    """Seconds between resamples."""

    def build(self, env: TermEnv) -> CommandTerm:
        return UniformPoseCommand(self, env)


class UniformPoseCommand(CommandTerm):
    """Samples pose targets; metrics: position error (m) and orientation error (rad) of the end effector."""

    cfg: UniformPoseCommandCfg

    def __init__(self, cfg: UniformPoseCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.entity = env.scene[cfg.asset_name]
        self.frame = self.entity.find_frame(cfg.body_name)
        lo, hi = cfg.ranges.bounds()
        self.lo = torch.tensor(lo, device=env.device)
        self.hi = torch.tensor(hi, device=env.device)
        self.pose_b = torch.zeros(env.num_envs, 7, device=env.device)
        self.pose_b[:, 3] = 1.0
        self.metrics = {
            "position_error": torch.zeros(env.num_envs, device=env.device),
            "orientation_error": torch.zeros(env.num_envs, device=env.device),
        }

    @property
    def command(self) -> torch.Tensor:
        return self.pose_b

    def _resample(self, mask: torch.Tensor) -> None:
        sample = sample_uniform(self.lo, self.hi, (self.num_envs, 6), self.device, self.env.rng)
        quat = quat_from_euler_xyz(sample[:, 3], sample[:, 4], sample[:, 5])
        if self.cfg.make_quat_unique:
            quat = quat_unique(quat)
        self.pose_b[:] = torch.where(mask[:, None], torch.cat((sample[:, :3], quat), 1), self.pose_b)

    def markers(self, world: int) -> list[CommandMarker]:
        """The target pose as a frame, the end effector as a small sphere."""
        data = self.entity.data
        root_pos, root_quat = data.root_pos_w[world], data.root_quat_w[world]
        target_pos = root_pos + quat_apply(root_quat[None], self.pose_b[world, :3][None])[0]
        target_quat = quat_mul(root_quat[None], self.pose_b[world, 3:][None])[0]
        ee_pos, _ = self.entity.frame_pose_w(self.frame)
        return [
            CommandMarker("frame", tuple(target_pos.tolist()), quat=tuple(target_quat.tolist()), size=0.02),
            CommandMarker("sphere", tuple(ee_pos[world].tolist()), size=0.012, rgba=(0.9, 0.3, 0.1, 0.9)),
        ]

    def _update(self) -> None:
        data = self.entity.data
        root_pos, root_quat = data.root_pos_w, data.root_quat_w
        ee_pos, ee_quat = self.entity.frame_pose_w(self.frame)
        target_pos = root_pos + quat_apply(root_quat, self.pose_b[:, :3])
        target_quat = quat_mul(root_quat, self.pose_b[:, 3:])
        self.metrics["position_error"][:] = (target_pos - ee_pos).norm(dim=-1)
        self.metrics["orientation_error"][:] = quat_error_angle(target_quat, ee_quat)
