"""Quaternion helpers in numpy (w, x, y, z), matching roboforge.utils.math."""

from __future__ import annotations

import math

import numpy as np


def _rotate(w: float, x: float, y: float, z: float, v: np.ndarray) -> np.ndarray:
    """v + w t + u x t with t = 2 u x v, u = (x, y, z); scalar arithmetic (np.cross is slow for 3-vectors)."""
    vx, vy, vz = float(v[0]), float(v[1]), float(v[2])
    tx, ty, tz = 2.0 * (y * vz - z * vy), 2.0 * (z * vx - x * vz), 2.0 * (x * vy - y * vx)
    return np.array(
        (
            vx + w * tx + (y * tz - z * ty),
            vy + w * ty + (z * tx - x * tz),
            vz + w * tz + (x * ty - y * tx),
        )
    )


def quat_apply_inverse(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate `v (3,)` by the inverse of the unit quaternion `q (4,)` (world -> body)."""
    return _rotate(float(q[0]), -float(q[1]), -float(q[2]), -float(q[3]), v)


def quat_apply(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate `v (3,)` by the unit quaternion `q (4,)` (body -> world)."""
    return _rotate(float(q[0]), float(q[1]), float(q[2]), float(q[3]), v)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product `a * b`."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


def quat_from_euler_xyz(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Quaternion of R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr = np.cos(roll * 0.5), np.sin(roll * 0.5)
    cp, sp = np.cos(pitch * 0.5), np.sin(pitch * 0.5)
    cy, sy = np.cos(yaw * 0.5), np.sin(yaw * 0.5)
    return np.array(
        [
            cr * cp * cy + sr * sp * sy,
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
        ]
    )


GRAVITY_DIR_W = np.array([0.0, 0.0, -1.0])


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """Inverse rotation of a unit quaternion."""
    return np.array([q[0], -q[1], -q[2], -q[3]])


def quat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """Quaternion of a rotation vector (axis times angle), as `utils.math.quat_from_axis_angle`."""
    angle = float(np.linalg.norm(rotvec))
    half = 0.5 * angle
    scale = np.sin(half) / angle if angle > 1e-9 else 0.5 - angle**2 / 48.0
    return np.array([np.cos(half), *(rotvec * scale)])


def quat_error_rotvec(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Rotation vector (world frame) turning `current` into `target`: log(target * current^-1), angle in [0, pi]."""
    q = quat_mul(target, quat_conjugate(current))
    q = -q if q[0] < 0 else q
    sin_half = float(np.linalg.norm(q[1:]))
    angle = 2.0 * np.arctan2(sin_half, q[0])
    scale = angle / sin_half if sin_half > 1e-9 else 2.0 / max(float(q[0]), 1e-9)
    return q[1:] * scale


def yaw_of(quat_w: np.ndarray) -> float:
    """Heading (rad) of the orientation (w, x, y, z): the angle of its x axis in the world xy plane."""
    w, x, y, z = (float(v) for v in quat_w)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
