"""Planar robots and cylinder obstacles, resolved once for the terms that use them (navigation).

`PlanarBase`: a base moved by a slide-x, a slide-y and a yaw hinge joint (`assets/builtin/point_robot.py`);
its world pose is read from the joints, which are exact after every physics step (no sensor lag).
`MocapCylinders`: cylinders carried by mocap bodies of an entity (the arena's obstacles); their centres are
per-world state (`sim.mocap_pos`), written in place with a world mask, their radii come from the model.
"""

from __future__ import annotations

import mujoco
import torch

from roboforge.managers.term_env import TermEnv
from roboforge.scene.entity import Entity
from roboforge.utils.config import ConfigError

PLANAR_JOINTS = ("x", "y", "yaw")
"""Default names of a planar base's slide-x, slide-y and yaw joints."""


class PlanarBase:
    """The x, y (slide) and yaw (hinge) joints of an entity, in that order; the entity is attached without
    rotation, so world xy = attachment point + slide positions and heading = yaw joint position."""

    def __init__(self, entity: Entity, joint_names: tuple[str, ...] | list[str] = PLANAR_JOINTS):
        if len(joint_names) != 3:
            raise ConfigError(
                f"joint_names must name the x, y and yaw joints of a planar base, got {list(joint_names)}."
            )
        self.entity = entity
        ids = [entity.find_joints(name)[0] for name in joint_names]
        if any(len(i) != 1 for i in ids):
            raise ConfigError(
                f"joint_names {list(joint_names)} must each match exactly one joint of entity {entity.name!r}."
            )
        self.ids = torch.tensor([i[0] for i in ids], dtype=torch.long, device=entity.device)

    def pose(self) -> tuple[torch.Tensor, torch.Tensor]:
        """World position `(num_envs, 2)` and heading `(num_envs,)` (rad)."""
        q = self.entity.data.joint_pos[:, self.ids]
        return self.entity.default_root_pos[:, :2] + q[:, :2], q[:, 2]

    def velocity_b(self) -> torch.Tensor:
        """Body-frame velocity `(num_envs, 3)`: forward, left (m/s) and yaw rate (rad/s)."""
        qd = self.entity.data.joint_vel[:, self.ids]
        _, yaw = self.pose()
        return torch.cat((rotate(qd[:, :2], -yaw), qd[:, 2:]), dim=1)


def rotate(xy: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Planar vectors `(N, ..., 2)` turned by `angle (N,)` (rad, counter-clockwise)."""
    shape = (-1,) + (1,) * (xy.dim() - 2)
    cos, sin = torch.cos(angle).view(shape), torch.sin(angle).view(shape)
    x, y = xy[..., 0], xy[..., 1]
    return torch.stack((cos * x - sin * y, sin * x + cos * y), dim=-1)


class MocapCylinders:
    """Vertical cylinders on the mocap bodies `body_names` (regexes) of entity `entity_name`.

    Centres `(num_envs, K, 2)` are the simulator's `mocap_pos` (per world, set by the caller, reset to the
    model's positions by `sim.reset`); radii `(K,)` are those of each body's cylinder geom.
    """

    def __init__(self, env: TermEnv, entity_name: str, body_names: str | list[str] = ".*"):
        entity = env.scene[entity_name]
        model = env.scene.model
        ids, names = entity.find_bodies(body_names)
        mocap, radii = [], []
        for name, body in zip(names, (entity.body_ids[i] for i in ids), strict=True):
            mocap_id = int(model.body_mocapid[body])
            geoms = range(
                int(model.body_geomadr[body]), int(model.body_geomadr[body] + model.body_geomnum[body])
            )
            cylinders = [g for g in geoms if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CYLINDER]
            if mocap_id < 0 or not cylinders:
                raise ConfigError(
                    f"Entity {entity_name!r} body {name!r} must be a mocap body with a cylinder geom to be an "
                    "obstacle (see assets/builtin/point_robot.py:arena_spec)."
                )
            mocap.append(mocap_id)
            radii.append(float(model.geom_size[cylinders[0], 0]))
        self.sim = env.sim
        self.mocap_ids = torch.tensor(mocap, dtype=torch.long, device=env.device)
        self.radii = torch.tensor(radii, device=env.device)

    @property
    def count(self) -> int:
        return int(self.mocap_ids.numel())

    def centers(self) -> torch.Tensor:
        """Centres `(num_envs, K, 2)`, world frame."""
        return self.sim.mocap_pos[:, self.mocap_ids, :2].float()

    def write(self, centers: torch.Tensor, mask: torch.Tensor) -> None:
        """Move the cylinders to `centers (num_envs, K, 2)` in the worlds selected by `mask` (heights kept)."""
        pos = self.sim.mocap_pos
        old = pos[:, self.mocap_ids, :2]
        pos[:, self.mocap_ids, :2] = torch.where(mask[:, None, None], centers.to(pos.dtype), old)
