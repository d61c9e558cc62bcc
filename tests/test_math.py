"""Quaternion and frame helpers, checked against MuJoCo's own mju_* functions."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
import torch

from roboforge.utils.math import (
    gravity_projected_b,
    quat_apply,
    quat_apply_inverse,
    quat_conjugate,
    quat_error_angle,
    quat_from_euler_xyz,
    quat_mul,
    quat_unique,
    sample_uniform,
)


def random_quats(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, 4, generator=g, dtype=torch.float64)
    return q / q.norm(dim=-1, keepdim=True)


def random_vecs(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def mj_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, a, b)
    return out


def mj_rot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.zeros(3)
    mujoco.mju_rotVecQuat(out, v, q)
    return out


def mj_inv(q: np.ndarray) -> np.ndarray:
    out = np.zeros(4)
    mujoco.mju_negQuat(out, q)
    return out


def test_quat_mul_matches_mujoco():
    a, b = random_quats(32, seed=0), random_quats(32, seed=1)
    ours = quat_mul(a, b).numpy()
    ref = np.stack([mj_mul(x, y) for x, y in zip(a.numpy(), b.numpy(), strict=True)])
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_quat_mul_is_not_commutative_and_identity_is_neutral():
    a, b = random_quats(8, seed=2), random_quats(8, seed=3)
    assert not torch.allclose(quat_mul(a, b), quat_mul(b, a))
    identity = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64).expand(8, 4)
    torch.testing.assert_close(quat_mul(identity, a), a)
    torch.testing.assert_close(quat_mul(a, identity), a)


def test_quat_apply_matches_mujoco():
    q, v = random_quats(32, seed=4), random_vecs(32)
    ours = quat_apply(q, v).numpy()
    ref = np.stack([mj_rot(x, y) for x, y in zip(q.numpy(), v.numpy(), strict=True)])
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_quat_apply_inverse_matches_mujoco_and_undoes_quat_apply():
    q, v = random_quats(32, seed=5), random_vecs(32, seed=6)
    ours = quat_apply_inverse(q, v).numpy()
    ref = np.stack([mj_rot(mj_inv(x), y) for x, y in zip(q.numpy(), v.numpy(), strict=True)])
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    torch.testing.assert_close(quat_apply_inverse(q, quat_apply(q, v)), v)


def test_quat_conjugate_matches_mju_negquat():
    q = random_quats(16, seed=7)
    ref = np.stack([mj_inv(x) for x in q.numpy()])
    np.testing.assert_allclose(quat_conjugate(q).numpy(), ref, atol=0)


def test_quat_mul_composes_rotations_like_quat_apply():
    a, b, v = random_quats(16, seed=8), random_quats(16, seed=9), random_vecs(16, seed=10)
    torch.testing.assert_close(quat_apply(quat_mul(a, b), v), quat_apply(a, quat_apply(b, v)))


def test_quat_from_euler_xyz_is_rz_ry_rx():
    g = torch.Generator().manual_seed(11)
    euler = (torch.rand(16, 3, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
    ours = quat_from_euler_xyz(euler[:, 0], euler[:, 1], euler[:, 2]).numpy()
    for k, (roll, pitch, yaw) in enumerate(euler.numpy()):
        ref = np.zeros(4)
        mujoco.mju_euler2Quat(ref, np.array([roll, pitch, yaw]), "XYZ")  # extrinsic x, then y, then z
        np.testing.assert_allclose(ours[k], ref, atol=1e-12)
        qx, qy, qz = np.zeros(4), np.zeros(4), np.zeros(4)
        mujoco.mju_axisAngle2Quat(qx, np.array([1.0, 0, 0]), roll)
        mujoco.mju_axisAngle2Quat(qy, np.array([0, 1.0, 0]), pitch)
        mujoco.mju_axisAngle2Quat(qz, np.array([0, 0, 1.0]), yaw)
        composed = mj_mul(qz, mj_mul(qy, qx))
        np.testing.assert_allclose(ours[k], composed, atol=1e-12)


def test_quat_unique_makes_real_part_non_negative_and_keeps_rotation():
    q = random_quats(64, seed=12)
    u = quat_unique(q)
    assert (u[:, 0] >= 0).all()
    assert (q[:, 0] < 0).any(), "test data should contain quaternions with a negative real part"
    v = random_vecs(64, seed=13)
    torch.testing.assert_close(quat_apply(u, v), quat_apply(q, v))


def test_quat_error_angle():
    q = random_quats(16, seed=14)
    angles = torch.linspace(0.0, 3.0, 16, dtype=torch.float64)
    axis = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    delta = torch.cat((torch.cos(angles / 2)[:, None], torch.sin(angles / 2)[:, None] * axis), dim=1)
    rotated = quat_mul(q, delta)
    torch.testing.assert_close(quat_error_angle(q, rotated), angles, atol=1e-6, rtol=0)
    # q and -q are the same rotation
    torch.testing.assert_close(quat_error_angle(q, -rotated), angles, atol=1e-6, rtol=0)


def test_gravity_projected_b():
    identity = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(gravity_projected_b(identity), torch.tensor([[0.0, 0.0, -1.0]]))
    q = random_quats(8, seed=15)
    ref = np.stack([mj_rot(mj_inv(x), np.array([0.0, 0.0, -1.0])) for x in q.numpy()])
    np.testing.assert_allclose(gravity_projected_b(q).numpy(), ref, atol=1e-12)
    # rolled +90 deg about x: world down is the body's -y
    roll90 = torch.tensor([[math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(
        gravity_projected_b(roll90), torch.tensor([[0.0, -1.0, 0.0]], dtype=torch.float64), atol=1e-12, rtol=0
    )


def test_sample_uniform_bounds_and_generator_reproducibility():
    a = sample_uniform(-2.0, 3.0, (1000, 2), "cpu", torch.Generator().manual_seed(0))
    b = sample_uniform(-2.0, 3.0, (1000, 2), "cpu", torch.Generator().manual_seed(0))
    c = sample_uniform(-2.0, 3.0, (1000, 2), "cpu", torch.Generator().manual_seed(1))
    assert a.shape == (1000, 2)
    assert a.min() >= -2.0 and a.max() < 3.0
    assert a.min() < -1.5 and a.max() > 2.5  # spans the range
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)


def test_sample_uniform_per_column_bounds():
    low, high = torch.tensor([0.0, 10.0]), torch.tensor([1.0, 10.5])
    x = sample_uniform(low, high, (500, 2), "cpu", torch.Generator().manual_seed(0))
    assert (x[:, 0] >= 0).all() and (x[:, 0] < 1).all()
    assert (x[:, 1] >= 10).all() and (x[:, 1] < 10.5).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_quat_helpers_keep_dtype_and_batch_shape(dtype):
    q = random_quats(6).to(dtype).reshape(2, 3, 4)
    v = random_vecs(6).to(dtype).reshape(2, 3, 3)
    assert quat_apply(q, v).shape == (2, 3, 3) and quat_apply(q, v).dtype == dtype
    assert quat_mul(q, q).shape == (2, 3, 4)
    assert gravity_projected_b(q).shape == (2, 3, 3) and gravity_projected_b(q).dtype == dtype
