"""`TerrainCfg` (the scene's ground: a plane or a generated height field) and the runtime `Terrain`.

The generated heights become MuJoCo height fields: square tiles of about `hfield_tile_size` metres,
one `hfield` asset and one geom each (named 'terrain_<i>_<j>'), centred on their tile. Neighbouring
tiles share their edge samples, so together they form exactly the generated surface. (One field for the
whole terrain would be simpler, but MuJoCo Warp 4.0.0 computes wrong, metres-deep contacts for geoms
that sink below a height field far from the field's centre.)

MuJoCo stores height-field rows along y and columns along x (`nrow` = y samples, `ncol` = x samples),
with normalized data: surface z = geom z + data * size[2]. Each cell is split into two triangles along
the diagonal from (x0, y0) to (x1, y1); `Terrain.height_at` interpolates on the same triangles, so it
matches the collision surface (and `mj_ray`) to float32 precision.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

import mujoco
import numpy as np
import torch

from roboforge.terrains.generator import GeneratedTerrain, TerrainGeneratorCfg, generate_terrain
from roboforge.utils.config import ConfigError

TERRAIN_NAME = "terrain"  # the plane geom; height-field tiles are 'terrain_<i>_<j>'
_BASE_DEPTH = 1.0  # m of solid below the lowest height (MuJoCo's hfield size[3])
_NARROWPHASE_BYTES_PER_PAIR = 4000  # arena bytes MuJoCo 4.0.0's narrowphase reserves per geom pair


@dataclass(kw_only=True)
class TerrainCfg:
    """The scene's ground (`SceneCfg.terrain`); it replaces `SceneCfg.ground`'s plane."""

    type: Literal["plane", "generator"] = "generator"
    """'plane': flat ground at z = 0; 'generator': a height field made by `generator`."""
    generator: TerrainGeneratorCfg = field(default_factory=TerrainGeneratorCfg)
    """Sub-terrain grid to generate (type 'generator')."""
    max_init_terrain_level: int | None = None
    """Robots start on random levels in [0, this] (None: any level)."""
    friction: tuple[float, float, float] = (1.0, 0.005, 0.0001)
    """MuJoCo geom friction of the ground (sliding, torsional, rolling)."""
    rgba: tuple[float, float, float, float] = (0.45, 0.5, 0.55, 1.0)
    """Colour of the ground."""
    hfield_tile_size: float = 16.0
    """Largest side (m) of one MuJoCo height-field tile (keeps contacts near a field's centre)."""

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.type not in ("plane", "generator"):
            raise ConfigError(f"terrain.type must be 'plane' or 'generator', got {self.type!r}.")
        if self.hfield_tile_size <= 0:
            raise ConfigError(f"terrain.hfield_tile_size must be > 0, got {self.hfield_tile_size}.")
        if self.max_init_terrain_level is not None and self.max_init_terrain_level < 0:
            raise ConfigError(
                f"terrain.max_init_terrain_level must be >= 0, got {self.max_init_terrain_level}."
            )
        if self.type == "generator":
            self.generator.validate()


def build_terrain(cfg: TerrainCfg | None) -> GeneratedTerrain | None:
    """The generated height field of a 'generator' terrain; None for no terrain or a plane."""
    if cfg is None:
        return None
    cfg.validate()
    return generate_terrain(cfg.generator) if cfg.type == "generator" else None


def add_terrain_geom(spec: mujoco.MjSpec, cfg: TerrainCfg, generated: GeneratedTerrain | None) -> None:
    """Add the ground to `spec`: a plane named 'terrain', or the height-field tiles of `generated`."""
    if cfg.type == "plane":
        spec.worldbody.add_geom(
            name=TERRAIN_NAME,
            type=mujoco.mjtGeom.mjGEOM_PLANE,
            size=[0, 0, 0.05],
            friction=list(cfg.friction),
            rgba=list(cfg.rgba),
        )
        return
    generated = generated if generated is not None else generate_terrain(cfg.generator)
    hs = generated.horizontal_scale
    max_cells = max(1, round(cfg.hfield_tile_size / hs))
    x_bounds = tile_bounds(generated.heights.shape[0], max_cells)
    y_bounds = tile_bounds(generated.heights.shape[1], max_cells)
    for i, (x0, x1) in enumerate(itertools.pairwise(x_bounds)):
        for j, (y0, y1) in enumerate(itertools.pairwise(y_bounds)):
            tile = generated.heights[x0 : x1 + 1, y0 : y1 + 1]
            corner = (generated.origin_xy[0] + x0 * hs, generated.origin_xy[1] + y0 * hs)
            _add_hfield_tile(spec, f"{TERRAIN_NAME}_{i}_{j}", tile, corner, hs, cfg)


def terrain_arena_bytes(model: mujoco.MjModel) -> int | None:
    """Arena size (bytes) that keeps C MuJoCo alive when a world's positions turn NaN, or None if enough.

    NaN positions pass every bounding-box test, so every moving colliding geom pairs with every
    height-field tile, and MuJoCo's narrowphase reserves ~4 KB per candidate pair on the arena (a stack
    overflow there is a fatal error, not a Python exception).
    """
    tiles = [g for g in range(model.ngeom) if model.geom(g).name.startswith(f"{TERRAIN_NAME}_")]
    if len(tiles) < 2:
        return None
    moving = [
        g
        for g in range(model.ngeom)
        if model.geom_bodyid[g] != 0 and (model.geom_contype[g] or model.geom_conaffinity[g])
    ]
    extra = len(tiles) * len(moving) * _NARROWPHASE_BYTES_PER_PAIR
    return int(model.narena + 1.25 * extra)


def tile_bounds(num_samples: int, max_cells: int) -> list[int]:
    """Sample indices where tiles start/end along one axis (tiles of at most `max_cells` cells share edges)."""
    num_tiles = -(-(num_samples - 1) // max_cells)
    return [round(k * (num_samples - 1) / num_tiles) for k in range(num_tiles + 1)]


def _add_hfield_tile(
    spec: mujoco.MjSpec,
    name: str,
    heights: np.ndarray,
    corner_xy: tuple[float, float],
    horizontal_scale: float,
    cfg: TerrainCfg,
) -> None:
    """One height field `heights[ix, iy]` whose sample [0, 0] lies at `corner_xy`, as an asset and a geom."""
    low, high = float(heights.min()), float(heights.max())
    elevation = high - low
    normalized = (heights - low) / elevation if elevation > 0 else np.zeros_like(heights)
    nx, ny = heights.shape
    half = ((nx - 1) * horizontal_scale / 2, (ny - 1) * horizontal_scale / 2)
    spec.add_hfield(
        name=name,
        size=[half[0], half[1], max(elevation, 1e-3), _BASE_DEPTH],
        nrow=ny,
        ncol=nx,
        userdata=normalized.T.astype(np.float32).ravel().tolist(),
    )
    spec.worldbody.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_HFIELD,
        hfieldname=name,
        pos=[corner_xy[0] + half[0], corner_xy[1] + half[1], low],
        friction=list(cfg.friction),
        rgba=list(cfg.rgba),
    )


class Terrain:
    """The scene's terrain on the sim device: per-world levels, kinds and origins, and the height query.

    Without a height field (no terrain or a plane), there is one level and one kind, every origin is
    zero and `height_at` returns zeros.
    """

    def __init__(
        self,
        cfg: TerrainCfg | None,
        generated: GeneratedTerrain | None,
        model: mujoco.MjModel,
        num_envs: int,
        device: torch.device | str,
    ):
        self.cfg = cfg
        self.device = torch.device(device)
        self.num_envs = num_envs
        self.has_height_field = generated is not None
        if generated is None:
            self.terrain_origins = torch.zeros(1, 1, 3, device=self.device)
            self.flat_patches = torch.zeros(1, 1, 1, 3, device=self.device)
            self.patch_size = (float("inf"), float("inf"))
            self.kind_names: list[str] = []
            self._patch_kinds = torch.zeros(1, 1, dtype=torch.long, device=self.device)
            self._heights_xy = torch.zeros(2, 2, device=self.device)
            self._grid_origin, self._scale = (0.0, 0.0), 1.0
        else:
            self.terrain_origins = torch.tensor(
                generated.terrain_origins, dtype=torch.float32, device=self.device
            )
            self.flat_patches = torch.tensor(generated.flat_patches, dtype=torch.float32, device=self.device)
            self.patch_size = generated.patch_size
            self.kind_names = list(generated.kind_names)
            self._patch_kinds = torch.as_tensor(generated.kinds, dtype=torch.long, device=self.device)
            self._load_height_field(generated, model)
        self.num_rows, self.num_cols = self.terrain_origins.shape[:2]
        self.terrain_levels, self.terrain_types = self._initial_levels_and_types()
        self.env_origins = self.terrain_origins[self.terrain_levels, self.terrain_types].clone()

    def _load_height_field(self, generated: GeneratedTerrain, model: mujoco.MjModel) -> None:
        """World heights `[ix, iy]` of the whole grid, read back from the compiled tiles (what MuJoCo uses)."""
        hs = generated.horizontal_scale
        heights = np.zeros(generated.heights.shape, dtype=np.float32)
        for geom_id in range(model.ngeom):
            geom = model.geom(geom_id)
            if geom.type[0] != mujoco.mjtGeom.mjGEOM_HFIELD or not geom.name.startswith(f"{TERRAIN_NAME}_"):
                continue
            hfield = model.hfield(int(geom.dataid[0]))
            nrow, ncol = int(hfield.nrow[0]), int(hfield.ncol[0])
            size, pos = hfield.size, geom.pos
            x0 = round((pos[0] - size[0] - generated.origin_xy[0]) / hs)
            y0 = round((pos[1] - size[1] - generated.origin_xy[1]) / hs)
            data = np.asarray(hfield.data, dtype=np.float32).reshape(nrow, ncol)
            heights[x0 : x0 + ncol, y0 : y0 + nrow] = data.T * np.float32(size[2]) + np.float32(pos[2])
        self._heights_xy = torch.tensor(heights, dtype=torch.float32, device=self.device)
        self._scale = hs
        self._grid_origin = generated.origin_xy

    def _initial_levels_and_types(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Levels uniform in [0, max_init_terrain_level]; kinds (columns) spread evenly over the worlds."""
        max_level = self.num_rows - 1
        if self.cfg is not None and self.cfg.max_init_terrain_level is not None:
            max_level = min(max_level, self.cfg.max_init_terrain_level)
        seed = self.cfg.generator.seed if self.cfg is not None else 0
        gen = torch.Generator().manual_seed(seed)
        levels = torch.randint(0, max_level + 1, (self.num_envs,), generator=gen)
        types = torch.arange(self.num_envs) * self.num_cols // self.num_envs
        return levels.to(self.device), types.to(self.device)

    def update_env_origins(
        self,
        env_mask: torch.Tensor,
        move_up: torch.Tensor,
        move_down: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> None:
        """Promote (`move_up`) or demote (`move_down`) the worlds selected by `env_mask`, all `(num_envs,) bool`.

        Levels stop at 0; a world promoted past the hardest level goes to a random level. The origins of
        the selected worlds move to their new patch (in place: `env_origins` keeps its storage).
        """
        step = move_up.long() - (move_down & ~move_up).long()
        levels = self.terrain_levels + step
        random_levels = torch.randint(
            0, self.num_rows, (self.num_envs,), device=self.device, generator=generator
        )
        levels = torch.where(levels >= self.num_rows, random_levels, levels.clamp(min=0))
        self.terrain_levels[:] = torch.where(env_mask, levels, self.terrain_levels)
        origins = self.terrain_origins[self.terrain_levels, self.terrain_types]
        self.env_origins[:] = torch.where(env_mask[:, None], origins, self.env_origins)

    def mean_level_by_kind(self) -> dict[str, float]:
        """Mean terrain level of the worlds on each sub-terrain kind (host sync), e.g. {"boxes": 5.9}: which
        kind holds the curriculum back. Empty without a height field."""
        if not self.has_height_field:
            return {}
        kinds, size = self._world_kinds(), len(self.kind_names)
        count = _sum_by(kinds, torch.ones_like(kinds, dtype=torch.float32), size).cpu()
        total = _sum_by(kinds, self.terrain_levels.float(), size).cpu()
        return {name: float(t / n) for name, t, n in zip(self.kind_names, total, count, strict=True) if n > 0}

    def survival_log(
        self, mask: torch.Tensor, survived: torch.Tensor
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """(survived, ended) episode counts per sub-terrain kind and per level, for the worlds in `mask`
        (`Terrain/survived/<kind>`, `Terrain/survived/level_<i>`; no host sync): where a policy falls.
        Call before the curriculum moves the worlds. Empty without a height field."""
        if not self.has_height_field:
            return {}
        ended, ok = mask.float(), (mask & survived).float()
        log = {}
        for names, index in (
            (self.kind_names, self._world_kinds()),
            ([f"level_{i}" for i in range(self.num_rows)], self.terrain_levels),
        ):
            n, k = _sum_by(index, ended, len(names)), _sum_by(index, ok, len(names))
            log |= {f"Terrain/survived/{name}": (k[i], n[i]) for i, name in enumerate(names)}
        return log

    def patch_kinds(self) -> torch.Tensor:
        """Index into `kind_names` of every patch `(num_rows, num_cols)`."""
        return self._patch_kinds

    def _world_kinds(self) -> torch.Tensor:
        """Index into `kind_names` of each world's patch `(num_envs,)`."""
        return self._patch_kinds[self.terrain_levels, self.terrain_types]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The curriculum's state, each world's level and kind (host tensors), for a resumed run; empty
        without a height field (one level, one kind)."""
        if not self.has_height_field:
            return {}
        return {"terrain_levels": self.terrain_levels.cpu(), "terrain_types": self.terrain_types.cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore `state_dict()` of a terrain with the same grid and world count; each world's origin moves
        to its patch (in place). A state that does not fit raises ValueError saying why."""
        if not state:
            return
        if not self.has_height_field:
            raise ValueError("it has terrain levels, this env has no generated terrain")
        levels, types = state["terrain_levels"], state["terrain_types"]
        if levels.shape != (self.num_envs,) or types.shape != (self.num_envs,):
            raise ValueError(f"it holds {levels.shape[0]} worlds, this env has {self.num_envs}")
        if int(levels.max()) >= self.num_rows or int(types.max()) >= self.num_cols:
            raise ValueError(
                f"its terrain grid is larger than this env's ({self.num_rows} levels x {self.num_cols} kinds)"
            )
        self.terrain_levels[:] = levels.to(self.device)
        self.terrain_types[:] = types.to(self.device)
        self.env_origins[:] = self.terrain_origins[self.terrain_levels, self.terrain_types]

    def height_at(self, points_xy_w: torch.Tensor) -> torch.Tensor:
        """Terrain height `(...)` under world points `(..., 2)` (MuJoCo's triangulated surface).

        Points outside the height field get the height of its nearest edge.
        """
        if not self.has_height_field:
            return torch.zeros(points_xy_w.shape[:-1], device=points_xy_w.device)
        heights = self._heights_xy
        nx, ny = heights.shape
        u = ((points_xy_w[..., 0] - self._grid_origin[0]) / self._scale).clamp(0.0, nx - 1.0)
        v = ((points_xy_w[..., 1] - self._grid_origin[1]) / self._scale).clamp(0.0, ny - 1.0)
        ix = u.floor().long().clamp(max=nx - 2)
        iy = v.floor().long().clamp(max=ny - 2)
        fu, fv = u - ix, v - iy
        flat = heights.reshape(-1)
        z00, z10 = flat[ix * ny + iy], flat[(ix + 1) * ny + iy]
        z01, z11 = flat[ix * ny + iy + 1], flat[(ix + 1) * ny + iy + 1]
        below_diagonal = z00 + fu * (z10 - z00) + fv * (z11 - z10)  # fu >= fv
        above_diagonal = z00 + fv * (z01 - z00) + fu * (z11 - z01)
        return torch.where(fu >= fv, below_diagonal, above_diagonal)


def _sum_by(index: torch.Tensor, values: torch.Tensor, size: int) -> torch.Tensor:
    """Sums `(size,)` of `values` grouped by `index` (no host sync, unlike `torch.bincount` on CUDA)."""
    return torch.zeros(size, device=values.device).index_add_(0, index, values)
