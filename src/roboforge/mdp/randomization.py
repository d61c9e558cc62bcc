"""Domain-randomization event terms `(env, env_mask, **params)` (modes 'startup', 'reset' or 'interval').

Each term changes only the worlds where `env_mask` is True and draws new values around the nominal
ones (the values before the first randomization), so repeated events do not drift. A term's
`model_fields` attribute lists the MuJoCo model fields it needs per world; the env makes them per
world when it is built (`ManagerBasedRLEnv` reads `func.model_fields`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from roboforge.mdp.cache import cached
from roboforge.mdp.events import (
    apply_operation,
    check_operation,
    model_field_nominal,
    range_bounds,
    write_model_entries,
)
from roboforge.utils.math import quat_apply_inverse, sample_uniform

F = TypeVar("F", bound=Callable[..., Any])


def _needs_model_fields(*fields: str) -> Callable[[F], F]:
    """Mark an event term with the model fields it writes per world."""

    def mark(func: F) -> F:
        setattr(func, "model_fields", fields)  # noqa: B010
        return func

    return mark


@_needs_model_fields("geom_friction")
def randomize_friction(
    env,
    env_mask: torch.Tensor,
    friction_range: tuple[float, float],
    operation: str = "abs",
    asset_name: str | None = "robot",
    geom_names: list[str] | None = None,
) -> None:
    """Sliding friction (`geom_friction[:, 0]`) of the entity's geoms, one draw per geom and world.

    `geom_names`: regexes on the geom names without the entity prefix (None: all the entity's geoms,
    named or not). `asset_name=None` selects geoms of the whole scene by full name (e.g. 'ground').
    A contact takes the friction of its higher-priority geom (the larger one at equal priority): robots
    with `ArticulationCfg.contact_priority=1` (the Unitree configs) let their own friction decide.
    """
    rows = _geom_rows(env, asset_name, geom_names)
    sample = sample_uniform(*friction_range, (env.num_envs, len(rows)), env.device, env.rng)
    write_model_entries(env, env_mask, "geom_friction", rows, 0, sample, operation)


@_needs_model_fields("body_mass")
def add_base_mass(
    env,
    env_mask: torch.Tensor,
    mass_range: tuple[float, float],
    asset_name: str = "robot",
    body_names: list[str] | None = None,
    operation: str = "add",
) -> None:
    """Body mass (kg) = nominal + uniform draw (`operation='add'`) of the selected bodies (None: the root)."""
    rows = _body_rows(env, asset_name, body_names)
    sample = sample_uniform(*mass_range, (env.num_envs, len(rows)), env.device, env.rng)
    write_model_entries(env, env_mask, "body_mass", rows, None, sample, operation)


@_needs_model_fields("body_ipos")
def randomize_com(
    env,
    env_mask: torch.Tensor,
    com_range: dict[str, tuple[float, float]],
    asset_name: str = "robot",
    body_names: list[str] | None = None,
) -> None:
    """Centre of mass (`body_ipos`, body frame) = nominal + uniform offsets {'x','y','z': (lo, hi)} (m)."""
    rows = _body_rows(env, asset_name, body_names)
    lo, hi = range_bounds(env, com_range, ("x", "y", "z"))
    sample = sample_uniform(lo, hi, (env.num_envs, len(rows), 3), env.device, env.rng)
    write_model_entries(env, env_mask, "body_ipos", rows, None, sample, "add")


@_needs_model_fields("actuator_gainprm", "actuator_biasprm")
def randomize_actuator_gains(
    env,
    env_mask: torch.Tensor,
    stiffness_range: tuple[float, float] = (1.0, 1.0),
    damping_range: tuple[float, float] = (1.0, 1.0),
    operation: str = "scale",
    asset_name: str = "robot",
    joint_names: list[str] | None = None,
) -> None:
    """Actuator kp and kd, one draw per joint and world (default: scale the nominal gains).

    Ideal-PD / DC-motor groups: their per-world `stiffness/damping` tensors. Implicit groups: the model
    fields (position actuator: kp = gainprm[0] = -biasprm[1], kd = -biasprm[2]; velocity actuator:
    kd = gainprm[0] = -biasprm[2]), mirrored in the group's tensors.
    """
    check_operation(operation)
    entity = env.scene[asset_name]
    selected = _joint_mask(env, entity, joint_names)
    shape = (env.num_envs, entity.num_joints)
    kp_draw = sample_uniform(*stiffness_range, shape, env.device, env.rng)
    kd_draw = sample_uniform(*damping_range, shape, env.device, env.rng)
    for group in entity.actuator_groups:
        j, keep = group.joint_ids, ~selected[group.joint_ids]
        if group.implicit:
            _randomize_implicit_gains(env, env_mask, group, kp_draw[:, j], kd_draw[:, j], keep, operation)
            continue
        kp = apply_operation(operation, group.default_stiffness, kp_draw[:, j])
        kd = apply_operation(operation, group.default_damping, kd_draw[:, j])
        m = env_mask[:, None] & ~keep
        group.stiffness[:] = torch.where(m, kp, group.stiffness)
        group.damping[:] = torch.where(m, kd, group.damping)


def _randomize_implicit_gains(env, env_mask, group, kp_draw, kd_draw, keep, operation: str) -> None:
    """Implicit group: new kp/kd in the actuator model fields (rows `ctrl_ids`) and the group's tensors."""
    rows = group.ctrl_ids
    gain, bias = env.sim.model_field("actuator_gainprm"), env.sim.model_field("actuator_biasprm")
    gain0 = model_field_nominal(env, "actuator_gainprm")[:, rows]
    bias0 = model_field_nominal(env, "actuator_biasprm")[:, rows]
    kd = torch.where(
        keep, -bias[:, rows, 2], apply_operation(operation, -bias0[:, :, 2], kd_draw.to(bias.dtype))
    )
    new_gain, new_bias = gain.clone(), bias.clone()
    new_bias[:, rows, 2] = -kd
    if group.velocity_mode:
        new_gain[:, rows, 0] = kd
    else:
        kp = torch.where(
            keep, gain[:, rows, 0], apply_operation(operation, gain0[:, :, 0], kp_draw.to(gain.dtype))
        )
        new_gain[:, rows, 0] = kp
        new_bias[:, rows, 1] = -kp
    env.sim.write_model_field("actuator_gainprm", new_gain, env_mask)
    env.sim.write_model_field("actuator_biasprm", new_bias, env_mask)
    m = env_mask[:, None]
    group.damping[:] = torch.where(m, kd.float(), group.damping)
    if not group.velocity_mode:
        group.stiffness[:] = torch.where(m, new_gain[:, rows, 0].float(), group.stiffness)


