"""Planar range scan (2-D lidar): distances along horizontal rays from a planar base to vertical cylinders and
the walls of a square arena, cast analytically in torch.

One batched ray-circle intersection over `(num_envs, num_rays, num_obstacles)` on the env's device: the same
numbers on both backends, no MuJoCo ray casting, no host sync (it runs inside the CUDA-graph step). Rays start
at the base's centre, spread evenly around it (the first straight ahead, counter-clockwise) and turn with its
heading; a ray that hits nothing within `max_range` reads `max_range`.
"""

from __future__ import annotations

import math

import torch

from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.planar import PLANAR_JOINTS, MocapCylinders, PlanarBase
from roboforge.utils.config import ConfigError


def ray_angles(num_rays: int, device: torch.device | str) -> torch.Tensor:
    """Ray angles `(num_rays,)` in the body frame: evenly spread, the first straight ahead, counter-clockwise."""
    return torch.arange(num_rays, device=device, dtype=torch.float32) * (2.0 * math.pi / num_rays)


def planar_range_scan(
    origin: torch.Tensor,
    heading: torch.Tensor,
    angles: torch.Tensor,
    centers: torch.Tensor,
    radii: torch.Tensor,
    max_range: float,
    arena_half_size: float | None = None,
) -> torch.Tensor:
    """Range `(N, R)` along each ray from `origin (N, 2)`, rays at `heading (N,) + angles (R,)` (rad), to the
    nearest circle `centers (N, K, 2)`, `radii (K,)` or wall of the square `[-h, h]^2` (`arena_half_size` h,
    None: no walls), clamped to `max_range`. An origin inside a circle reads 0."""
    theta = heading[:, None] + angles[None, :]
    dirs = torch.stack((torch.cos(theta), torch.sin(theta)), dim=-1)  # (N, R, 2)
    ranges = torch.full(theta.shape, max_range, device=origin.device, dtype=origin.dtype)
    if centers.shape[1] > 0:
        rel = origin[:, None, :] - centers  # (N, K, 2): circle centre -> origin
        b = torch.einsum("nrd,nkd->nrk", dirs, rel)  # (N, R, K)
        c = (rel.square().sum(-1) - radii.square())[:, None, :]  # (N, 1, K): < 0 inside the circle
        disc = b.square() - c
        t = -b - torch.sqrt(disc.clamp(min=0.0))  # nearer intersection along the ray
        hit = (disc >= 0.0) & (t >= 0.0)
        t = torch.where(c <= 0.0, torch.zeros_like(t), torch.where(hit, t, torch.full_like(t, math.inf)))
        ranges = torch.minimum(ranges, t.min(dim=-1).values)
    if arena_half_size is not None:
        ranges = torch.minimum(ranges, _wall_distance(origin, dirs, arena_half_size))
    return ranges.clamp(0.0, max_range)


def _wall_distance(origin: torch.Tensor, dirs: torch.Tensor, half: float) -> torch.Tensor:
    """Distance `(N, R)` from `origin (N, 2)` along `dirs (N, R, 2)` to the boundary of `[-half, half]^2`."""
    out = torch.full(dirs.shape[:2], math.inf, device=dirs.device, dtype=dirs.dtype)
    for axis in range(2):
        d = dirs[..., axis]
        wall = torch.where(d > 0.0, half, -half)
        safe = torch.where(d.abs() > 1e-9, d, torch.ones_like(d))
        t = torch.where(d.abs() > 1e-9, (wall - origin[:, None, axis]) / safe, torch.full_like(d, math.inf))
        out = torch.minimum(out, t)
    return out


class range_scan(ManagerTermBase):
    """Planar lidar `(num_envs, num_rays)` (m) of a planar base among the cylinders on the mocap bodies of
    `obstacle_asset` (None: none) and inside the walls of a square arena (`arena_half_size`, None: no walls)."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        p = self.params
        if int(p["num_rays"]) < 1:
            raise ConfigError(f"Observation term range_scan: num_rays must be >= 1, got {p['num_rays']}.")
        if not p["max_range"] > 0.0:
            raise ConfigError(
                f"Observation term range_scan: max_range must be > 0 (m), got {p['max_range']}."
            )
        if p["arena_half_size"] is not None and not p["arena_half_size"] > 0.0:
            raise ConfigError(
                f"Observation term range_scan: arena_half_size must be > 0 (m) or None, got {p['arena_half_size']}."
            )
        self.base = PlanarBase(env.scene[p["asset_name"]], p["joint_names"])
        asset = p["obstacle_asset"]
        self.obstacles = MocapCylinders(env, asset, p["obstacle_bodies"]) if asset is not None else None
        self.angles = ray_angles(int(p["num_rays"]), env.device)
        self.no_obstacles = torch.zeros(env.num_envs, 0, 2, device=env.device)
        self.no_radii = torch.zeros(0, device=env.device)

    def __call__(
        self,
        env: TermEnv,
        num_rays: int = 32,
        max_range: float = 3.0,
        asset_name: str = "robot",
        joint_names: tuple[str, ...] = PLANAR_JOINTS,
        obstacle_asset: str | None = "arena",
        obstacle_bodies: str | list[str] = "obstacle_.*",
        arena_half_size: float | None = None,
    ) -> torch.Tensor:
        origin, heading = self.base.pose()
        if self.obstacles is None:
            centers, radii = self.no_obstacles, self.no_radii
        else:
            centers, radii = self.obstacles.centers(), self.obstacles.radii
        return planar_range_scan(origin, heading, self.angles, centers, radii, max_range, arena_half_size)
