"""`SceneCfg` -> one MjSpec (scene/builder.py) -> MjModel, and the bound `Scene` of entities and sensors."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.assets.articulation import EntityCfg
from roboforge.assets.deformable import DeformableObjectCfg
from roboforge.scene.builder import build_spec
from roboforge.scene.deformable import DeformableObject
from roboforge.scene.entity import Entity
from roboforge.sensors.base import Sensor, SensorCfg
from roboforge.sim.simulator import Simulator
from roboforge.terrains.terrain import Terrain, TerrainCfg, build_terrain, terrain_arena_bytes
from roboforge.utils.config import MAX_NUM_ENVS, ConfigError


@dataclass(kw_only=True)
class SceneCfg:
    """What is in every world: ground, light and named entities (robots, objects)."""

    num_envs: int = 1
    """Number of parallel worlds."""
    env_spacing: float = 2.0
    """Isaac Lab's distance (m) between worlds, accepted so its scene configs carry over; here it changes
    nothing: every world is a MuJoCo world of its own (no shared space, no contact across worlds), and
    videos tile worlds in frames of their own (`--worlds`)."""
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
        if not 1 <= cfg.num_envs <= MAX_NUM_ENVS:
            raise ConfigError(f"scene.num_envs must be 1 to {MAX_NUM_ENVS:,}, got {cfg.num_envs:,}.")
        self.cfg = cfg
        self.generated_terrain = build_terrain(cfg.terrain)
        # the MjSpec, and each entity's names resolved once (`EntityLayout`, scene/layout.py)
        self.spec, self.layouts = build_spec(cfg, self.generated_terrain)
        try:
            self.model = self.spec.compile()
            memory = terrain_arena_bytes(self.model)  # room for NaN worlds colliding with every tile
            if memory is not None:
                self.spec.memory = memory
                self.model = self.spec.compile()
        except Exception as err:
            raise ConfigError(f"The scene does not compile: {err}") from err
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
        self.entities = {name: self._bind_entity(name, cfg, sim) for name, cfg in self.cfg.entities.items()}
        self.sensors = {name: cfg.build(name, self.model, sim) for name, cfg in self.cfg.sensors.items()}

    def _bind_entity(self, name: str, cfg: EntityCfg, sim: Simulator) -> Entity:
        if isinstance(cfg, DeformableObjectCfg):  # flex nodes instead of joints (scene/deformable.py)
            return DeformableObject(cfg, self.layouts[name], self.model, sim)
        return Entity(cfg, self.layouts[name], self.model, sim)

    def __getitem__(self, name: str) -> Entity:
        if name not in self.entities:
            raise ConfigError(f"No entity {name!r} in the scene. Entities: {', '.join(self.entities)}.")
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
