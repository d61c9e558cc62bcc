"""`SceneCfg` -> one MjSpec (ground, light, entities) -> MjModel, and the bound `Scene` of entities."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import mujoco
import torch

from roboforge.assets.actuators import add_actuators, resolve_joints
from roboforge.assets.articulation import ArticulationCfg, EntityCfg
from roboforge.scene.entity import Entity
from roboforge.sensors.base import Sensor, SensorCfg
from roboforge.sim.simulator import Simulator
from roboforge.terrains.generator import GeneratedTerrain
from roboforge.terrains.terrain import (
    Terrain,
    TerrainCfg,
    add_terrain_geom,
    build_terrain,
    terrain_arena_bytes,
)

TRACK_PREFIX = "_rf_"  # sensors the scene adds to track body poses and velocities


@dataclass(kw_only=True)
class SceneCfg:
    """What is in every world: ground, light and named entities (robots, objects)."""

    num_envs: int = 1
    """Number of parallel worlds."""
    env_spacing: float = 2.0
    """Distance (m) between worlds when they are shown side by side (`grid_origins`; display only)."""
    ground: bool = True
    """Add a ground plane at z = 0 (ignored when `terrain` is set)."""
    terrain: TerrainCfg | None = None
    """Ground made by a terrain config (plane or generated height field); replaces `ground`."""
    light: bool = True
    """Add a directional light."""
    entities: dict[str, EntityCfg] = field(default_factory=dict)
    """Entities by name; a name prefixes its joints, bodies and actuators ('robot/elbow')."""
    sensors: dict[str, SensorCfg] = field(default_factory=dict)
    """Sensors by name (contact, IMU), mounted on the entities."""
    visual_geoms: bool = True
    """Keep visual-only geoms (no contacts) and their meshes. False drops them: masses are unchanged
    (they come from the bodies' inertials) and a Menagerie Go1 shrinks from 37 MB to 0.1 MB, which
    matters on the CPU backend, where randomized model fields give every world its own model copy."""


class Scene:
    """The compiled scene: model plus, once bound to a simulator, the entities and their data views."""

    def __init__(self, cfg: SceneCfg):
        if cfg.num_envs < 1:
            raise ValueError(f"scene.num_envs must be >= 1, got {cfg.num_envs}.")
        self.cfg = cfg
        self.generated_terrain = build_terrain(cfg.terrain)
        self.spec = build_spec(cfg, self.generated_terrain)
        try:
            self.model = self.spec.compile()
            memory = terrain_arena_bytes(self.model)  # room for NaN worlds colliding with every tile
            if memory is not None:
                self.spec.memory = memory
                self.model = self.spec.compile()
        except Exception as err:
            raise ValueError(f"The scene does not compile: {err}") from err
        self.entities: dict[str, Entity] = {}
        self.sensors: dict[str, Sensor] = {}
        self.terrain: Terrain | None = None
        # Where each world's robot stands `(num_envs, 3)`: zeros, or its terrain patch's origin (bind).
        self.env_origins = torch.zeros(cfg.num_envs, 3)

    @property
    def num_envs(self) -> int:
        return self.cfg.num_envs

    def bind(self, sim: Simulator) -> None:
        """Create the terrain's and the entities' tensors and data views on `sim`."""
        self.terrain = Terrain(
            self.cfg.terrain, self.generated_terrain, self.model, self.num_envs, sim.device
        )
        self.env_origins = self.terrain.env_origins  # the same tensor: the terrain curriculum moves it
        self.entities = {name: Entity(name, cfg, self.model, sim) for name, cfg in self.cfg.entities.items()}
        self.sensors = {name: cfg.build(name, self, sim) for name, cfg in self.cfg.sensors.items()}

    def __getitem__(self, name: str) -> Entity:
        if name not in self.entities:
            raise KeyError(f"No entity {name!r} in the scene. Entities: {', '.join(self.entities)}.")
        return self.entities[name]

    def reset_to_default(self, mask: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Write every entity's default root and joint state into the worlds selected by `mask`
        (`generator`: the env's random numbers, for per-world actuator delays)."""
        for entity in self.entities.values():
            entity.reset_to_default(mask, generator)

    def update_sensors(self, dt: float) -> None:
        """Refresh every sensor from the latest physics state (once per env step)."""
        for sensor in self.sensors.values():
            sensor.update(dt)

    def reset_sensors(self, mask: torch.Tensor) -> None:
        """Clear the sensors' per-episode buffers in the worlds selected by `mask`."""
        for sensor in self.sensors.values():
            sensor.reset(mask)

    def apply_actuators(self) -> None:
        """Turn every entity's joint targets into controls (call once per physics step)."""
        for entity in self.entities.values():
            entity.apply_actuators()


def grid_origins(num_envs: int, spacing: float, device) -> torch.Tensor:
    """Display positions `(num_envs, 3)` of the worlds on a square grid centred at the world origin."""
    cols = math.ceil(math.sqrt(num_envs))
    idx = torch.arange(num_envs, device=device)
    rows_f, cols_f = (idx // cols).float(), (idx % cols).float()
    origins = torch.zeros(num_envs, 3, device=device)
    origins[:, 0] = (rows_f - (math.ceil(num_envs / cols) - 1) / 2) * spacing
    origins[:, 1] = (cols_f - (cols - 1) / 2) * spacing
    return origins


def build_spec(cfg: SceneCfg, generated_terrain: GeneratedTerrain | None = None) -> mujoco.MjSpec:
    """One MjSpec with the ground (or terrain), light and every entity attached under its name prefix."""
    spec = mujoco.MjSpec()
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    if cfg.terrain is not None:
        add_terrain_geom(spec, cfg.terrain, generated_terrain)
    elif cfg.ground:
        spec.worldbody.add_geom(name="ground", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05])
    if cfg.light:
        spec.worldbody.add_light(
            name="sun", pos=[0, 0, 5], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
        )
    for k, (name, entity_cfg) in enumerate(cfg.entities.items()):
        child = entity_spec(name, entity_cfg)
        if k == 0:  # the first entity's physics options (timestep, solver, cone ...) become the scene's
            _copy_options(child.option, spec.option)
        _copy_options(spec.option, child.option)
        init = entity_cfg.init_state
        frame = (
            spec.worldbody.add_frame()
            if _is_floating(child)
            else spec.worldbody.add_frame(pos=list(init.pos), quat=list(init.rot))
        )
        spec.attach(child, prefix=f"{name}/", frame=frame)
    for name, sensor_cfg in cfg.sensors.items():
        if sensor_cfg.entity_name not in cfg.entities:
            raise ValueError(
                f"Sensor {name!r} is mounted on entity {sensor_cfg.entity_name!r}, which the scene lacks. "
                f"Entities: {', '.join(cfg.entities)}."
            )
        sensor_cfg.add_to_spec(spec, name)
    if not cfg.visual_geoms:
        _drop_visual_geoms(spec)
    return spec


def _drop_visual_geoms(spec: mujoco.MjSpec) -> None:
    """Delete geoms that never collide and the meshes only they used."""
    for geom in [g for g in spec.geoms if g.contype == 0 and g.conaffinity == 0]:
        spec.delete(geom)
    used = {g.meshname for g in spec.geoms if g.type == mujoco.mjtGeom.mjGEOM_MESH}
    for mesh in [m for m in spec.meshes if m.name not in used]:
        spec.delete(mesh)


def _exclude_base_contacts(spec: mujoco.MjSpec) -> None:
    """No contacts between a fixed base (welded to the world) and the links attached to it.

    MuJoCo filters parent-child contacts except when the parent is welded to the world (so robots touch
    the ground); a robot's own base touching its first link is never wanted.
    """
    welded = {spec.worldbody.name}
    for body in spec.bodies[1:]:
        parent = body.parent
        if parent is None or parent.name not in welded:
            continue
        if not body.joints:
            welded.add(body.name)
        if parent.name != spec.worldbody.name and parent.name and body.name:
            spec.add_exclude(bodyname1=parent.name, bodyname2=body.name)


ROBOT_CONTYPE = 2  # a robot without self-collisions: collides with conaffinity-1 geoms (ground), not itself


def _filter_collisions(spec: mujoco.MjSpec, cfg: ArticulationCfg) -> None:
    """Apply `collision_geoms` (others become visual) and `self_collisions=False` to the entity's geoms."""
    colliding = [g for g in spec.geoms if g.contype or g.conaffinity]
    if cfg.collision_geoms is not None:
        keep = [g for g in colliding if _geom_matches(g, cfg.collision_geoms)]
        if not keep:
            names = sorted({g.name or g.parent.name for g in colliding})
            raise ValueError(
                f"collision_geoms {cfg.collision_geoms} match no colliding geom (by geom or body name). "
                f"Available: {', '.join(names)}."
            )
        kept = {id(g) for g in keep}
        for geom in colliding:
            if id(geom) not in kept:
                geom.contype, geom.conaffinity = 0, 0
        colliding = keep
    if not cfg.self_collisions:
        for geom in colliding:
            geom.contype, geom.conaffinity = ROBOT_CONTYPE, 1
    for geom in colliding:
        geom.priority = max(geom.priority, cfg.contact_priority)


def _geom_matches(geom, patterns: list[str]) -> bool:
    name = geom.name or geom.parent.name
    return any(re.fullmatch(p, name) for p in patterns)


def _is_floating(spec: mujoco.MjSpec) -> bool:
    root = spec.worldbody.first_body()
    return root is not None and any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in root.joints)


