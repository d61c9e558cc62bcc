"""Event terms `(env, env_mask, **params)`: they change state only in the worlds where `env_mask` is True.

Terms that resolve names, bounds or nominal model values once are `ManagerTermBase` classes, built with
the env before any event runs (`__init__`), then called like the functions.
"""

from __future__ import annotations

import torch

from roboforge.managers.event_manager import writes_model_fields
from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError
from roboforge.utils.math import quat_from_euler_xyz, quat_mul, sample_uniform

POSE_KEYS = ("x", "y", "z", "roll", "pitch", "yaw")


def reset_joints_by_offset(
    env: TermEnv,
    env_mask: torch.Tensor,
    position_range: tuple[float, float],
    velocity_range: tuple[float, float],
    asset_name: str = "robot",
    joint_names: list[str] | None = None,
) -> None:
    """Joint state = defaults + uniform offsets, clamped to the joint limits."""
    entity = env.scene[asset_name]
    idx = entity.joint_index(joint_names)
    pos, vel = entity.data.joint_pos, entity.data.joint_vel
    shape = entity.default_joint_pos[:, idx].shape
    new_pos = entity.default_joint_pos[:, idx] + sample_uniform(*position_range, shape, env.device, env.rng)
    new_vel = entity.default_joint_vel[:, idx] + sample_uniform(*velocity_range, shape, env.device, env.rng)
    limits = entity.joint_pos_limits[idx]
    pos[:, idx] = torch.clamp(new_pos, limits[:, 0], limits[:, 1])
    vel[:, idx] = new_vel
    entity.write_joint_state(pos, vel, env_mask)


class reset_root_state_uniform(ManagerTermBase):
    """Root pose = env origin + default + uniform offsets in x, y, z, roll, pitch, yaw; velocity uniform.

    Floating bases only. `scene.env_origins` is zero without a terrain, the world's patch origin with one.
    """

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.pose_bounds = range_bounds(env, self.params["pose_range"], POSE_KEYS)
        self.velocity_bounds = range_bounds(env, self.params["velocity_range"] or {}, POSE_KEYS)

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        pose_range: dict[str, tuple[float, float]],
        velocity_range: dict[str, tuple[float, float]] | None = None,
        asset_name: str = "robot",
    ) -> None:
        entity = env.scene[asset_name]
        n = env.num_envs
        pose = sample_uniform(*self.pose_bounds, (n, len(POSE_KEYS)), env.device, env.rng)
        pos = env.scene.env_origins + entity.default_root_pos + pose[:, :3]
        quat = quat_mul(entity.default_root_quat, quat_from_euler_xyz(pose[:, 3], pose[:, 4], pose[:, 5]))
        vel = sample_uniform(*self.velocity_bounds, (n, len(POSE_KEYS)), env.device, env.rng)
        entity.write_root_state(pos, quat, vel[:, :3], vel[:, 3:], env_mask)


@writes_model_fields(from_param="field")
class randomize_model_field(ManagerTermBase):
    """Per-world model field (e.g. 'geom_friction', 'body_mass') = nominal (op) uniform sample.

    `operation`: 'scale' multiplies the nominal value, 'add' offsets it, 'abs' replaces it. `ids` picks
    rows of the field (bodies, geoms, dofs ...); None changes all rows.
    """

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        field, ids = self.params["field"], self.params["ids"]
        all_rows = torch.arange(env.sim.model_field(field).shape[1], device=env.device)
        self.entries = ModelFieldEntries(env, field, all_rows if ids is None else all_rows[ids])

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        field: str,
        value_range: tuple[float, float],
        operation: str = "scale",
        ids: list[int] | None = None,
    ) -> None:
        shape = (env.num_envs, *self.entries.nominal.shape[1:])
        self.entries.write(env, env_mask, sample_uniform(*value_range, shape, env.device, env.rng), operation)


OPERATIONS = ("scale", "add", "abs")


class ModelFieldEntries:
    """Rows `rows` of a per-world model field and their nominal values, read when the term is built (before
    any event writes the field), so repeated draws do not drift."""

    def __init__(self, env: TermEnv, field: str, rows: torch.Tensor, col: int | None = None):
        self.field, self.rows, self.col = field, rows, col
        nominal = env.sim.model_field(field)[:, rows]
        self.nominal = (nominal if col is None else nominal[:, :, col]).clone()

    def write(self, env: TermEnv, env_mask: torch.Tensor, sample: torch.Tensor, operation: str) -> None:
        """Set the entries to nominal (op) `sample` in the masked worlds; other entries keep their values."""
        check_operation(operation)
        view = env.sim.model_field(self.field)
        new = view.clone()
        value = apply_operation(operation, self.nominal, sample.to(view.dtype))
        if self.col is None:
            new[:, self.rows] = value
        else:
            new[:, self.rows, self.col] = value
        env.sim.write_model_field(self.field, new, env_mask)


def check_operation(operation: str) -> None:
    if operation not in OPERATIONS:
        raise ConfigError(
            f"Randomization operation must be one of {', '.join(OPERATIONS)}, got {operation!r}."
        )


def apply_operation(operation: str, nominal: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """nominal * sample ('scale'), nominal + sample ('add') or sample ('abs')."""
    if operation == "scale":
        return nominal * sample
    return nominal + sample if operation == "add" else sample.to(nominal.dtype)


def range_bounds(
    env: TermEnv, ranges: dict[str, tuple[float, float]], keys: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper bounds `(len(keys),)` on the env's device (missing keys: 0); built once, at term build."""
    lo = torch.tensor([ranges.get(k, (0.0, 0.0))[0] for k in keys], device=env.device)
    hi = torch.tensor([ranges.get(k, (0.0, 0.0))[1] for k in keys], device=env.device)
    return lo, hi
