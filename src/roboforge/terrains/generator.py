"""`TerrainGeneratorCfg` -> one height field of sub-terrain patches: rows = difficulty levels, columns = kinds.

World layout (z up, the terrain centred at the world origin): patch `(row, col)` spans x in
`[row * size_x, (row + 1) * size_x] - num_rows * size_x / 2` and y likewise with `col`, `num_cols`. A flat
border of `border_width` surrounds the patches. Heights are sampled every `horizontal_scale` metres;
`heights[ix, iy]` lies at `origin_xy + (ix, iy) * horizontal_scale`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from roboforge.terrains.sub_terrains import FlatTerrainCfg, SubTerrainCfg
from roboforge.utils.config import ConfigError


@dataclass(kw_only=True)
class FlatPatchSamplingCfg:
    """How candidate target positions on locally flat ground are sampled in every patch."""

    num_patches: int = 10
    """Positions P per patch."""
    radius: float = 0.5
    """Half side (m) of the square around a position that must be flat."""
    max_height_diff: float = 0.05
    """Largest height difference (m) allowed inside that square."""


@dataclass(kw_only=True)
class TerrainGeneratorCfg:
    """A grid of procedurally generated sub-terrain patches with a flat border."""

    size: tuple[float, float] = (8.0, 8.0)
    """Side lengths (m) of one patch along x and y (multiples of `horizontal_scale`)."""
    border_width: float = 10.0
    """Width (m) of the flat border around the patch grid."""
    num_rows: int = 10
    """Patches along x: difficulty levels, easiest at row 0."""
    num_cols: int = 20
    """Patches along y: sub-terrain kinds, allocated by their proportions."""
    horizontal_scale: float = 0.1
    """Distance (m) between height samples."""
    vertical_scale: float = 0.005
    """Heights are rounded to multiples of this (m); 0 keeps them continuous."""
    slope_threshold: float | None = 0.75
    """Steepest slope (rise over run) on a flat patch. MuJoCo height fields have no vertical walls, so
    (unlike a mesh terrain) it does not sharpen steps; None: no slope limit."""
    sub_terrains: dict[str, SubTerrainCfg] = field(default_factory=lambda: {"flat": FlatTerrainCfg()})
    """Sub-terrain kinds by name."""
    curriculum: bool = True
    """Rows of increasing difficulty and columns by proportion; False: every patch gets a random kind
    (by proportion) and a random difficulty."""
    difficulty_range: tuple[float, float] = (0.0, 1.0)
    """Difficulties of the easiest and the hardest row, within [0, 1]."""
    seed: int = 0
    """Seed of the generator's random numbers (noise, boxes, flat patches, initial levels)."""
    flat_patch_sampling: FlatPatchSamplingCfg = field(default_factory=FlatPatchSamplingCfg)
    """Candidate target positions on flat ground (`terrain.flat_patches`)."""

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        _check(self.num_rows >= 1, f"terrain.generator.num_rows must be >= 1, got {self.num_rows}.")
        _check(self.num_cols >= 1, f"terrain.generator.num_cols must be >= 1, got {self.num_cols}.")
        _check(self.horizontal_scale > 0, "terrain.generator.horizontal_scale must be > 0.")
        _check(self.vertical_scale >= 0, "terrain.generator.vertical_scale must be >= 0.")
        _check(self.border_width >= 0, "terrain.generator.border_width must be >= 0.")
        for axis, side in zip("xy", self.size, strict=True):
            cells = side / self.horizontal_scale
            _check(
                side > 0 and abs(cells - round(cells)) < 1e-6 and round(cells) >= 2,
                f"terrain.generator.size[{axis}] = {side} must be a positive multiple of horizontal_scale "
                f"({self.horizontal_scale}) spanning at least 2 samples.",
            )
        lo, hi = self.difficulty_range
        _check(
            0.0 <= lo <= hi <= 1.0,
            f"terrain.generator.difficulty_range must satisfy 0 <= lo <= hi <= 1, got {self.difficulty_range}.",
        )
        _check(bool(self.sub_terrains), "terrain.generator.sub_terrains is empty: add at least one kind.")
        for name, sub in self.sub_terrains.items():
            _check(
                sub.proportion >= 0,
                f"terrain.generator.sub_terrains[{name!r}].proportion must be >= 0, got {sub.proportion}.",
            )
            _check(
                0 <= sub.platform_width <= min(self.size),
                f"terrain.generator.sub_terrains[{name!r}].platform_width must be in [0, {min(self.size)}].",
            )
        _check(
            sum(s.proportion for s in self.sub_terrains.values()) > 0,
            "terrain.generator.sub_terrains: every proportion is 0; give at least one kind a proportion > 0.",
        )
        _check(
            self.flat_patch_sampling.num_patches >= 1,
            "terrain.generator.flat_patch_sampling.num_patches must be >= 1.",
        )


