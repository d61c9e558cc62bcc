"""Point robot and its arena: a disc moved by slide-x, slide-y and yaw joints, and a walled square with
cylinder obstacles on mocap bodies (navigation tasks).

Nothing here collides: the navigation task checks touches analytically (robot to obstacle distance below the
sum of radii, robot to wall), from the same positions its range scan uses, and ends the episode at the first
touch, so contact physics would never act; the worlds stay contact-free.
"""

from __future__ import annotations

import mujoco

ROBOT_RGBA = (0.2, 0.5, 0.85, 1.0)
OBSTACLE_RGBA = (0.75, 0.35, 0.25, 1.0)
WALL_RGBA = (0.55, 0.55, 0.55, 1.0)


def point_robot_spec(radius: float = 0.15, height: float = 0.1, mass: float = 1.0) -> mujoco.MjSpec:
    """A disc of `radius` (m) on the ground plane, body 'base' with joints 'x', 'y' (slides along the world
    axes) and 'yaw' (hinge about z), a nose box showing its heading. No actuators: the asset config adds them."""
    spec = mujoco.MjSpec()
    spec.modelname = "point_robot"
    base = spec.worldbody.add_body(name="base", pos=[0.0, 0.0, height / 2])
    base.add_joint(name="x", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[1.0, 0.0, 0.0])
    base.add_joint(name="y", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0.0, 1.0, 0.0])
    base.add_joint(name="yaw", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0.0, 0.0, 1.0])
    base.add_geom(
        name="disc",
        type=mujoco.mjtGeom.mjGEOM_CYLINDER,
        size=[radius, height / 2, 0.0],
        mass=mass,
        contype=0,
        conaffinity=0,
        rgba=list(ROBOT_RGBA),
    )
    base.add_geom(
        name="nose",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[0.2 * radius, 0.1 * radius, 0.1 * height],
        pos=[0.8 * radius, 0.0, height / 2],
        mass=0.0,
        contype=0,
        conaffinity=0,
        rgba=[0.95, 0.95, 0.95, 1.0],
    )
    return spec


def obstacle_radii(num_obstacles: int, radius_range: tuple[float, float]) -> list[float]:
    """Radii (m) of the obstacles, evenly spread over `radius_range` (the layout shuffles where they stand)."""
    lo, hi = radius_range
    if num_obstacles == 1:
        return [(lo + hi) / 2]
    return [lo + (hi - lo) * k / (num_obstacles - 1) for k in range(num_obstacles)]


def arena_spec(
    half_size: float = 4.0,
    num_obstacles: int = 8,
    radius_range: tuple[float, float] = (0.2, 0.4),
    height: float = 0.5,
    wall_thickness: float = 0.1,
) -> mujoco.MjSpec:
    """A square of side `2 half_size` (m) centred at the origin, walled (inner faces at +-half_size), and
    `num_obstacles` cylinders on mocap bodies 'obstacle_<k>' (radii from `obstacle_radii`). The obstacles
    start parked outside the walls; the task places them per world at every reset."""
    spec = mujoco.MjSpec()
    spec.modelname = "arena"
    t, h = wall_thickness / 2, height / 2
    box = mujoco.mjtGeom.mjGEOM_BOX
    for name, pos, size in (
        ("wall_east", [half_size + t, 0.0, h], [t, half_size + 2 * t, h]),
        ("wall_west", [-half_size - t, 0.0, h], [t, half_size + 2 * t, h]),
        ("wall_north", [0.0, half_size + t, h], [half_size, t, h]),
        ("wall_south", [0.0, -half_size - t, h], [half_size, t, h]),
    ):
        spec.worldbody.add_geom(
            name=name, type=box, pos=pos, size=size, contype=0, conaffinity=0, rgba=list(WALL_RGBA)
        )
    for k, radius in enumerate(obstacle_radii(num_obstacles, radius_range)):
        body = spec.worldbody.add_body(
            name=f"obstacle_{k}", mocap=True, pos=[*parked_position(half_size, k), h]
        )
        body.add_geom(
            name=f"obstacle_{k}",
            type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[radius, h, 0.0],
            contype=0,
            conaffinity=0,
            rgba=list(OBSTACLE_RGBA),
        )
    return spec


def parked_position(half_size: float, k: int) -> tuple[float, float]:
    """Where obstacle `k` waits outside the arena (beyond its walls, out of reach of any ray from inside it
    that the walls do not stop first)."""
    return (2.0 * half_size + 1.0 * k, 2.0 * half_size)
