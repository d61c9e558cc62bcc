"""Ready-made terrain configs for locomotion tasks."""

from __future__ import annotations

from roboforge.terrains.generator import TerrainGeneratorCfg
from roboforge.terrains.sub_terrains import (
    BoxGridTerrainCfg,
    FlatTerrainCfg,
    PyramidSlopedTerrainCfg,
    PyramidStairsTerrainCfg,
    RandomRoughTerrainCfg,
)
from roboforge.terrains.terrain import TerrainCfg


def rough_terrain_generator_cfg(
    num_rows: int = 10,
    num_cols: int = 20,
    seed: int = 0,
    box_height_range: tuple[float, float] = (0.02, 0.15),
    rough_amplitude_range: tuple[float, float] = (0.01, 0.08),
) -> TerrainGeneratorCfg:
    """Stairs up and down, boxes, rough ground and slopes up and down on 8 m patches at 0.1 m.

    `box_height_range` and `rough_amplitude_range` (m, at difficulty 0 and 1) size the boxes and the
    rough ground to the robot: the defaults suit a robot of ANYmal's size, a Go1 takes lower ones.

    With the defaults: 10 levels x 20 columns plus a 10 m border = 1001 x 1801 height samples (100 m x
    180 m, 1.8 M floats), compiled as 7 x 12 MuJoCo height-field tiles of at most 16 m (`TerrainCfg`).
    """
    return TerrainGeneratorCfg(
        size=(8.0, 8.0),
        border_width=10.0,
        num_rows=num_rows,
        num_cols=num_cols,
        seed=seed,
        sub_terrains={
            "flat": FlatTerrainCfg(proportion=0.1),
            "pyramid_stairs": PyramidStairsTerrainCfg(proportion=0.2),
            "pyramid_stairs_inv": PyramidStairsTerrainCfg(proportion=0.2, inverted=True),
            "boxes": BoxGridTerrainCfg(proportion=0.2, height_range=box_height_range),
            "random_rough": RandomRoughTerrainCfg(proportion=0.1, amplitude_range=rough_amplitude_range),
            "pyramid_slope": PyramidSlopedTerrainCfg(proportion=0.1),
            "pyramid_slope_inv": PyramidSlopedTerrainCfg(proportion=0.1, inverted=True),
        },
    )


def rough_terrain_cfg(max_init_terrain_level: int | None = 5, **generator_kwargs) -> TerrainCfg:
    """`SceneCfg.terrain` for rough-terrain locomotion (see `rough_terrain_generator_cfg`)."""
    return TerrainCfg(
        type="generator",
        generator=rough_terrain_generator_cfg(**generator_kwargs),
        max_init_terrain_level=max_init_terrain_level,
    )