@dataclass
class GeneratedTerrain:
    """A generated height field and what the runtime terrain needs from it (world frame, metres)."""

    heights: np.ndarray
    """Heights `(nx, ny)` indexed `[ix, iy]`."""
    horizontal_scale: float
    """Distance (m) between samples."""
    origin_xy: tuple[float, float]
    """World position of sample `[0, 0]`."""
    patch_size: tuple[float, float]
    """Side lengths (m) of one patch."""
    terrain_origins: np.ndarray
    """Patch centres `(num_rows, num_cols, 3)`; z = platform height."""
    flat_patches: np.ndarray
    """Positions on locally flat ground `(num_rows, num_cols, P, 3)`."""
    difficulty: np.ndarray
    """Difficulty of every patch `(num_rows, num_cols)`."""
    kinds: np.ndarray
    """Index into `kind_names` of every patch `(num_rows, num_cols)`."""
    kind_names: list[str]
    """Sub-terrain names in the order of `cfg.sub_terrains`."""


def generate_terrain(cfg: TerrainGeneratorCfg) -> GeneratedTerrain:
    """Generate every patch and assemble the height field (deterministic for a given `cfg.seed`)."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    hs = cfg.horizontal_scale
    patch_n = (round(cfg.size[0] / hs), round(cfg.size[1] / hs))
    border_n = round(cfg.border_width / hs)
    heights = np.zeros(
        (cfg.num_rows * patch_n[0] + 2 * border_n + 1, cfg.num_cols * patch_n[1] + 2 * border_n + 1)
    )
    origin_xy = (
        -cfg.num_rows * cfg.size[0] / 2 - border_n * hs,
        -cfg.num_cols * cfg.size[1] / 2 - border_n * hs,
    )
    kinds, difficulty = patch_layout(cfg, rng)
    subs = list(cfg.sub_terrains.values())
    for row in range(cfg.num_rows):
        for col in range(cfg.num_cols):
            patch = subs[kinds[row, col]].heights(float(difficulty[row, col]), cfg.size, hs, rng)
            x0, y0 = border_n + row * patch_n[0], border_n + col * patch_n[1]
            heights[x0 : x0 + patch_n[0], y0 : y0 + patch_n[1]] = patch
    if cfg.vertical_scale > 0:
        heights = np.round(heights / cfg.vertical_scale) * cfg.vertical_scale
    origins = _patch_origins(cfg, heights, origin_xy, patch_n, border_n)
    flat = np.stack(
        [
            np.stack(
                [
                    _sample_flat_patches(cfg, heights, origin_xy, patch_n, border_n, r, c, rng)
                    for c in range(cfg.num_cols)
                ]
            )
            for r in range(cfg.num_rows)
        ]
    )
    return GeneratedTerrain(
        heights=heights,
        horizontal_scale=hs,
        origin_xy=origin_xy,
        patch_size=(float(cfg.size[0]), float(cfg.size[1])),
        terrain_origins=origins,
        flat_patches=flat,
        difficulty=difficulty,
        kinds=kinds,
        kind_names=list(cfg.sub_terrains),
    )


def patch_layout(cfg: TerrainGeneratorCfg, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Kind index and difficulty of every patch, each `(num_rows, num_cols)`.

    Curriculum: column j gets the kind whose cumulative proportion first exceeds (j + 0.5) / num_cols,
    row i a difficulty in the i-th of num_rows equal slices of `difficulty_range`.
    """
    proportions = np.array([s.proportion for s in cfg.sub_terrains.values()], dtype=float)
    proportions /= proportions.sum()
    lo, hi = cfg.difficulty_range
    shape = (cfg.num_rows, cfg.num_cols)
    if not cfg.curriculum:
        kinds = rng.choice(len(proportions), size=shape, p=proportions)
        return kinds, rng.uniform(lo, hi, shape)
    column_centres = (np.arange(cfg.num_cols) + 0.5) / cfg.num_cols
    col_kinds = np.searchsorted(np.cumsum(proportions), column_centres, side="right")
    col_kinds = np.minimum(col_kinds, len(proportions) - 1)
    kinds = np.broadcast_to(col_kinds, shape).copy()
    level = (np.arange(cfg.num_rows)[:, None] + rng.uniform(0.0, 1.0, shape)) / cfg.num_rows
    return kinds, lo + (hi - lo) * level


