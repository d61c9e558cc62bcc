"""Ant: a sphere torso on a free joint with four two-segment legs (hip about z, ankle in the leg's
vertical plane), eight hinges, no actuators (the asset config adds one motor per hinge).

Dimensions, density, friction, joint ranges, armature and damping are those of the classic MuJoCo ant
(OpenAI Gym's `ant.xml` and its Isaac Gym variant `nv_ant.xml`): torso sphere of radius 0.25 m, legs of
capsules of radius 0.08 m, a 0.28 m hip link, a 0.28 m thigh and a 0.57 m shin on the diagonals, geom
density 5 kg/m^3 (the whole ant weighs about 0.9 kg), hips +-40 deg, ankles 30-100 deg bent down.
The legs are named by quadrant with +x forward and +y left; every ankle bends its shin down for positive
angles (the classic file flips some axes instead).
"""

from __future__ import annotations

import math

import mujoco

TORSO_RADIUS = 0.25
LEG_RADIUS = 0.08
HIP_LINK = 0.2  # x and y extent (m) of the hip link and of the thigh on the diagonal
SHIN = 0.4  # x and y extent (m) of the shin on the diagonal
DENSITY = 5.0
FRICTION = (1.5, 0.1, 0.1)
HIP_RANGE = (-40.0, 40.0)  # degrees
ANKLE_RANGE = (30.0, 100.0)  # degrees, positive bends the shin down
ARMATURE = 0.01
DAMPING = 0.1
TORSO_HEIGHT = 0.75
LEGS = {"front_left": (1, 1), "back_left": (-1, 1), "back_right": (-1, -1), "front_right": (1, -1)}
"""Leg name -> signs of its (x, y) direction from the torso centre."""
LEG_RGBA = (0.97, 0.38, 0.06, 1.0)


def ant_spec() -> mujoco.MjSpec:
    """MjSpec of the ant: body 'torso' (free joint 'root'), per leg `<leg>` bodies '<leg>_thigh' and
    '<leg>_shin' with joints '<leg>_hip' and '<leg>_ankle' (joint angles in radians)."""
    spec = mujoco.MjSpec()
    spec.modelname = "ant"
    spec.compiler.degree = False
    torso = spec.worldbody.add_body(name="torso", pos=[0.0, 0.0, TORSO_HEIGHT])
    torso.add_freejoint(name="root")
    _capsule_or_sphere(torso, "torso", None, TORSO_RADIUS)
    for leg, (sx, sy) in LEGS.items():
        _add_leg(torso, leg, sx, sy)
    return spec


def _add_leg(torso: mujoco.MjsBody, leg: str, sx: int, sy: int) -> None:
    """Hip link on the torso, thigh on the hip joint (about z), shin on the ankle joint."""
    hip = [sx * HIP_LINK, sy * HIP_LINK, 0.0]
    _capsule_or_sphere(torso, f"{leg}_hip_link", [0.0, 0.0, 0.0, *hip], LEG_RADIUS)
    thigh = torso.add_body(name=f"{leg}_thigh", pos=hip)
    _hinge(thigh, f"{leg}_hip", [0.0, 0.0, 1.0], HIP_RANGE)
    _capsule_or_sphere(thigh, f"{leg}_thigh", [0.0, 0.0, 0.0, *hip], LEG_RADIUS)
    shin = thigh.add_body(name=f"{leg}_shin", pos=hip)
    # an axis horizontal and normal to the leg: positive rotation turns the shin's tip downwards
    _hinge(shin, f"{leg}_ankle", [-sy, sx, 0.0], ANKLE_RANGE)
    _capsule_or_sphere(shin, f"{leg}_shin", [0.0, 0.0, 0.0, sx * SHIN, sy * SHIN, 0.0], LEG_RADIUS)


def _hinge(body: mujoco.MjsBody, name: str, axis: list[float], range_deg: tuple[float, float]) -> None:
    body.add_joint(
        name=name,
        type=mujoco.mjtJoint.mjJNT_HINGE,
        axis=axis,
        range=[math.radians(range_deg[0]), math.radians(range_deg[1])],
        limited=mujoco.mjtLimited.mjLIMITED_TRUE,
        armature=ARMATURE,
        damping=DAMPING,
    )


def _capsule_or_sphere(body: mujoco.MjsBody, name: str, fromto: list[float] | None, radius: float) -> None:
    """A capsule from `fromto` (a sphere at the body origin when None), with the ant's density and friction."""
    geom = body.add_geom(name=name, size=[radius, 0.0, 0.0], density=DENSITY, condim=3, rgba=list(LEG_RGBA))
    geom.friction = list(FRICTION)
    if fromto is None:
        geom.type = mujoco.mjtGeom.mjGEOM_SPHERE
    else:
        geom.type = mujoco.mjtGeom.mjGEOM_CAPSULE
        geom.fromto = fromto
