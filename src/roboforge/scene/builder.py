"""`SceneCfg` -> one MjSpec: ground (or terrain), light, every entity under its name prefix, sensors.

Each entity's names are resolved once into an `EntityLayout` (scene/layout.py) while its spec is built;
the spec gets the actuators and tracking sensors the layout lists, and the runtime entities read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco

from roboforge.assets.actuators import add_actuators
from roboforge.assets.articulation import ArticulationCfg, EntityCfg
from roboforge.assets.deformable import DeformableObjectCfg
from roboforge.assets.init_state import check_init_state
from roboforge.scene.layout import TRACK_SENSORS, EntityLayout, entity_layout
from roboforge.terrains.generator import GeneratedTerrain
from roboforge.terrains.terrain import add_terrain_geom
from roboforge.utils.config import ConfigError, compile_regexes

if TYPE_CHECKING:
    from roboforge.scene.scene import SceneCfg

ROBOT_CONTYPE = 2  # a robot without self-collisions: collides with conaffinity-1 geoms (ground), not itself


def build_spec(
    cfg: SceneCfg, generated_terrain: GeneratedTerrain | None = None
) -> tuple[mujoco.MjSpec, dict[str, EntityLayout]]:
    """One MjSpec with the ground (or terrain), light and every entity attached under its name prefix,
    and the entities' layouts by name."""
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
    layouts: dict[str, EntityLayout] = {}
    for k, (name, entity_cfg) in enumerate(cfg.entities.items()):
        child, layouts[name] = entity_spec(name, entity_cfg)
        if k == 0:  # the first entity's physics options (timestep, solver, cone ...) become the scene's
            _copy_options(child.option, spec.option)
        _copy_options(spec.option, child.option)
        init = entity_cfg.init_state
        frame = (
            spec.worldbody.add_frame()  # a deformable object places itself (assets/deformable.py)
            if layouts[name].floating or isinstance(entity_cfg, DeformableObjectCfg)
            else spec.worldbody.add_frame(pos=list(init.pos), quat=list(init.rot))
        )
        spec.attach(child, prefix=layouts[name].prefix, frame=frame)
    if any(isinstance(c, DeformableObjectCfg) for c in cfg.entities.values()):
        # MuJoCo 4 integrates flex elasticity with the discrete integrator (or Euler at a tiny step) only
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_DISCRETE
    for name, sensor_cfg in cfg.sensors.items():
        if sensor_cfg.entity_name not in cfg.entities:
            raise ConfigError(
                f"Sensor {name!r} is mounted on entity {sensor_cfg.entity_name!r}, which the scene lacks. "
                f"Entities: {', '.join(cfg.entities)}."
            )
        sensor_cfg.add_to_spec(spec, name)
    if not cfg.visual_geoms:
        _drop_visual_geoms(spec)
    return spec, layouts


def entity_spec(name: str, cfg: EntityCfg) -> tuple[mujoco.MjSpec, EntityLayout]:
    """The entity's own spec with roboforge's actuators and tracking sensors, and its layout.

    A floating base's root body is placed at `init_state`; a fixed-base model keeps its own body
    offsets and is attached through a frame at `init_state` (its root frame).
    """
    check_init_state(cfg.init_state, f"Entity {name!r}: init_state")
    spec = cfg.spawn.load()
    root = spec.worldbody.first_body()
    if root is None:
        raise ConfigError(f"Entity {name!r}: the model has no body under <worldbody>.")
    _exclude_base_contacts(spec)
    for key in list(spec.keys):
        spec.delete(key)
    if isinstance(cfg, ArticulationCfg):
        _prepare_articulation(name, spec, cfg)
    layout = entity_layout(name, cfg, spec)
    if layout.floating:
        root.pos = list(cfg.init_state.pos)
        root.quat = list(cfg.init_state.rot)
    for group in layout.actuators:
        add_actuators(spec, group.cfg, group.joint_names)
    for body in layout.body_names:
        for kind, sensor_type in TRACK_SENSORS.items():
            spec.add_sensor(
                name=layout.tracking_sensor(kind, body),
                type=sensor_type,
                objtype=mujoco.mjtObj.mjOBJ_XBODY,
                objname=body,
            )
    return spec, layout


def _prepare_articulation(name: str, spec: mujoco.MjSpec, cfg: ArticulationCfg) -> None:
    """Add the config's sites, filter collisions, compensate gravity and drop the model's actuators."""
    for site_name, (body_name, offset) in cfg.sites.items():
        body = spec.body(body_name)
        if body is None:
            raise ConfigError(
                f"Entity {name!r}: site {site_name!r} names a body {body_name!r} the model lacks."
            )
        body.add_site(name=site_name, pos=list(offset))
    _filter_collisions(name, spec, cfg)
    if cfg.gravity_compensation:
        for body in spec.bodies[1:]:
            body.gravcomp = 1.0
    for act in list(spec.actuators):
        spec.delete(act)


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


def _filter_collisions(name: str, spec: mujoco.MjSpec, cfg: ArticulationCfg) -> None:
    """Apply `collision_geoms` (others become visual) and `self_collisions=False` to the entity's geoms."""
    colliding = [g for g in spec.geoms if g.contype or g.conaffinity]
    if cfg.collision_geoms is not None:
        patterns = compile_regexes(cfg.collision_geoms, f"Entity {name!r}: collision_geoms")
        keep = [g for g in colliding if any(p.fullmatch(g.name or g.parent.name) for p in patterns)]
        if not keep:
            names = sorted({g.name or g.parent.name for g in colliding})
            raise ConfigError(
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
