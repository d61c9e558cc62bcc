"""Sub-terrain height functions: one patch's heights (m) from a difficulty in [0, 1].

Every function returns a float64 array `(nx, ny)` indexed `[ix, iy]`: sample `(ix, iy)` lies at
`(ix * horizontal_scale, iy * horizontal_scale)` from the patch's low corner, with
`nx = size_x / horizontal_scale` (the next patch starts at sample `nx`). A square platform of
`platform_width` in the centre of every patch is flat: robots spawn there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-6


@dataclass(kw_only=True)
class SubTerrainCfg:
    """Base config of one sub-terrain kind."""

    proportion: float = 1.0
    """Share of the generator's columns (or of random patches) that get this kind (relative weight)."""
    platform_width: float = 2.0
    """Side (m) of the flat square in the centre of the patch, where robots spawn."""

    def heights(
        self, difficulty: float, size: tuple[float, float], horizontal_scale: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Heights `(nx, ny)` (m) of one patch of `size` (m) at `difficulty` in [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} must implement heights().")


@dataclass(kw_only=True)
class FlatTerrainCfg(SubTerrainCfg):
    """Flat ground at z = 0."""

    def heights(self, difficulty, size, horizontal_scale, rng) -> np.ndarray:
        x, y = patch_coords(size, horizontal_scale)
        return np.zeros((x.shape[0], y.shape[1]))


@dataclass(kw_only=True)
class RandomRoughTerrainCfg(SubTerrainCfg):
    """Uniform noise in [-a, a]; the amplitude a grows with difficulty."""

    amplitude_range: tuple[float, float] = (0.01, 0.08)
    """Noise amplitude a (m) at difficulty 0 and at difficulty 1."""
    noise_step: float = 0.005
    """Noise heights are rounded to multiples of this (m); 0 keeps them continuous."""
    downsampled_scale: float | None = None
    """Spacing (m) of the noise samples, interpolated bilinearly onto the grid (None: one per grid sample)."""

    def heights(self, difficulty, size, horizontal_scale, rng) -> np.ndarray:
        amplitude = lerp(self.amplitude_range, difficulty)
        x, y = patch_coords(size, horizontal_scale)
        spacing = self.downsampled_scale or horizontal_scale
        coarse_n = (int(np.ceil(size[0] / spacing)) + 1, int(np.ceil(size[1] / spacing)) + 1)
        coarse = rng.uniform(-amplitude, amplitude, coarse_n)
        if self.noise_step > 0:
            coarse = np.round(coarse / self.noise_step) * self.noise_step
        heights = upsample_bilinear(coarse, spacing, (x.shape[0], y.shape[1]), horizontal_scale)
        return flatten_platform(heights, x, y, self.platform_width, 0.0)


@dataclass(kw_only=True)
class PyramidSlopedTerrainCfg(SubTerrainCfg):
    """Four slopes rising (or, inverted, falling) from the patch edge to the central platform."""

    slope_range: tuple[float, float] = (0.0, 0.4)
    """Slope (rise over run) at difficulty 0 and at difficulty 1."""
    inverted: bool = False
    """Slope down into a pit instead of up onto a hill."""

    def heights(self, difficulty, size, horizontal_scale, rng) -> np.ndarray:
        slope = lerp(self.slope_range, difficulty)
        x, y = patch_coords(size, horizontal_scale)
        run_to_platform = min(size) / 2 - self.platform_width / 2
        heights = slope * np.clip(edge_distance(x, y, size), 0.0, run_to_platform)
        return -heights if self.inverted else heights


@dataclass(kw_only=True)
class PyramidStairsTerrainCfg(SubTerrainCfg):
    """Square rings of steps climbing (or, inverted, descending) from the patch edge to the platform."""

    step_height_range: tuple[float, float] = (0.05, 0.23)
    """Step height (m) at difficulty 0 and at difficulty 1."""
    step_width: float = 0.3
    """Tread depth (m) of each step."""
    inverted: bool = False
    """Steps go down into a pit instead of up."""

    def heights(self, difficulty, size, horizontal_scale, rng) -> np.ndarray:
        step_height = lerp(self.step_height_range, difficulty)
        x, y = patch_coords(size, horizontal_scale)
        num_steps = int(np.floor((min(size) / 2 - self.platform_width / 2) / self.step_width + _EPS))
        step = np.floor(edge_distance(x, y, size) / self.step_width + _EPS)
        heights = step_height * np.clip(step, 0, num_steps)
        heights = flatten_platform(heights, x, y, self.platform_width, step_height * num_steps)
        return -heights if self.inverted else heights


@dataclass(kw_only=True)
class BoxGridTerrainCfg(SubTerrainCfg):
    """A grid of square boxes with random heights in [-h, h]; h grows with difficulty."""

    height_range: tuple[float, float] = (0.02, 0.15)
    """Largest box height h (m) at difficulty 0 and at difficulty 1."""
    box_width: float = 0.5
    """Side (m) of each box."""

    def heights(self, difficulty, size, horizontal_scale, rng) -> np.ndarray:
        max_height = lerp(self.height_range, difficulty)
        x, y = patch_coords(size, horizontal_scale)
        nbx, nby = int(np.ceil(size[0] / self.box_width)), int(np.ceil(size[1] / self.box_width))
        box_heights = rng.uniform(-max_height, max_height, (nbx, nby))
        ix = np.minimum(((x[:, 0] + size[0] / 2) / self.box_width + _EPS).astype(int), nbx - 1)
        iy = np.minimum(((y[0, :] + size[1] / 2) / self.box_width + _EPS).astype(int), nby - 1)
        heights = box_heights[ix[:, None], iy[None, :]]
        return flatten_platform(heights, x, y, self.platform_width, 0.0)


@dataclass(kw_only=True)
class DiscreteObstaclesTerrainCfg(SubTerrainCfg):
    """Randomly placed rectangular blocks sticking up or down by h/2..h; h grows with difficulty."""

    height_range: tuple[float, float] = (0.05, 0.2)
    """Largest obstacle height h (m) at difficulty 0 and at difficulty 1."""
    width_range: tuple[float, float] = (0.25, 1.0)
    """Side lengths (m) of each obstacle are drawn uniformly from this range."""
    num_obstacles: int = 40
    """Obstacles per patch (later ones overwrite earlier ones where they overlap)."""

    def heights(self, difficulty, size, horizontal_scale, rng) -> np.ndarray:
        max_height = lerp(self.height_range, difficulty)
        x, y = patch_coords(size, horizontal_scale)
        heights = np.zeros((x.shape[0], y.shape[1]))
        for _ in range(self.num_obstacles):
            width_x, width_y = rng.uniform(*self.width_range, 2)
            cx, cy = rng.uniform(-size[0] / 2, size[0] / 2), rng.uniform(-size[1] / 2, size[1] / 2)
            height = rng.uniform(max_height / 2, max_height) * rng.choice((-1.0, 1.0))
            inside = (np.abs(x - cx) <= width_x / 2) & (np.abs(y - cy) <= width_y / 2)
            heights = np.where(inside, height, heights)
        return flatten_platform(heights, x, y, self.platform_width, 0.0)


# helpers ------------------------------------------------------------------------------------------
def lerp(value_range: tuple[float, float], difficulty: float) -> float:
    """The value at `difficulty` in [0, 1] between `value_range[0]` and `value_range[1]`."""
    return value_range[0] + float(difficulty) * (value_range[1] - value_range[0])


def patch_coords(size: tuple[float, float], horizontal_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample coordinates relative to the patch centre: x `(nx, 1)` and y `(1, ny)` (m)."""
    nx, ny = round(size[0] / horizontal_scale), round(size[1] / horizontal_scale)
    x = np.arange(nx) * horizontal_scale - size[0] / 2
    y = np.arange(ny) * horizontal_scale - size[1] / 2
    return x[:, None], y[None, :]


def edge_distance(x: np.ndarray, y: np.ndarray, size: tuple[float, float]) -> np.ndarray:
    """Distance (m) from each sample inward to the nearest patch edge (square rings around the centre)."""
    return np.minimum(size[0] / 2 - np.abs(x), size[1] / 2 - np.abs(y))


def platform_mask(x: np.ndarray, y: np.ndarray, width: float) -> np.ndarray:
    """Samples `(nx, ny)` on the central square platform of side `width`."""
    return (np.abs(x) <= width / 2 + _EPS) & (np.abs(y) <= width / 2 + _EPS)


def flatten_platform(heights: np.ndarray, x: np.ndarray, y: np.ndarray, width: float, height: float):
    """`heights` with the central platform set to `height`."""
    return np.where(platform_mask(x, y, width), height, heights)


def upsample_bilinear(
    coarse: np.ndarray, coarse_spacing: float, shape: tuple[int, int], spacing: float
) -> np.ndarray:
    """Bilinear interpolation of `coarse` (samples every `coarse_spacing` m) onto `shape` samples every `spacing` m."""
    coarse_x = np.arange(coarse.shape[0]) * coarse_spacing
    coarse_y = np.arange(coarse.shape[1]) * coarse_spacing
    fine_x, fine_y = np.arange(shape[0]) * spacing, np.arange(shape[1]) * spacing
    along_x = np.stack([np.interp(fine_x, coarse_x, coarse[:, j]) for j in range(coarse.shape[1])], axis=1)
    return np.stack([np.interp(fine_y, coarse_y, along_x[i, :]) for i in range(shape[0])], axis=0)
