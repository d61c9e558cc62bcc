"""Quaternion and frame math on torch tensors. Quaternions are (w, x, y, z) like MuJoCo."""

from __future__ import annotations

import torch


def quat_conjugate(q: torch.Tensor) -> torch.Tensor:
    """Conjugate of quaternions `(..., 4)`."""
    return torch.cat((q[..., :1], -q[..., 1:]), dim=-1)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product `a * b` of quaternions `(..., 4)`."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def quat_apply(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors `v (..., 3)` by unit quaternions `q (..., 4)`."""
    w, xyz = q[..., :1], q[..., 1:]
    t = 2.0 * torch.cross(xyz, v, dim=-1)
    return v + w * t + torch.cross(xyz, t, dim=-1)


def quat_apply_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors `v (..., 3)` by the inverse of unit quaternions `q (..., 4)` (world -> body)."""
    return quat_apply(quat_conjugate(q), v)


def quat_from_euler_xyz(roll: torch.Tensor, pitch: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """Quaternion `(..., 4)` from roll, pitch, yaw about the fixed x, y, z axes: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr = torch.cos(roll * 0.5), torch.sin(roll * 0.5)
    cp, sp = torch.cos(pitch * 0.5), torch.sin(pitch * 0.5)
    cy, sy = torch.cos(yaw * 0.5), torch.sin(yaw * 0.5)
    return torch.stack(
        (
            cr * cp * cy + sr * sp * sy,
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
        ),
        dim=-1,
    )


def quat_unique(q: torch.Tensor) -> torch.Tensor:
    """Quaternions with a non-negative real part (q and -q are the same rotation)."""
    return torch.where(q[..., :1] < 0, -q, q)


def quat_error_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Rotation angle (rad) between unit quaternions `a` and `b`, shape `(...)`."""
    dot = (a * b).sum(-1).abs().clamp(max=1.0)
    return 2.0 * torch.acos(dot)


def gravity_projected_b(quat_w: torch.Tensor) -> torch.Tensor:
    """World gravity direction (0, 0, -1) expressed in the body frame, `(..., 3)`."""
    down = torch.zeros((*quat_w.shape[:-1], 3), dtype=quat_w.dtype, device=quat_w.device)
    down[..., 2] = -1.0
    return quat_apply_inverse(quat_w, down)


def sample_uniform(
    low: float | torch.Tensor,
    high: float | torch.Tensor,
    shape: tuple[int, ...],
    device: torch.device | str,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Uniform samples in `[low, high)` with the given shape, from an optional generator."""
    u = torch.rand(shape, device=device, generator=generator)
    return low + (high - low) * u


def quat_from_axis_angle(rotvec: torch.Tensor) -> torch.Tensor:
    """Quaternion `(..., 4)` of the rotation vector `(..., 3)` (axis times angle in rad)."""
    angle = rotvec.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    scale = torch.where(angle > 1e-9, torch.sin(half) / angle.clamp(min=1e-9), 0.5 - angle**2 / 48.0)
    return torch.cat((torch.cos(half), rotvec * scale), dim=-1)


def axis_angle_from_quat(q: torch.Tensor) -> torch.Tensor:
    """Rotation vector `(..., 3)` of unit quaternions `(..., 4)`, angle in [0, pi]."""
    q = quat_unique(q)
    sin_half = q[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, q[..., :1])
    scale = torch.where(sin_half > 1e-9, angle / sin_half.clamp(min=1e-9), 2.0 / q[..., :1].clamp(min=1e-9))
    return q[..., 1:] * scale


def quat_error_rotvec(target: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Rotation vector `(..., 3)` that turns `current` into `target` (world frame): log(target * current^-1)."""
    return axis_angle_from_quat(quat_mul(target, quat_conjugate(current)))


def wrap_to_pi(angle: torch.Tensor) -> torch.Tensor:
    """Angles wrapped to [-pi, pi)."""
    return torch.remainder(angle + torch.pi, 2.0 * torch.pi) - torch.pi


def yaw_from_quat(q: torch.Tensor) -> torch.Tensor:
    """Heading (rad) of quaternions `(..., 4)`: the angle of the rotated x axis in the world xy plane."""
    w, x, y, z = q.unbind(-1)
    return torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def quat_yaw_only(q: torch.Tensor) -> torch.Tensor:
    """The pure rotation about world z `(..., 4)` with the same heading as `q` (roll and pitch removed)."""
    half = 0.5 * yaw_from_quat(q)
    zero = torch.zeros_like(half)
    return torch.stack((torch.cos(half), zero, zero, torch.sin(half)), dim=-1)
