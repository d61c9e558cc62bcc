"""Torso state relative to a heading target, as Isaac Lab's classic locomotion tasks compute it, shared by the
direct envs (`direct_env.py`) and the manager-based terms (`mdp.py`). Plain tensor functions.

The heading frame is the torso's yaw-only frame (x along the torso's heading in the ground plane, z up).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from roboforge.utils.config import ConfigError
from roboforge.utils.math import wrap_to_pi, yaw_from_quat


class HeadingState(NamedTuple):
    """Torso state against the target; every field `(num_envs,)` or `(num_envs, 3)`."""

    lin_vel_h: torch.Tensor
    """Torso linear velocity (m/s) in the heading frame `(N, 3)`."""
    ang_vel_h: torch.Tensor
    """Torso angular velocity (rad/s) in the heading frame `(N, 3)`."""
    progress: torch.Tensor
    """Speed (m/s) towards the target in the ground plane `(N,)`."""
    angle_to_target: torch.Tensor
    """Angle (rad) from the torso's heading to the target direction, in [-pi, pi) `(N,)`."""
    heading_proj: torch.Tensor
    """Cosine of the angle between the torso's x axis and the target direction `(N,)`."""
    up_proj: torch.Tensor
    """Cosine of the torso's tilt: the world z component of its z axis `(N,)`."""


def heading_state(
    root_pos_w: torch.Tensor,
    root_quat_w: torch.Tensor,
    lin_vel_w: torch.Tensor,
    ang_vel_w: torch.Tensor,
    target_xy: torch.Tensor,
) -> HeadingState:
    """The torso's `HeadingState` for targets `target_xy (N, 2)` (world frame)."""
    w, x, y, z = root_quat_w.unbind(-1)
    yaw = yaw_from_quat(root_quat_w)
    to_target = target_xy - root_pos_w[:, :2]
    direction = to_target / to_target.norm(dim=1, keepdim=True).clamp(min=1e-6)
    axis_x = torch.stack((1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y)), dim=1)
    return HeadingState(
        lin_vel_h=rotate_yaw_inverse(lin_vel_w, yaw),
        ang_vel_h=rotate_yaw_inverse(ang_vel_w, yaw),
        progress=(lin_vel_w[:, :2] * direction).sum(1),
        angle_to_target=wrap_to_pi(torch.atan2(direction[:, 1], direction[:, 0]) - yaw),
        heading_proj=(axis_x[:, :2] * direction).sum(1),
        up_proj=1.0 - 2.0 * (x * x + y * y),
    )


def rotate_yaw_inverse(v_w: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """World vectors `(N, 3)` expressed in the frame turned by `yaw (N,)` about world z."""
    c, s = torch.cos(yaw), torch.sin(yaw)
    vx, vy, vz = v_w.unbind(-1)
    return torch.stack((c * vx + s * vy, -s * vx + c * vy, vz), dim=1)


def joint_pos_unit(joint_pos: torch.Tensor, limits: torch.Tensor) -> torch.Tensor:
    """Joint positions `(N, n)` mapped linearly from their limits `(n, 2)` to [-1, 1]."""
    lower, upper = limits[:, 0], limits[:, 1]
    return (2.0 * joint_pos - upper - lower) / (upper - lower)


def upright_bonus(up_proj: torch.Tensor, threshold: float = 0.93) -> torch.Tensor:
    """1 where the torso tilts less than acos(`threshold`) (about 22 deg by default), else 0 `(N,)`."""
    return (up_proj > threshold).float()


def heading_bonus(heading_proj: torch.Tensor, threshold: float = 0.8) -> torch.Tensor:
    """Heading alignment `(N,)`: 1 above `threshold`, `heading_proj / threshold` below it."""
    return torch.clamp(heading_proj / threshold, max=1.0)


def motor_power(actions: torch.Tensor, joint_vel: torch.Tensor, effort_ratio: torch.Tensor) -> torch.Tensor:
    """Energy cost `(N,)`: sum of |action x joint velocity| weighted by each motor's share of the largest
    gear `effort_ratio (n,)`."""
    return (actions * joint_vel).abs().mul(effort_ratio).sum(1)


def joints_at_limit(joint_pos_unit_: torch.Tensor, threshold: float = 0.98) -> torch.Tensor:
    """Number of joints `(N,)` within `1 - threshold` of a limit (positions in [-1, 1] units)."""
    return (joint_pos_unit_.abs() > threshold).float().sum(1)


def capped_progress(progress: torch.Tensor, max_speed: float | None) -> torch.Tensor:
    """Speed towards the target (m/s), at most `max_speed` (> 0) when one is given."""
    if max_speed is None:
        return progress
    if not max_speed > 0.0:  # a config value, checked on the host: no tensor is read
        raise ConfigError(
            f"max_progress_speed / max_speed {max_speed} must be > 0 (m/s), or null for no cap."
        )
    return progress.clamp(max=max_speed)