def randomize_joint_default_offsets(
    env,
    env_mask: torch.Tensor,
    offset_range: tuple[float, float],
    asset_name: str = "robot",
    joint_names: list[str] | None = None,
) -> None:
    """Default joint positions = nominal + uniform offsets (rad or m), as a joint calibration error.

    Observations relative to the defaults, resets and the offsets of joint position actions that add
    the defaults all follow the new values.
    """
    entity = env.scene[asset_name]
    nominal = cached(env, ("default_joint_pos", asset_name), lambda: entity.default_joint_pos.clone())
    selected = _joint_mask(env, entity, joint_names)
    offset = sample_uniform(*offset_range, tuple(nominal.shape), env.device, env.rng)
    new = torch.where(env_mask[:, None] & selected, nominal + offset, entity.default_joint_pos)
    delta = new - entity.default_joint_pos
    entity.default_joint_pos[:] = new
    for term in getattr(getattr(env, "action_manager", None), "terms", {}).values():
        if getattr(term, "offset_follows_defaults", False) and term.entity is entity:
            term.offset += delta[:, term.joint_ids]


def push_by_setting_velocity(
    env,
    env_mask: torch.Tensor,
    velocity_range: dict[str, tuple[float, float]],
    asset_name: str = "robot",
) -> None:
    """Add a uniform velocity to a floating root: 'x','y','z' (m/s) and 'roll','pitch','yaw' (rad/s), world frame."""
    entity = env.scene[asset_name]
    if not entity.is_floating:
        return
    lo, hi = range_bounds(env, velocity_range, ("x", "y", "z", "roll", "pitch", "yaw"))
    kick_w = sample_uniform(lo, hi, (env.num_envs, 6), env.device, env.rng)
    kick_ang_b = quat_apply_inverse(entity.data.root_quat_w, kick_w[:, 3:])
    qvel, d = env.sim.qvel, entity.root_dof_adr
    kick = torch.cat((kick_w[:, :3], kick_ang_b), dim=1).to(qvel.dtype)
    qvel[:, d : d + 6] = torch.where(env_mask[:, None], qvel[:, d : d + 6] + kick, qvel[:, d : d + 6])


# --- helpers -----------------------------------------------------------------------------------------------


def _joint_mask(env, entity, joint_names: list[str] | None) -> torch.Tensor:
    """`(num_joints,)` bool of the entity's joints matching `joint_names` (None: all)."""

    def build() -> torch.Tensor:
        mask = torch.zeros(entity.num_joints, dtype=torch.bool, device=env.device)
        mask[entity.joint_index(joint_names)] = True
        return mask

    return cached(env, ("joints", entity.name, None if joint_names is None else tuple(joint_names)), build)


def _body_rows(env, asset_name: str, body_names: list[str] | None) -> torch.Tensor:
    """Model body ids of the entity's bodies matching `body_names` (None: the root body)."""

    def build() -> torch.Tensor:
        entity = env.scene[asset_name]
        ids = [0] if body_names is None else entity.find_bodies(body_names)[0]
        return torch.tensor([entity.body_ids[i] for i in ids], dtype=torch.long, device=env.device)

    return cached(env, ("bodies", asset_name, None if body_names is None else tuple(body_names)), build)


def _geom_rows(env, asset_name: str | None, geom_names: list[str] | None) -> torch.Tensor:
    """Model geom ids of the entity's geoms (or the scene's, `asset_name=None`) matching `geom_names`."""

    def build() -> torch.Tensor:
        model = env.sim.model
        prefix = "" if asset_name is None else f"{asset_name}/"
        bodies = None if asset_name is None else set(env.scene[asset_name].body_ids)
        patterns = [re.compile(p) for p in geom_names or []]
        ids = []
        for g in range(model.ngeom):
            name = model.geom(g).name
            if bodies is not None and int(model.geom_bodyid[g]) not in bodies:
                continue
            if geom_names is None or any(p.fullmatch(name.removeprefix(prefix)) for p in patterns):
                ids.append(g)
        if not ids:
            what = "the scene" if asset_name is None else f"entity {asset_name!r}"
            raise ValueError(f"randomize_friction: no geom of {what} matches {geom_names}.")
        return torch.tensor(ids, dtype=torch.long, device=env.device)

    key = ("geoms", asset_name, None if geom_names is None else tuple(geom_names))
    return cached(env, key, build)
