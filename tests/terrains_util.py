"""Helpers shared by the terrain tests (test_terrains*.py): a small generator, a ball on it, a fake scene."""

from __future__ import annotations

from types import SimpleNamespace

import mujoco
import torch

from roboforge.assets.articulation import InitialStateCfg, RigidObjectCfg
from roboforge.assets.sources import BuiltinSpawnCfg
from roboforge.scene.scene import SceneCfg
from roboforge.terrains import (
    BoxGridTerrainCfg,
    PyramidSlopedTerrainCfg,
    PyramidStairsTerrainCfg,
    RandomRoughTerrainCfg,
    TerrainCfg,
    TerrainGeneratorCfg,
)

SIZE, HS = (4.0, 4.0), 0.1
BALL_RADIUS = 0.05


def small_generator_cfg(**kwargs) -> TerrainGeneratorCfg:
    """3 levels x 4 kinds of 4 m patches: stairs, boxes, rough ground, a pit."""
    params = dict(
        size=SIZE,
        border_width=1.0,
        num_rows=3,
        num_cols=4,
        horizontal_scale=HS,
        seed=3,
        sub_terrains={
            "stairs": PyramidStairsTerrainCfg(platform_width=1.0),
            "boxes": BoxGridTerrainCfg(platform_width=1.0),
            "rough": RandomRoughTerrainCfg(platform_width=1.0, downsampled_scale=0.3),
            "pit": PyramidSlopedTerrainCfg(platform_width=1.0, inverted=True),
        },
    )
    params.update(kwargs)
    return TerrainGeneratorCfg(**params)


def ball_spec() -> mujoco.MjSpec:
    spec = mujoco.MjSpec()
    body = spec.worldbody.add_body(name="ball")
    body.add_freejoint()
    body.add_geom(name="ball", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[BALL_RADIUS, 0, 0], mass=0.1)
    return spec


def ball_scene_cfg(num_envs: int = 1, terrain: TerrainCfg | None = None, z: float = 0.3) -> SceneCfg:
    ball = RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=ball_spec), init_state=InitialStateCfg(pos=(0, 0, z)))
    terrain = (
        terrain if terrain is not None else TerrainCfg(generator=small_generator_cfg(), hfield_tile_size=8.0)
    )
    return SceneCfg(num_envs=num_envs, terrain=terrain, entities={"ball": ball})


class FakeScene:
    """A scene with a terrain and one robot whose root pose is given."""

    def __init__(self, terrain, root_pos_w: torch.Tensor, root_quat_w: torch.Tensor | None = None):
        self.terrain = terrain
        self.env_origins = getattr(terrain, "env_origins", None)
        self._robot = SimpleNamespace(data=SimpleNamespace(root_pos_w=root_pos_w, root_quat_w=root_quat_w))

    def __getitem__(self, name: str):
        return self._robot
