"""Humanoid: the classic 21-hinge MuJoCo humanoid of capsules (abdomen 3, per leg hip 3, knee, ankle 2,
per arm shoulder 2, elbow), a free joint at the torso, no actuators (the asset config adds motors).

Geometry, joint axes and ranges, joint stiffness/damping/armature and contact parameters are those of the
classic model: DeepMind Control's `humanoid.xml` with the ankles of Isaac Gym's `nv_humanoid.xml`
(torso 1.5 m up, 0.403 m thighs, 0.39 m shins, geoms of water density, about 40 kg in all). Joints with
passive springs (`stiffness`) pull towards 0 rad, the standing pose.
"""

from __future__ import annotations

import math

import mujoco

TORSO_HEIGHT = 1.29
"""Torso height (m) with the feet 5 mm above the ground (the classic file places it at 1.5 m and lets it drop)."""

# joint classes of the classic model: damping (N m s/rad), stiffness (N m/rad), armature (kg m^2)
JOINT_CLASSES = {
    "default": (0.1, 5.0, 0.007),
    "small": (1.0, 2.0, 0.006),
    "big": (5.0, 10.0, 0.01),
    "bigger_stiff": (5.0, 20.0, 0.01),
    "big_stiff": (5.0, 20.0, 0.02),
}
GEOM = {"condim": 1, "friction": (1.0, 0.05, 0.05), "solimp": (0.9, 0.99, 0.003), "solref": (0.015, 1.0)}
RGBA = (0.8, 0.6, 0.4, 1.0)


def humanoid_spec() -> mujoco.MjSpec:
    """MjSpec of the humanoid; body 'torso' carries the free joint 'root'. Joint names: abdomen_{z,y,x},
    {right,left}_hip_{x,z,y}, {right,left}_knee, {right,left}_ankle_{y,x}, {right,left}_shoulder{1,2},
    {right,left}_elbow (angles in radians)."""
    spec = mujoco.MjSpec()
    spec.modelname = "humanoid"
    spec.compiler.degree = False
    torso = spec.worldbody.add_body(name="torso", pos=[0.0, 0.0, TORSO_HEIGHT])
    torso.add_freejoint(name="root")
    _capsule(torso, "torso", [0, -0.07, 0, 0, 0.07, 0], 0.07)
    _capsule(torso, "upper_waist", [-0.01, -0.06, -0.12, -0.01, 0.06, -0.12], 0.06)
    head = torso.add_body(name="head", pos=[0, 0, 0.19])
    _sphere(head, "head", 0.09)
    tilt = [1.0, 0.0, -0.002, 0.0]
    lower_waist = torso.add_body(name="lower_waist", pos=[-0.01, 0, -0.26], quat=tilt)
    _capsule(lower_waist, "lower_waist", [0, -0.06, 0, 0, 0.06, 0], 0.06)
    _hinge(lower_waist, "abdomen_z", [0, 0, 1], (-45, 45), "big_stiff", pos=[0, 0, 0.065])
    _hinge(lower_waist, "abdomen_y", [0, 1, 0], (-75, 30), "bigger_stiff", pos=[0, 0, 0.065])
    pelvis = lower_waist.add_body(name="pelvis", pos=[0, 0, -0.165], quat=tilt)
    _hinge(pelvis, "abdomen_x", [1, 0, 0], (-35, 35), "big", pos=[0, 0, 0.1])
    _capsule(pelvis, "butt", [-0.02, -0.07, 0, -0.02, 0.07, 0], 0.09)
    for side, s in (("right", -1), ("left", 1)):
        _add_leg(pelvis, side, s)
        _add_arm(torso, side, s)
    return spec


