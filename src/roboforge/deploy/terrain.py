"""The ground of the exported scene, for the simulated robot: its height field and its terrain patches.

`SceneTerrain` reads the height-field tiles of the compiled scene (geoms 'terrain_<i>_<j>', as training adds
them) back into one grid of world heights and answers `height_at(xy)` on MuJoCo's triangulated surface, the
query training's `Terrain.height_at` answers; `MujocoSimRobot` hands it to the policy's height scan as
`RobotState.terrain_height_w`. A scene without a height field has a zero ground height everywhere, as in
training. The patches come from the metadata (`SceneSpec.terrain`): a sim-to-sim episode starts on one drawn
at random, as the rough play config spreads its worlds over every level and kind, and `PatchSurvival` counts
the episodes no failure ended by the patch's kind and level, under eval's names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from roboforge.deploy.specs import TerrainSpec
from roboforge.utils.errors import UserInputError

TILE_PREFIX = "terrain_"


@dataclass
class HeightGrid:
    """Ground heights `[ix, iy]` (m, world z) on a regular grid: sample [0, 0] at world `origin_xy`, samples `scale`
    m apart along x and y. Between samples the ground is MuJoCo's height-field triangles; outside the grid, the
    height of its nearest edge. A real robot's elevation map in this form gives the height scan its ground."""

    heights: np.ndarray
    origin_xy: tuple[float, float]
    scale: float

    def __post_init__(self) -> None:
        self.heights = np.asarray(self.heights, dtype=np.float64)
        if self.heights.ndim != 2 or min(self.heights.shape) < 2 or not 0 < self.scale < math.inf:
            raise UserInputError(
                f"A height map needs at least 2 x 2 samples and a spacing > 0, got shape {self.heights.shape} "
                f"and scale {self.scale}."
            )
        if not (np.isfinite(self.heights).all() and np.isfinite(self.origin_xy).all()):
            raise UserInputError("A height map's heights and origin_xy must be finite (no NaN or inf).")

    def height_at(self, points_xy_w: np.ndarray) -> np.ndarray:
        """Ground height `(N,)` under world points `(N, 2)`."""
        points = np.asarray(points_xy_w, dtype=np.float64).reshape(-1, 2)
        nx, ny = self.heights.shape
        u = np.clip((points[:, 0] - self.origin_xy[0]) / self.scale, 0.0, nx - 1.0)
        v = np.clip((points[:, 1] - self.origin_xy[1]) / self.scale, 0.0, ny - 1.0)
        ix = np.minimum(np.floor(u).astype(np.intp), nx - 2)
        iy = np.minimum(np.floor(v).astype(np.intp), ny - 2)
        fu, fv = u - ix, v - iy
        h = self.heights
        z00, z10, z01, z11 = h[ix, iy], h[ix + 1, iy], h[ix, iy + 1], h[ix + 1, iy + 1]
        below_diagonal = z00 + fu * (z10 - z00) + fv * (z11 - z10)  # the triangle (0,0)-(1,0)-(1,1)
        above_diagonal = z00 + fv * (z01 - z00) + fu * (z11 - z01)
        return np.where(fu >= fv, below_diagonal, above_diagonal)

    def window(self, center_xy: np.ndarray, half_size: float) -> HeightGrid:
        """The samples within `half_size` (m) of `center_xy` along x and y, as a grid of their own (a local map
        that answers exactly as this one inside it)."""
        nx, ny = self.heights.shape
        lo = [
            int(np.clip(np.floor((c - half_size - o) / self.scale), 0, n - 2))
            for c, o, n in zip(center_xy, self.origin_xy, (nx, ny), strict=True)
        ]
        hi = [
            int(np.clip(np.ceil((c + half_size - o) / self.scale), start + 1, n - 1))
            for c, o, n, start in zip(center_xy, self.origin_xy, (nx, ny), lo, strict=True)
        ]
        origin = (self.origin_xy[0] + lo[0] * self.scale, self.origin_xy[1] + lo[1] * self.scale)
        return HeightGrid(self.heights[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1].copy(), origin, self.scale)


@dataclass
class Tile:
    """One height-field tile: world heights `[ix, iy]`, the world xy of sample [0, 0], the sample spacing (m)."""

    heights: np.ndarray
    corner_xy: tuple[float, float]
    scale: float


