"""Event terms `(env, env_mask, **params)`: they change state only in the worlds where `env_mask` is True."""

from __future__ import annotations

import torch

from roboforge.mdp.cache import cached
from roboforge.utils.math import quat_from_euler_xyz, quat_mul, sample_uniform


def reset_joints_by_offset(
    env,
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


def reset_root_state_uniform(
    env,
    env_mask: torch.Tensor,
    pose_range: dict[str, tuple[float, float]],
    velocity_range: dict[str, tuple[float, float]] | None = None,
    asset_name: str = "robot",
) -> None:
    """Root pose = env origin + default + uniform offsets in x, y, z, roll, pitch, yaw; velocity uniform.

    Floating bases only. `scene.env_origins` is zero without a terrain, the world's patch origin with one.
    """
    entity = env.scene[asset_name]
    n = env.num_envs

    def draw(ranges: dict[str, tuple[float, float]], keys: tuple[str, ...]) -> torch.Tensor:
        lo, hi = range_bounds(env, ranges, keys)
        return sample_uniform(lo, hi, (n, len(keys)), env.device, env.rng)

    pose = draw(pose_range, ("x", "y", "z", "roll", "pitch", "yaw"))
    pos = env.scene.env_origins + entity.default_root_pos + pose[:, :3]
    quat = quat_mul(entity.default_root_quat, quat_from_euler_xyz(pose[:, 3], pose[:, 4], pose[:, 5]))
    vel = draw(velocity_range or {}, ("x", "y", "z", "roll", "pitch", "yaw"))
    entity.write_root_state(pos, quat, vel[:, :3], vel[:, 3:], env_mask)


def randomize_model_field(
    env,
    env_mask: torch.Tensor,
    field: str,
    value_range: tuple[float, float],
    operation: str = "scale",
    ids: list[int] | None = None,
) -> None:
    """Per-world model field (e.g. 'geom_friction', 'body_mass') = nominal (op) uniform sample.

    `operation`: 'scale' multiplies the nominal value, 'add' offsets it, 'abs' replaces it. `ids` picks
    rows of the field (bodies, geoms, dofs ...); None changes all rows.
    """
    view = env.sim.model_field(field)

    def build_rows() -> torch.Tensor:
        all_rows = torch.arange(view.shape[1], device=env.device)
        return all_rows if ids is None else all_rows[ids]

    rows = cached(env, ("model_field_rows", field, None if ids is None else tuple(ids)), build_rows)
    sample = sample_uniform(*value_range, (env.num_envs, len(rows), *view.shape[2:]), env.device, env.rng)
    write_model_entries(env, env_mask, field, rows, None, sample, operation)


OPERATIONS = ("scale", "add", "abs")


def write_model_entries(
    env,
    env_mask: torch.Tensor,
    field: str,
    rows: torch.Tensor,
    col: int | None,
    sample: torch.Tensor,
    operation: str,
) -> None:
    """Set `field[:, rows(, col)]` = nominal (op) sample in the masked worlds; other entries keep their values.

    The nominal values are the field's values before the first randomization, so repeated events do not drift.
    """
    check_operation(operation)
    view = env.sim.model_field(field)
    nominal = model_field_nominal(env, field)
    new = view.clone()
    if col is None:
        new[:, rows] = apply_operation(operation, nominal[:, rows], sample.to(view.dtype))
    else:
        new[:, rows, col] = apply_operation(operation, nominal[:, rows, col], sample.to(view.dtype))
    env.sim.write_model_field(field, new, env_mask)


def model_field_nominal(env, field: str) -> torch.Tensor:
    """The per-world model field's values before any randomization wrote to it."""
    return cached(env, ("model_field_nominal", field), lambda: env.sim.model_field(field).clone())


def check_operation(operation: str) -> None:
    if operation not in OPERATIONS:
        raise ValueError(
            f"Randomization operation must be one of {', '.join(OPERATIONS)}, got {operation!r}."
        )


def apply_operation(operation: str, nominal: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """nominal * sample ('scale'), nominal + sample ('add') or sample ('abs')."""
    if operation == "scale":
        return nominal * sample
    return nominal + sample if operation == "add" else sample.to(nominal.dtype)


def range_bounds(
    env, ranges: dict[str, tuple[float, float]], keys: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper bounds `(len(keys),)` on the env's device, built once per ranges (no copy per step)."""

    def build() -> tuple[torch.Tensor, torch.Tensor]:
        lo = torch.tensor([ranges.get(k, (0.0, 0.0))[0] for k in keys], device=env.device)
        hi = torch.tensor([ranges.get(k, (0.0, 0.0))[1] for k in keys], device=env.device)
        return lo, hi

    return cached(env, ("range_bounds", tuple(sorted(ranges.items())), keys), build)