def _add_leg(pelvis: mujoco.MjsBody, side: str, s: int) -> None:
    """Thigh (hip x, z, y), shin (knee), foot (ankle y, x) of the `side` leg (s = +1 left, -1 right)."""
    thigh = pelvis.add_body(name=f"{side}_thigh", pos=[0, 0.1 * s, -0.04])
    # the left hip's x and z axes are mirrored, so the same angle moves both legs outwards/inwards alike
    _hinge(thigh, f"{side}_hip_x", [-s, 0, 0], (-45, 15), "big")
    _hinge(thigh, f"{side}_hip_z", [0, 0, -s], (-60, 35), "big")
    _hinge(thigh, f"{side}_hip_y", [0, 1, 0], (-120, 45), "bigger_stiff")
    _capsule(thigh, f"{side}_thigh", [0, 0, 0, 0, 0.01 * -s, -0.34], 0.06)
    shin = thigh.add_body(name=f"{side}_shin", pos=[0, 0.01 * -s, -0.403])
    _hinge(shin, f"{side}_knee", [0, -1, 0], (-160, 2), "default", pos=[0, 0, 0.02])
    _capsule(shin, f"{side}_shin", [0, 0, 0, 0, 0, -0.3], 0.049)
    foot = shin.add_body(name=f"{side}_foot", pos=[0, 0, -0.39])
    _hinge(foot, f"{side}_ankle_y", [0, 1, 0], (-50, 50), "small", pos=[0, 0, 0.08])
    _hinge(foot, f"{side}_ankle_x", [1, 0, 0.5], (-50, 50), "small", pos=[0, 0, 0.08])
    _capsule(foot, f"{side}_foot_outer", [-0.07, 0.02 * s, 0, 0.14, 0.04 * s, 0], 0.027)
    _capsule(foot, f"{side}_foot_inner", [-0.07, 0, 0, 0.14, -0.02 * s, 0], 0.027)


def _add_arm(torso: mujoco.MjsBody, side: str, s: int) -> None:
    """Upper arm (shoulder 1, 2), lower arm (elbow) and hand of the `side` arm (s = +1 left, -1 right)."""
    upper = torso.add_body(name=f"{side}_upper_arm", pos=[0, 0.17 * s, 0.06])
    _hinge(upper, f"{side}_shoulder1", [-2 * s, 1, -s], (-90, 70), "big")
    _hinge(upper, f"{side}_shoulder2", [0, -1, -s], (-90, 70), "big")
    _capsule(upper, f"{side}_upper_arm", [0, 0, 0, 0.16, 0.16 * s, -0.16], 0.04)
    lower = upper.add_body(name=f"{side}_lower_arm", pos=[0.18, 0.18 * s, -0.18])
    _hinge(lower, f"{side}_elbow", [0, -1, -s], (-90, 50), "small")
    _capsule(lower, f"{side}_lower_arm", [0.01, -0.01 * s, 0.01, 0.17, -0.17 * s, 0.17], 0.031)
    hand = lower.add_body(name=f"{side}_hand", pos=[0.18, -0.18 * s, 0.18])
    _sphere(hand, f"{side}_hand", 0.04)


def _hinge(
    body: mujoco.MjsBody,
    name: str,
    axis: list[float],
    range_deg: tuple[float, float],
    kind: str,
    pos: list[float] | None = None,
) -> None:
    damping, stiffness, armature = JOINT_CLASSES[kind]
    norm = math.sqrt(sum(a * a for a in axis))
    body.add_joint(
        name=name,
        type=mujoco.mjtJoint.mjJNT_HINGE,
        pos=pos or [0.0, 0.0, 0.0],
        axis=[a / norm for a in axis],
        range=[math.radians(range_deg[0]), math.radians(range_deg[1])],
        limited=mujoco.mjtLimited.mjLIMITED_TRUE,
        damping=damping,
        stiffness=stiffness,
        armature=armature,
        solimp_limit=[0.0, 0.99, 0.01, 0.5, 2.0],
    )


def _capsule(body: mujoco.MjsBody, name: str, fromto: list[float], radius: float) -> None:
    geom = _geom(body, name, radius)
    geom.type = mujoco.mjtGeom.mjGEOM_CAPSULE
    geom.fromto = [float(v) for v in fromto]


def _sphere(body: mujoco.MjsBody, name: str, radius: float) -> None:
    _geom(body, name, radius).type = mujoco.mjtGeom.mjGEOM_SPHERE


def _geom(body: mujoco.MjsBody, name: str, radius: float) -> mujoco.MjsGeom:
    geom = body.add_geom(name=name, size=[radius, 0.0, 0.0], condim=GEOM["condim"], rgba=list(RGBA))
    geom.friction = list(GEOM["friction"])
    geom.solimp = [*GEOM["solimp"], 0.5, 2.0]
    geom.solref = list(GEOM["solref"])
    return geom