def read_tiles(model: mujoco.MjModel) -> list[Tile]:
    """The terrain's height-field tiles of a compiled scene (static, unrotated geoms 'terrain_<i>_<j>')."""
    tiles = []
    for g in range(model.ngeom):
        if model.geom_type[g] != mujoco.mjtGeom.mjGEOM_HFIELD or not (model.geom(g).name or "").startswith(
            TILE_PREFIX
        ):
            continue
        hfield = model.hfield(int(model.geom_dataid[g]))
        nrow, ncol = int(hfield.nrow[0]), int(hfield.ncol[0])
        size, pos = hfield.size, model.geom_pos[g]
        data = np.asarray(hfield.data, dtype=np.float32).reshape(nrow, ncol)
        heights = data.T * np.float32(size[2]) + np.float32(pos[2])
        corner = (float(pos[0] - size[0]), float(pos[1] - size[1]))
        tiles.append(Tile(heights, corner, 2.0 * float(size[0]) / (ncol - 1)))
    return tiles


def assemble(tiles: list[Tile]) -> HeightGrid:
    """One grid of the tiles, which share their edge samples."""
    scale = tiles[0].scale
    origin = (min(t.corner_xy[0] for t in tiles), min(t.corner_xy[1] for t in tiles))
    starts = [tuple(round((c - o) / scale) for c, o in zip(t.corner_xy, origin, strict=True)) for t in tiles]
    nx = max(ix + t.heights.shape[0] for (ix, _), t in zip(starts, tiles, strict=True))
    ny = max(iy + t.heights.shape[1] for (_, iy), t in zip(starts, tiles, strict=True))
    heights = np.zeros((nx, ny), dtype=np.float32)
    for (ix, iy), tile in zip(starts, tiles, strict=True):
        heights[ix : ix + tile.heights.shape[0], iy : iy + tile.heights.shape[1]] = tile.heights
    return HeightGrid(heights, origin, scale)


class SceneTerrain:
    """World heights `[ix, iy]` of a scene's height-field terrain on a regular grid, the height query, and
    its patches (`patches`: the metadata's; None: episodes start at the world origin)."""

    def __init__(self, model: mujoco.MjModel, patches: TerrainSpec | None = None):
        self.patches = patches
        tiles = read_tiles(model)
        self.grid = assemble(tiles) if tiles else None
        """The whole terrain as one grid (None: a plane, height 0 everywhere)."""

    @property
    def has_height_field(self) -> bool:
        return self.grid is not None

    def draw_patch(self, rng: np.random.Generator) -> int | None:
        """A patch index drawn uniformly (every level and kind alike); None without patches."""
        return None if not self.patches else int(rng.integers(len(self.patches.origins)))

    def origin(self, patch: int | None) -> np.ndarray:
        """The patch's origin `(3,)`; zero for None."""
        return np.zeros(3) if patch is None or not self.patches else np.array(self.patches.origins[patch])

    def height_at(self, points_xy_w: np.ndarray) -> np.ndarray:
        """Ground height `(N,)` under world points `(N, 2)`; outside the field, that of its nearest edge."""
        if self.grid is None:
            return np.zeros(np.asarray(points_xy_w).reshape(-1, 2).shape[0])
        return self.grid.height_at(points_xy_w)


class PatchSurvival:
    """Episodes that no failure ended, per kind and per level of the patch they ran on (eval's
    `Terrain/survived/<kind>` and `Terrain/survived/level_<i>`, for the kinds and levels that had episodes)."""

    def __init__(self, patches: TerrainSpec | None):
        self.patches = patches
        self.counts: dict[str, list[int]] = {}

    def add(self, patch: int | None, failed: bool) -> None:
        if patch is None or self.patches is None:
            return
        for name in (self.patches.kinds[patch], f"level_{self.patches.levels[patch]}"):
            count = self.counts.setdefault(f"Terrain/survived/{name}", [0, 0])
            count[0] += int(not failed)
            count[1] += 1

    def metrics(self) -> dict[str, float]:
        return {key: survived / ended for key, (survived, ended) in sorted(self.counts.items())}
