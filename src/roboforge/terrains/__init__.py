"""Procedural terrains for legged locomotion: sub-terrain height functions, the patch-grid generator,
the scene's terrain config and the runtime `Terrain` (levels, origins, height queries)."""

from roboforge.terrains.generator import (
    FlatPatchSamplingCfg,
    GeneratedTerrain,
    TerrainGeneratorCfg,
    generate_terrain,
)
from roboforge.terrains.presets import rough_terrain_cfg, rough_terrain_generator_cfg
from roboforge.terrains.sub_terrains import (
    BoxGridTerrainCfg,
    DiscreteObstaclesTerrainCfg,
    FlatTerrainCfg,
    PyramidSlopedTerrainCfg,
    PyramidStairsTerrainCfg,
    RandomRoughTerrainCfg,
    SubTerrainCfg,
)
from roboforge.terrains.terrain import Terrain, TerrainCfg, add_terrain_geom, build_terrain

__all__ = [
    "BoxGridTerrainCfg",
    "DiscreteObstaclesTerrainCfg",
    "FlatPatchSamplingCfg",
    "FlatTerrainCfg",
    "GeneratedTerrain",
    "PyramidSlopedTerrainCfg",
    "PyramidStairsTerrainCfg",
    "RandomRoughTerrainCfg",
    "SubTerrainCfg",
    "Terrain",
    "TerrainCfg",
    "TerrainGeneratorCfg",
    "add_terrain_geom",
    "build_terrain",
    "generate_terrain",
    "rough_terrain_cfg",
    "rough_terrain_generator_cfg",
]