_OPTION_FIELDS = (
    "timestep",
    "impratio",
    "cone",
    "solver",
    "iterations",
    "ls_iterations",
    "tolerance",
    "noslip_iterations",
    "jacobian",
    "gravity",
)


def _copy_options(src, dst) -> None:
    for name in _OPTION_FIELDS:
        setattr(dst, name, getattr(src, name))


def entity_spec(name: str, cfg: EntityCfg) -> mujoco.MjSpec:
    """The entity's own spec with roboforge's actuators and tracking sensors.

    A floating base's root body is placed at `init_state`; a fixed-base model keeps its own body
    offsets and is attached through a frame at `init_state` (its root frame).
    """
    spec = cfg.spawn.load()
    root = spec.worldbody.first_body()
    if root is None:
        raise ValueError(f"Entity {name!r}: the model has no body under <worldbody>.")
    if _is_floating(spec):
        root.pos = list(cfg.init_state.pos)
        root.quat = list(cfg.init_state.rot)
    _exclude_base_contacts(spec)
    for key in list(spec.keys):
        spec.delete(key)
    if isinstance(cfg, ArticulationCfg):
        for site_name, (body_name, offset) in cfg.sites.items():
            body = spec.body(body_name)
            if body is None:
                raise ValueError(
                    f"Entity {name!r}: site {site_name!r} names a body {body_name!r} the model lacks."
                )
            body.add_site(name=site_name, pos=list(offset))
        _filter_collisions(spec, cfg)
        if cfg.gravity_compensation:
            for body in spec.bodies[1:]:
                body.gravcomp = 1.0
        for act in list(spec.actuators):
            spec.delete(act)
        joints = [j.name for j in spec.joints if j.type != mujoco.mjtJoint.mjJNT_FREE]
        claimed: set[str] = set()
        for group_name, group in cfg.actuators.items():
            ids = resolve_joints(
                group.joint_names_expr, joints, f"Entity {name!r} actuator group {group_name!r}"
            )
            names = [joints[i] for i in ids if joints[i] not in claimed]
            claimed.update(names)
            add_actuators(spec, group, names)
    for body in spec.bodies[1:]:
        if not body.name:
            continue
        for kind, sensor_type in SENSOR_KINDS.items():
            spec.add_sensor(
                name=f"{TRACK_PREFIX}{kind}:{body.name}",
                type=sensor_type,
                objtype=mujoco.mjtObj.mjOBJ_XBODY,
                objname=body.name,
            )
    return spec


SENSOR_KINDS = {
    "pos": mujoco.mjtSensor.mjSENS_FRAMEPOS,
    "quat": mujoco.mjtSensor.mjSENS_FRAMEQUAT,
    "linvel": mujoco.mjtSensor.mjSENS_FRAMELINVEL,
    "angvel": mujoco.mjtSensor.mjSENS_FRAMEANGVEL,
}
