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

import mujoco
import numpy as np

from roboforge.deploy.specs import TerrainSpec

TILE_PREFIX = "terrain_"


class SceneTerrain:
    """World heights `[ix, iy]` of a scene's height-field terrain on a regular grid, the height query, and
    its patches (`patches`: the metadata's; None: episodes start at the world origin)."""

    def __init__(self, model: mujoco.MjModel, patches: TerrainSpec | None = None):
        self.patches = patches
        tiles = [
            g
            for g in range(model.ngeom)
            if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_HFIELD
            and (model.geom(g).name or "").startswith(TILE_PREFIX)
        ]
        self.has_height_field = bool(tiles)
        if not tiles:
            return
        parts = []
        for g in tiles:
            hfield = model.hfield(int(model.geom_dataid[g]))
            nrow, ncol = int(hfield.nrow[0]), int(hfield.ncol[0])
            size, pos = hfield.size, model.geom_pos[g]
            data = np.asarray(hfield.data, dtype=np.float32).reshape(nrow, ncol)
            heights = data.T * np.float32(size[2]) + np.float32(pos[2])  # [ix, iy]
            parts.append((pos[0] - size[0], pos[1] - size[1], 2.0 * size[0] / (ncol - 1), heights))
        self.scale = float(parts[0][2])
        self.origin_xy = (min(p[0] for p in parts), min(p[1] for p in parts))
        starts = [
            (round((x0 - self.origin_xy[0]) / self.scale), round((y0 - self.origin_xy[1]) / self.scale))
            for x0, y0, _, _ in parts
        ]
        nx = max(ix + p[3].shape[0] for (ix, _), p in zip(starts, parts, strict=True))
        ny = max(iy + p[3].shape[1] for (_, iy), p in zip(starts, parts, strict=True))
        self.heights = np.zeros((nx, ny), dtype=np.float32)
        for (ix, iy), (_, _, _, heights) in zip(starts, parts, strict=True):
            self.heights[ix : ix + heights.shape[0], iy : iy + heights.shape[1]] = heights

    def draw_patch(self, rng: np.random.Generator) -> int | None:
        """A patch index drawn uniformly (every level and kind alike); None without patches."""
        return None if not self.patches else int(rng.integers(len(self.patches.origins)))

    def origin(self, patch: int | None) -> np.ndarray:
        """The patch's origin `(3,)`; zero for None."""
        return np.zeros(3) if patch is None or not self.patches else np.array(self.patches.origins[patch])

    def height_at(self, points_xy_w: np.ndarray) -> np.ndarray:
        """Ground height `(N,)` under world points `(N, 2)`; outside the field, that of its nearest edge."""
        points = np.asarray(points_xy_w, dtype=np.float64).reshape(-1, 2)
        if not self.has_height_field:
            return np.zeros(len(points))
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
        return {key: survived / ended for key, (survived, ended) in self.counts.items()}
