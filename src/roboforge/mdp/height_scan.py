"""Height scan: terrain heights on a grid of points around a body, aligned with its heading (yaw only).

Like a downward ray caster attached with yaw-only alignment: the grid turns with the body's heading but
not with its roll or pitch. Values are `body z - terrain z - height_offset` per point, from
`scene.terrain.height_at` (exact on MuJoCo's height field, zero terrain height on a plane).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError


@dataclass(kw_only=True)
class GridPatternCfg:
    """A rectangular grid of scan points centred in the body's heading frame."""

    size: tuple[float, float] = (1.6, 1.0)
    """Grid extent (m) along the heading (x) and to the left (y)."""
    resolution: float = 0.1
    """Spacing (m) between points."""
    offset_xy: tuple[float, float] = (0.0, 0.0)
    """Grid centre (m) in the heading frame, relative to the body (e.g. (0.2, 0) to scan ahead)."""

    def points_yaw(self, device: torch.device | str) -> torch.Tensor:
        """Points `(num_rays, 2)` in the heading frame, x varying fastest."""
        if self.resolution <= 0 or min(self.size) < 0:
            raise ConfigError(
                f"GridPatternCfg: resolution must be > 0 and size >= 0, got {self.resolution}, {self.size}."
            )
        xs = torch.arange(-self.size[0] / 2, self.size[0] / 2 + 1e-9, self.resolution, device=device)
        ys = torch.arange(-self.size[1] / 2, self.size[1] / 2 + 1e-9, self.resolution, device=device)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (ny, nx): x fastest once flattened
        points = torch.stack((grid_x.reshape(-1), grid_y.reshape(-1)), dim=1)
        return points + torch.tensor(self.offset_xy, device=device)


@dataclass(kw_only=True)
class HeightScannerCfg:
    """Which body scans the terrain, with which grid."""

    asset_name: str = "robot"
    """Entity carrying the scanner."""
    body_name: str | None = None
    """Body the grid follows (None: the entity's root, read from the free joint)."""
    pattern: GridPatternCfg = field(default_factory=GridPatternCfg)
    """Scan points."""
    height_offset: float = 0.5
    """Subtracted from every value (about the body's standing height, so values stay near zero)."""


class HeightScanner:
    """A height scanner bound to an env: `heights()` is `(num_envs, num_rays)`."""

    def __init__(self, cfg: HeightScannerCfg, env: TermEnv):
        self.cfg = cfg
        self.env = env
        self.entity = env.scene[cfg.asset_name]
        self.body_index = None if cfg.body_name is None else self.entity.find_bodies(cfg.body_name)[0][0]
        self.points_yaw = cfg.pattern.points_yaw(env.device)

    @property
    def num_rays(self) -> int:
        return self.points_yaw.shape[0]

    def body_pose_w(self) -> tuple[torch.Tensor, torch.Tensor]:
        """World position `(num_envs, 3)` and orientation `(num_envs, 4)` of the scanning body."""
        data = self.entity.data
        if self.body_index is None:
            return data.root_pos_w, data.root_quat_w
        return data.body_pos_w[:, self.body_index], data.body_quat_w[:, self.body_index]

    def points_w(self) -> tuple[torch.Tensor, torch.Tensor]:
        """World xy of the scan points `(num_envs, num_rays, 2)` and the body position `(num_envs, 3)`."""
        pos_w, quat_w = self.body_pose_w()
        cos_yaw, sin_yaw = yaw_cos_sin(quat_w)
        px, py = self.points_yaw[:, 0], self.points_yaw[:, 1]
        x = pos_w[:, :1] + cos_yaw[:, None] * px - sin_yaw[:, None] * py
        y = pos_w[:, 1:2] + sin_yaw[:, None] * px + cos_yaw[:, None] * py
        return torch.stack((x, y), dim=-1), pos_w

    def heights(self) -> torch.Tensor:
        """`body z - terrain z - height_offset` at every scan point `(num_envs, num_rays)`."""
        points_xy_w, pos_w = self.points_w()
        terrain = self.env.scene.terrain
        assert terrain is not None  # created when the env binds the scene to its simulator
        terrain_z = terrain.height_at(points_xy_w)
        return pos_w[:, 2:3] - terrain_z - self.cfg.height_offset


def yaw_cos_sin(quat_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and sine of the heading (yaw) of quaternions `(..., 4)` (w, x, y, z)."""
    w, x, y, z = quat_w.unbind(-1)
    yaw = torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return torch.cos(yaw), torch.sin(yaw)


class height_scan(ManagerTermBase):
    """Height scan `(num_envs, num_rays)`: body z - terrain z - height_offset on a yaw-aligned grid."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        p = self.params
        size, offset_xy = p["size"], p["offset_xy"]
        pattern = GridPatternCfg(
            size=(size[0], size[1]), resolution=p["resolution"], offset_xy=(offset_xy[0], offset_xy[1])
        )
        scanner_cfg = HeightScannerCfg(
            asset_name=p["asset_name"],
            body_name=p["body_name"],
            pattern=pattern,
            height_offset=p["height_offset"],
        )
        self.scanner = HeightScanner(scanner_cfg, env)

    def __call__(
        self,
        env: TermEnv,
        asset_name: str = "robot",
        body_name: str | None = None,
        size: tuple[float, float] = (1.6, 1.0),
        resolution: float = 0.1,
        offset_xy: tuple[float, float] = (0.0, 0.0),
        height_offset: float = 0.5,
    ) -> torch.Tensor:
        return self.scanner.heights()
