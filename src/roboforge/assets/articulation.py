"""Asset configs: articulations (robots) and rigid objects, as in Isaac Lab's `ArticulationCfg`
(deformable objects: assets/deformable.py; the initial state: assets/init_state.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from roboforge.assets.actuators import ActuatorCfg
from roboforge.assets.deformable import DeformableObjectCfg
from roboforge.assets.init_state import InitialStateCfg
from roboforge.assets.sources import SpawnCfg


@dataclass(kw_only=True)
class ArticulationCfg:
    """A robot: where its model comes from, its initial state and its actuator groups."""

    spawn: SpawnCfg
    """Model source (built-in, Menagerie or file)."""
    init_state: InitialStateCfg = field(default_factory=InitialStateCfg)
    """Default state, applied at reset."""
    actuators: dict[str, ActuatorCfg] = field(default_factory=dict)
    """Actuator groups by name; the model's own actuators are replaced by these. Joints in no group are passive."""
    soft_joint_pos_limit_factor: float = 1.0
    """Fraction of the joint range used for soft limits (rewards, clipping)."""
    gravity_compensation: bool = False
    """Cancel gravity on every body of the robot (MuJoCo `gravcomp`), as torque-controlled arms do."""
    sites: dict[str, tuple[str, tuple[float, float, float]]] = field(default_factory=dict)
    """Extra frames {name: (body, offset in the body frame)}, e.g. a tool centre point."""
    self_collisions: bool = True
    """Let the robot's own links collide with each other; False keeps only contacts with other things
    (ground, objects), which is cheaper and what locomotion tasks use."""
    contact_priority: int = 0
    """MuJoCo `priority` of the robot's colliding geoms. A contact takes the friction of its higher-priority
    geom (equal priorities take the larger friction), so 1 makes the robot's own friction, and its
    randomization, decide contacts with the ground."""
    collision_geoms: list[str] | None = None
    """Regexes (full match) of the geoms that collide, by geom name or, for unnamed geoms, body name;
    the others become visual only. None keeps the model's collision geoms."""


@dataclass(kw_only=True)
class RigidObjectCfg:
    """A free rigid body (cube, ball ...) with a default pose."""

    spawn: SpawnCfg
    """Model source (built-in, Menagerie or file)."""
    init_state: InitialStateCfg = field(default_factory=InitialStateCfg)
    """Default root pose and velocity."""


EntityCfg = ArticulationCfg | RigidObjectCfg | DeformableObjectCfg
