"""Simple objects written by roboforge: a cube to grasp."""

from __future__ import annotations

import mujoco


def cube_spec(half_size: float = 0.025, mass: float = 0.1, rgba=(0.85, 0.25, 0.2, 1.0)) -> mujoco.MjSpec:
    """A free cube named 'cube' (friction 1.0, as a wooden block on rubber fingertips)."""
    spec = mujoco.MjSpec()
    body = spec.worldbody.add_body(name="cube")
    body.add_freejoint()
    body.add_geom(
        name="cube",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[half_size] * 3,
        mass=mass,
        friction=[1.0, 0.005, 0.0001],
        rgba=list(rgba),
    )
    return spec
