"""Event terms `(env, env_mask, **params)`: they change state only in the worlds where `env_mask` is True."""

from __future__ import annotations

import torch

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
    """Per-world model field (e.g. 'geom_friction', 'body_mass') = default (op) uniform sample.

    `operation`: 'scale' multiplies the default, 'add' offsets it, 'abs' replaces it. `ids` picks
    rows of the field (bodies, geoms, dofs ...); None changes all rows.
    """
    if operation not in ("scale", "add", "abs"):
        raise ValueError(
            f"randomize_model_field: operation must be 'scale', 'add' or 'abs', got {operation!r}."
        )
    view = env.sim.model_field(field)
    defaults = _model_field_defaults(env, field, view)
    sample = sample_uniform(*value_range, tuple(view.shape), env.device, env.rng).to(view.dtype)
    new = {"scale": defaults * sample, "add": defaults + sample, "abs": sample}[operation]
    if ids is not None:
        keep = torch.ones(view.shape[1], dtype=torch.bool, device=env.device)
        keep[ids] = False
        new = torch.where(keep.reshape((1, -1) + (1,) * (view.dim() - 2)), view, new)
    env.sim.write_model_field(field, new, env_mask)


def _model_field_defaults(env, field: str, view: torch.Tensor) -> torch.Tensor:
    cache = env.__dict__.setdefault("_model_field_defaults", {})
    if field not in cache:
        cache[field] = view.clone()
    return cache[field]


def range_bounds(
    env, ranges: dict[str, tuple[float, float]], keys: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper bounds `(len(keys),)` on the env's device, built once per ranges (no copy per step)."""
    cache = env.__dict__.setdefault("_range_bounds", {})
    key = (tuple(sorted(ranges.items())), keys)
    if key not in cache:
        lo = torch.tensor([ranges.get(k, (0.0, 0.0))[0] for k in keys], device=env.device)
        hi = torch.tensor([ranges.get(k, (0.0, 0.0))[1] for k in keys], device=env.device)
        cache[key] = (lo, hi)
    return cache[key]
