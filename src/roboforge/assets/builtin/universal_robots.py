"""UR5e and UR10e arms built from Universal Robots' published DH and dynamic parameters.

Standard DH: frame i = frame i-1 * Rz(q_i) Tz(d_i) Tx(a_i) Rx(alpha_i). Body `links[i]` turns with
joint i about its own z axis; the next body sits at (a_i, 0, d_i) rotated by Rx(alpha_i). Link masses
and centres of mass are the published values (CoM given in DH frame i). Inertias are those of solid
cylinders around the link segments (UR does not publish full tensors for every link). Collision and
visual geometry are capsules and cylinders; `tool0` is the flange frame (DH frame 6). As in UR's
URDF, the DH base frame is turned by pi about z relative to the robot's `base` body.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

JOINT_NAMES = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
)
LINK_NAMES = (
    "shoulder_link",
    "upper_arm_link",
    "forearm_link",
    "wrist_1_link",
    "wrist_2_link",
    "wrist_3_link",
)
PI = math.pi


@dataclass(frozen=True)
class URParams:
    """Published kinematic and dynamic parameters of one UR arm (SI units)."""

    name: str
    d: tuple[float, ...]
    a: tuple[float, ...]
    alpha: tuple[float, ...]
    mass: tuple[float, ...]
    com: tuple[tuple[float, float, float], ...]
    effort_limit: tuple[float, ...]
    velocity_limit: tuple[float, ...]
    radius: tuple[float, ...]


UR5E = URParams(
    name="ur5e",
    d=(0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996),
    a=(0.0, -0.425, -0.3922, 0.0, 0.0, 0.0),
    alpha=(PI / 2, 0.0, 0.0, PI / 2, -PI / 2, 0.0),
    mass=(3.761, 8.058, 2.846, 1.37, 1.3, 0.365),
    com=(
        (0, -0.02561, 0.00193),
        (0.2125, 0, 0.11336),
        (0.15, 0, 0.0265),
        (0, -0.0018, 0.01634),
        (0, 0.0018, 0.01634),
        (0, 0, -0.001159),
    ),
    effort_limit=(150.0, 150.0, 150.0, 28.0, 28.0, 28.0),
    velocity_limit=(PI, PI, PI, PI, PI, PI),
    radius=(0.06, 0.054, 0.045, 0.04, 0.04, 0.035),
)

UR10E = URParams(
    name="ur10e",
    d=(0.1807, 0.0, 0.0, 0.17415, 0.11985, 0.11655),
    a=(0.0, -0.6127, -0.57155, 0.0, 0.0, 0.0),
    alpha=(PI / 2, 0.0, 0.0, PI / 2, -PI / 2, 0.0),
    mass=(7.369, 13.051, 3.989, 2.1, 1.98, 0.615),
    com=(
        (0.021, -0.027, 0.0),
        (0.38, 0.0, 0.158),
        (0.24, 0.0, 0.068),
        (0.0, 0.007, 0.018),
        (0.0, 0.007, 0.018),
        (0.0, 0.0, -0.026),
    ),
    effort_limit=(330.0, 330.0, 150.0, 56.0, 56.0, 56.0),
    velocity_limit=(2.0944, 2.0944, PI, PI, PI, PI),
    radius=(0.075, 0.07, 0.06, 0.045, 0.045, 0.04),
)


def _quat_rx(angle: float) -> list[float]:
    return [math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0]


def _rx(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ur_spec(params: URParams) -> mujoco.MjSpec:
    """MjSpec of a UR arm on a fixed base: six hinge joints, capsule links, a `tool0` site."""
    spec = mujoco.MjSpec()
    spec.modelname = params.name
    spec.compiler.degree = False
    base = spec.worldbody.add_body(name="base")
    base.add_geom(
        type=mujoco.mjtGeom.mjGEOM_CYLINDER,
        size=[0.075, 0.04, 0],
        pos=[0, 0, 0.04],
        mass=2.0,
        contype=0,
        conaffinity=0,
        rgba=[0.3, 0.3, 0.35, 1],
    )
    # As in UR's URDF, the DH base frame ('base_link_inertia') is yawed by pi: the arm reaches along +x.
    dh_base = base.add_body(name="base_link_inertia", quat=[0.0, 0.0, 0.0, 1.0])
    parent, offset, rot = dh_base, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]
    for i, (joint, link) in enumerate(zip(JOINT_NAMES, LINK_NAMES, strict=True)):
        body = parent.add_body(name=link, pos=offset, quat=rot)
        limit = PI if joint == "elbow_joint" else 2 * PI
        body.add_joint(name=joint, type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1], range=[-limit, limit])
        end = np.array([params.a[i], 0.0, params.d[i]])
        com = end + _rx(params.alpha[i]) @ np.array(params.com[i])
        length, r = float(np.linalg.norm(end)), params.radius[i]
        inertia = params.mass[i] * (r * r / 2 + length * length / 12)
        body.mass, body.ipos, body.inertia = params.mass[i], com.tolist(), [inertia] * 3
        body.explicitinertial = True
        body.add_geom(
            type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[r, r, 0],
            pos=[0, 0, 0],
            mass=0,
            contype=0,
            conaffinity=0,
            rgba=[0.2, 0.45, 0.75, 1],
        )
        if length > 1e-6:
            body.add_geom(
                type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                fromto=[0, 0, 0, *end.tolist()],
                size=[r * 0.8, 0, 0],
                mass=0,
                contype=0,
                conaffinity=0,
                rgba=[0.75, 0.75, 0.78, 1],
            )
        parent, offset, rot = body, end.tolist(), _quat_rx(params.alpha[i])
    parent.add_site(name="tool0", pos=offset, quat=rot, size=[0.01, 0, 0])
    return spec


def ur5e_spec() -> mujoco.MjSpec:
    """UR5e (5 kg payload, 850 mm reach)."""
    return ur_spec(UR5E)


def ur10e_spec() -> mujoco.MjSpec:
    """UR10e (12.5 kg payload, 1300 mm reach)."""
    return ur_spec(UR10E)


def dh_forward_kinematics(params: URParams, q: np.ndarray) -> np.ndarray:
    """4x4 pose of DH frame 6 (tool0) in the `base` frame (DH base yawed by pi) for joint angles `q`."""
    pose = np.diag([-1.0, -1.0, 1.0, 1.0])
    for i in range(6):
        ct, st = math.cos(q[i]), math.sin(q[i])
        ca, sa = math.cos(params.alpha[i]), math.sin(params.alpha[i])
        pose = pose @ np.array(
            [
                [ct, -st * ca, st * sa, params.a[i] * ct],
                [st, ct * ca, -ct * sa, params.a[i] * st],
                [0, sa, ca, params.d[i]],
                [0, 0, 0, 1],
            ]
        )
    return pose
