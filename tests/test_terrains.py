"""Procedural terrains: sub-terrain heights and the generator's layout (the terrain in the scene,
the curriculum and MuJoCo Warp contacts: test_terrains_*.py)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from roboforge.scene.scene import Scene, SceneCfg
from roboforge.terrains import (
    BoxGridTerrainCfg,
    DiscreteObstaclesTerrainCfg,
    FlatTerrainCfg,
    PyramidSlopedTerrainCfg,
    PyramidStairsTerrainCfg,
    RandomRoughTerrainCfg,
    TerrainCfg,
    generate_terrain,
)
from roboforge.terrains.sub_terrains import patch_coords, platform_mask
from terrains_util import HS, SIZE, small_generator_cfg


def _heights(cfg, difficulty: float, seed: int = 0) -> np.ndarray:
    return cfg.heights(difficulty, SIZE, HS, np.random.default_rng(seed))


def _platform(heights: np.ndarray, width: float) -> np.ndarray:
    x, y = patch_coords(SIZE, HS)
    return heights[platform_mask(x, y, width)]


# sub-terrains -------------------------------------------------------------------------------------
def test_stairs_step_height_grows_with_difficulty_and_inverted_goes_down():
    stairs = PyramidStairsTerrainCfg(step_height_range=(0.05, 0.25), step_width=0.3, platform_width=1.0)
    steps = [np.abs(np.diff(_heights(stairs, d), axis=0)).max() for d in (0.0, 0.5, 1.0)]
    np.testing.assert_allclose(steps, [0.05, 0.15, 0.25], atol=1e-9)
    num_steps = math.floor((2.0 - 0.5) / 0.3)
    np.testing.assert_allclose(_platform(_heights(stairs, 1.0), 1.0), 0.25 * num_steps)
    inverted = PyramidStairsTerrainCfg(step_height_range=(0.05, 0.25), platform_width=1.0, inverted=True)
    np.testing.assert_allclose(_platform(_heights(inverted, 1.0), 1.0), -0.25 * num_steps)


def test_rough_slope_and_box_amplitudes_grow_with_difficulty():
    kinds = [
        RandomRoughTerrainCfg(amplitude_range=(0.01, 0.1)),
        RandomRoughTerrainCfg(amplitude_range=(0.01, 0.1), downsampled_scale=0.4),
        PyramidSlopedTerrainCfg(slope_range=(0.0, 0.4)),
        BoxGridTerrainCfg(height_range=(0.02, 0.2)),
        DiscreteObstaclesTerrainCfg(height_range=(0.05, 0.3)),
    ]
    for kind in kinds:
        extent = [np.abs(_heights(kind, d)).max() for d in (0.0, 0.5, 1.0)]
        assert extent[0] < extent[1] < extent[2], (type(kind).__name__, extent)
    rough = _heights(RandomRoughTerrainCfg(amplitude_range=(0.1, 0.1)), 1.0)
    assert np.abs(rough).max() <= 0.1 + 1e-9
    slope = _heights(PyramidSlopedTerrainCfg(slope_range=(0.3, 0.3), platform_width=1.0), 0.0)
    np.testing.assert_allclose(slope.max(), 0.3 * (2.0 - 0.5))  # rise over the run to the platform


def test_downsampled_rough_is_smoother():
    fine = _heights(RandomRoughTerrainCfg(amplitude_range=(0.1, 0.1), noise_step=0.0), 1.0)
    coarse = _heights(
        RandomRoughTerrainCfg(amplitude_range=(0.1, 0.1), noise_step=0.0, downsampled_scale=0.5), 1.0
    )
    assert np.abs(np.diff(coarse, axis=0)).max() < 0.5 * np.abs(np.diff(fine, axis=0)).max()


@pytest.mark.parametrize(
    "kind",
    [
        FlatTerrainCfg(),
        RandomRoughTerrainCfg(),
        PyramidSlopedTerrainCfg(),
        PyramidSlopedTerrainCfg(inverted=True),
        PyramidStairsTerrainCfg(),
        PyramidStairsTerrainCfg(inverted=True),
        BoxGridTerrainCfg(),
        DiscreteObstaclesTerrainCfg(),
    ],
    ids=lambda k: type(k).__name__ + ("_inv" if getattr(k, "inverted", False) else ""),
)
def test_every_patch_has_a_flat_platform(kind):
    heights = _heights(kind, 1.0)
    assert heights.shape == (40, 40)
    platform = _platform(heights, kind.platform_width)
    assert platform.size == 21 * 21
    assert np.ptp(platform) == 0.0


# generator ----------------------------------------------------------------------------------------
def test_generator_rows_are_levels_and_columns_follow_proportions():
    cfg = small_generator_cfg(
        num_rows=5,
        num_cols=10,
        sub_terrains={
            "flat": FlatTerrainCfg(proportion=0.2),
            "stairs": PyramidStairsTerrainCfg(proportion=0.5),
            "boxes": BoxGridTerrainCfg(proportion=0.3),
        },
    )
    terrain = generate_terrain(cfg)
    assert terrain.kind_names == ["flat", "stairs", "boxes"]
    assert (terrain.kinds == terrain.kinds[0]).all()  # a column keeps its kind on every level
    np.testing.assert_array_equal(np.bincount(terrain.kinds[0], minlength=3), [2, 5, 3])
    assert (np.diff(terrain.difficulty, axis=0) > 0).all()
    stairs_col = int(np.argmax(terrain.kinds[0] == 1))
    platform_z = terrain.terrain_origins[:, stairs_col, 2]
    assert (np.diff(platform_z) >= 0).all() and platform_z[-1] > platform_z[0]
    assert terrain.heights.shape == (5 * 40 + 2 * 10 + 1, 10 * 40 + 2 * 10 + 1)


def test_generator_origins_are_patch_centres_on_the_platform():
    cfg = small_generator_cfg()
    terrain = generate_terrain(cfg)
    rows, cols = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    np.testing.assert_allclose(terrain.terrain_origins[..., 0], (rows + 0.5) * 4.0 - 6.0)
    np.testing.assert_allclose(terrain.terrain_origins[..., 1], (cols + 0.5) * 4.0 - 8.0)
    for r in range(3):
        for c in range(4):
            ox, oy, oz = terrain.terrain_origins[r, c]
            ix = round((ox - terrain.origin_xy[0]) / HS)
            iy = round((oy - terrain.origin_xy[1]) / HS)
            np.testing.assert_allclose(terrain.heights[ix - 5 : ix + 6, iy - 5 : iy + 6], oz)  # 1 m platform


def test_flat_patches_lie_in_their_patch_on_flat_ground():
    cfg = small_generator_cfg()
    terrain = generate_terrain(cfg)
    patches = terrain.flat_patches
    assert patches.shape == (3, 4, cfg.flat_patch_sampling.num_patches, 3)
    offset = np.abs(patches[..., :2] - terrain.terrain_origins[:, :, None, :2])
    assert (offset <= 2.0 - cfg.flat_patch_sampling.radius + 1e-9).all()
    r = round(cfg.flat_patch_sampling.radius / HS)
    for point in patches.reshape(-1, 3):
        ix = round((point[0] - terrain.origin_xy[0]) / HS)
        iy = round((point[1] - terrain.origin_xy[1]) / HS)
        window = terrain.heights[ix - r : ix + r + 1, iy - r : iy + r + 1]
        assert np.ptp(window) <= cfg.flat_patch_sampling.max_height_diff + 1e-9
        assert point[2] == terrain.heights[ix, iy]


def test_generator_without_curriculum_mixes_kinds_and_is_seeded():
    cfg = small_generator_cfg(curriculum=False, num_rows=4, num_cols=6)
    a, b = generate_terrain(cfg), generate_terrain(cfg)
    np.testing.assert_array_equal(a.heights, b.heights)
    assert len(np.unique(a.kinds)) > 1 and not (a.kinds == a.kinds[0]).all()
    assert not (np.diff(a.difficulty, axis=0) > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_rows": 0}, "num_rows"),
        ({"num_cols": 0}, "num_cols"),
        ({"sub_terrains": {"a": FlatTerrainCfg(proportion=0.0)}}, "proportion"),
        ({"sub_terrains": {"a": FlatTerrainCfg(proportion=-1.0)}}, "sub_terrains['a'].proportion"),
        ({"sub_terrains": {}}, "sub_terrains"),
        ({"size": (4.05, 4.0)}, "size[x]"),
        ({"difficulty_range": (0.5, 0.2)}, "difficulty_range"),
        ({"horizontal_scale": 0.0}, "horizontal_scale"),
        ({"sub_terrains": {"a": FlatTerrainCfg(platform_width=5.0)}}, "platform_width"),
    ],
)
def test_bad_generator_configs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        Scene(SceneCfg(terrain=TerrainCfg(generator=small_generator_cfg(**kwargs))))


def test_bad_terrain_config_names_the_field():
    with pytest.raises(ValueError, match=r"terrain\.type"):
        TerrainCfg(type="mesh").validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_init_terrain_level"):
        TerrainCfg(max_init_terrain_level=-1).validate()


def test_rough_terrain_is_sized_per_robot():
    from roboforge.tasks.locomotion.robots import G1, GO1
    from roboforge.tasks.locomotion.velocity_env_cfg import velocity_env_cfg

    def sizes(robot):
        sub = velocity_env_cfg(robot, rough=True, num_envs=4).scene.terrain.generator.sub_terrains
        return sub["boxes"].height_range, sub["random_rough"].amplitude_range

    assert sizes(GO1) == ((0.025, 0.1), (0.01, 0.06))
    assert sizes(G1) == ((0.02, 0.15), (0.01, 0.08))