def _patch_origins(cfg, heights, origin_xy, patch_n, border_n) -> np.ndarray:
    """Centre of every patch `(num_rows, num_cols, 3)` with z = the height at the centre sample."""
    origins = np.zeros((cfg.num_rows, cfg.num_cols, 3))
    for row in range(cfg.num_rows):
        for col in range(cfg.num_cols):
            ix = border_n + row * patch_n[0] + patch_n[0] // 2
            iy = border_n + col * patch_n[1] + patch_n[1] // 2
            hs = cfg.horizontal_scale
            origins[row, col] = (origin_xy[0] + ix * hs, origin_xy[1] + iy * hs, heights[ix, iy])
    return origins


def _sample_flat_patches(cfg, heights, origin_xy, patch_n, border_n, row, col, rng) -> np.ndarray:
    """`num_patches` world positions `(P, 3)` inside patch (row, col) whose surroundings are flat."""
    sampling, hs = cfg.flat_patch_sampling, cfg.horizontal_scale
    x0, y0 = border_n + row * patch_n[0], border_n + col * patch_n[1]
    patch = heights[x0 : x0 + patch_n[0] + 1, y0 : y0 + patch_n[1] + 1]
    flat = flat_sample_mask(
        patch, round(sampling.radius / hs), sampling.max_height_diff, hs, cfg.slope_threshold
    )
    candidates = np.argwhere(flat)
    if len(candidates) == 0:  # the platform is narrower than the flat square: use the patch centre
        candidates = np.array([[patch_n[0] // 2, patch_n[1] // 2]])
    pick = rng.choice(len(candidates), sampling.num_patches, replace=len(candidates) < sampling.num_patches)
    ix, iy = candidates[pick, 0], candidates[pick, 1]
    xs = origin_xy[0] + (x0 + ix) * hs
    ys = origin_xy[1] + (y0 + iy) * hs
    return np.stack((xs, ys, patch[ix, iy]), axis=1)


def flat_sample_mask(
    heights: np.ndarray,
    radius_n: int,
    max_height_diff: float,
    horizontal_scale: float,
    slope_threshold: float | None,
) -> np.ndarray:
    """Samples `heights.shape` whose square of `radius_n` samples fits in the array and is flat enough."""
    spread = _window_extreme(heights, radius_n, np.maximum) - _window_extreme(heights, radius_n, np.minimum)
    flat = spread <= max_height_diff + 1e-9
    if slope_threshold is not None:
        slope = np.zeros_like(heights)
        slope[:-1] = np.maximum(slope[:-1], np.abs(np.diff(heights, axis=0)) / horizontal_scale)
        slope[:, :-1] = np.maximum(slope[:, :-1], np.abs(np.diff(heights, axis=1)) / horizontal_scale)
        flat &= _window_extreme(slope, radius_n, np.maximum) <= slope_threshold
    inside = np.zeros_like(flat)
    inside[radius_n : heights.shape[0] - radius_n, radius_n : heights.shape[1] - radius_n] = True
    return flat & inside


def _window_extreme(values: np.ndarray, radius_n: int, reduce) -> np.ndarray:
    """Max (or min) over the square window of `radius_n` samples around each sample (edges clamped)."""
    out = values
    for axis in (0, 1):
        padded = np.pad(out, [(radius_n, radius_n) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = out.shape[axis]
        result = np.take(padded, range(0, n), axis=axis)
        for shift in range(1, 2 * radius_n + 1):
            result = reduce(result, np.take(padded, range(shift, shift + n), axis=axis))
        out = result
    return out


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
