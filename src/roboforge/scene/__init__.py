"""Scene: builds one MjSpec from a `SceneCfg`, resolves names to indices, exposes entity data views."""

from roboforge.scene.entity import Entity, EntityData
from roboforge.scene.layout import EntityLayout
from roboforge.scene.scene import Scene, SceneCfg

__all__ = ["Entity", "EntityData", "EntityLayout", "Scene", "SceneCfg"]
