"""A serial arm as an MjSpec, from the joint origins of the maker's URDF (one hinge about z per link).

URDF convention: joint i sits in its parent link's frame at `origin` (xyz, then fixed-axis roll, pitch,
yaw: R = Rz(yaw) Ry(pitch) Rx(roll)) and turns the child link about its own z axis. Links are capsules
from the joint to the next joint origin (visual only: the reach tasks need no collisions). Masses and
centres of mass are the published ones; inertias are approximated as isotropic solid cylinders around
the link segment, `m (r^2 / 2 + L^2 / 12)`, because the makers' full tensors are tied to their meshes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class JointOrigin:
    """Pose of a joint frame in its parent link's frame, as a URDF `<origin xyz rpy>`."""

    xyz: Vec3
    rpy: Vec3 = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class SerialArmParams:
    """Published kinematics, limits and masses of one serial arm (SI units, radians)."""

    name: str
    base: str
    """Name of the fixed base body."""
    joints: tuple[str, ...]
    links: tuple[str, ...]
    """Child link of each joint."""
    origins: tuple[JointOrigin, ...]
    """Joint i in the frame of link i-1 (the base for joint 1)."""
    ranges: tuple[tuple[float, float] | None, ...]
    """Joint position limits; None: a continuous (unlimited) joint."""
    mass: tuple[float, ...]
    """Link masses (kg)."""
    com: tuple[Vec3, ...]
    """Link centres of mass in the link frame."""
    radius: tuple[float, ...]
    """Capsule radius of each link (m), for looks and the inertia estimate."""
    effort_limit: tuple[float, ...]
    """Peak joint torques (N m)."""
    velocity_limit: tuple[float, ...]
    """Joint speed limits (rad/s)."""
    ee: str
    """Name of the end-effector (flange) site on the last link."""
    ee_origin: JointOrigin
    """Pose of the flange site in the last link's frame."""
    base_mass: float = 2.0
    base_radius: float = 0.06


def rpy_quat(rpy: Vec3) -> list[float]:
    """Quaternion (w, x, y, z) of URDF fixed-axis roll, pitch, yaw."""
    (cr, sr), (cp, sp), (cy, sy) = ((math.cos(a / 2), math.sin(a / 2)) for a in rpy)
    return [
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    ]


def _segment(params: SerialArmParams, i: int) -> np.ndarray:
    """Vector from joint i to the next joint (or the flange) in link i's frame."""
    nxt = params.origins[i + 1] if i + 1 < len(params.joints) else params.ee_origin
    return np.array(nxt.xyz)


def _add_link(parent, params: SerialArmParams, i: int):
    origin = params.origins[i]
    body = parent.add_body(name=params.links[i], pos=list(origin.xyz), quat=rpy_quat(origin.rpy))
    joint = body.add_joint(name=params.joints[i], type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1])
    limits = params.ranges[i]
    joint.limited = mujoco.mjtLimited.mjLIMITED_FALSE if limits is None else mujoco.mjtLimited.mjLIMITED_TRUE
    if limits is not None:
        joint.range = list(limits)
    end, r = _segment(params, i), params.radius[i]
    length = float(np.linalg.norm(end))
    inertia = params.mass[i] * (r * r / 2 + length * length / 12)
    body.mass, body.ipos, body.inertia = params.mass[i], list(params.com[i]), [inertia] * 3
    body.explicitinertial = True
    visual = {"contype": 0, "conaffinity": 0, "mass": 0}
    body.add_geom(
        type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[r, r * 0.9, 0], rgba=[0.2, 0.2, 0.25, 1], **visual
    )
    if length > 1e-6:
        body.add_geom(
            type=mujoco.mjtGeom.mjGEOM_CAPSULE,
            fromto=[0, 0, 0, *end.tolist()],
            size=[r * 0.8, 0, 0],
            rgba=[0.8, 0.8, 0.82, 1],
            **visual,
        )
    return body


def serial_arm_spec(params: SerialArmParams) -> mujoco.MjSpec:
    """MjSpec of the arm on a fixed base: hinge joints with the published limits, an `ee` site."""
    spec = mujoco.MjSpec()
    spec.modelname = params.name
    spec.compiler.degree = False
    parent = spec.worldbody.add_body(name=params.base)
    height = max(params.origins[0].xyz[2], 0.02)
    parent.add_geom(
        type=mujoco.mjtGeom.mjGEOM_CYLINDER,
        size=[params.base_radius, height / 2, 0],
        pos=[0, 0, height / 2],
        mass=params.base_mass,
        contype=0,
        conaffinity=0,
        rgba=[0.3, 0.3, 0.35, 1],
    )
    for i in range(len(params.joints)):
        parent = _add_link(parent, params, i)
    parent.add_site(
        name=params.ee, pos=list(params.ee_origin.xyz), quat=rpy_quat(params.ee_origin.rpy), size=[0.01, 0, 0]
    )
    return spec
