"""The point robot and its arena: asset configs of the navigation task."""

from __future__ import annotations

from functools import partial

from roboforge.assets import ArticulationCfg, BuiltinSpawnCfg, ImplicitActuatorCfg, RigidObjectCfg
from roboforge.assets.builtin.point_robot import arena_spec, point_robot_spec

ROBOT_RADIUS = 0.15  # m
MAX_LIN_SPEED = 1.0  # m/s, in any direction
MAX_ANG_SPEED = 2.0  # rad/s


def point_robot_cfg() -> ArticulationCfg:
    """A 1 kg disc of radius 0.15 m driven in velocity: MuJoCo velocity actuators (implicit, zero stiffness)
    on the x and y slides (20 N s/m: 50 ms to reach a new speed) and the yaw hinge, their targets capped at
    1 m/s and 2 rad/s. `mdp.PlanarVelocityActionCfg` sets the targets from body-frame commands."""
    return ArticulationCfg(
        spawn=BuiltinSpawnCfg(builder=point_robot_spec),
        actuators={
            "base_xy": ImplicitActuatorCfg(
                joint_names_expr=["x", "y"], damping=20.0, velocity_limit=MAX_LIN_SPEED
            ),
            "base_yaw": ImplicitActuatorCfg(
                joint_names_expr=["yaw"], damping=0.2, velocity_limit=MAX_ANG_SPEED
            ),
        },
    )


def arena_cfg(half_size: float, num_obstacles: int, radius_range: tuple[float, float]) -> RigidObjectCfg:
    """The walled square (inner faces at +-half_size) with `num_obstacles` cylinders on mocap bodies."""
    builder = partial(arena_spec, half_size=half_size, num_obstacles=num_obstacles, radius_range=radius_range)
    return RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=builder))
