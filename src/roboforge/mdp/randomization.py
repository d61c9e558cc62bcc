"""Domain-randomization event terms `(env, env_mask, **params)` (modes 'startup', 'reset' or 'interval').

Each term changes only the worlds where `env_mask` is True and draws new values around the nominal
ones (the values when the term is built, before any event runs), so repeated events do not drift.
The terms are `ManagerTermBase` classes: they resolve geoms, bodies, joints, bounds and nominal values
once. `@writes_model_fields(...)` declares the MuJoCo model fields a term writes; the env makes exactly
those fields per world when it is built.
"""

from __future__ import annotations

import torch

from roboforge.managers.event_manager import writes_model_fields
from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.events import (
    POSE_KEYS,
    ModelFieldEntries,
    apply_operation,
    check_operation,
    range_bounds,
)
from roboforge.utils.config import ConfigError, compile_regexes
from roboforge.utils.math import quat_apply_inverse, sample_uniform


@writes_model_fields("geom_friction")
class randomize_friction(ManagerTermBase):
    """Sliding friction (`geom_friction[:, 0]`) of the entity's geoms, one draw per geom and world.

    `geom_names`: regexes on the geom names without the entity prefix (None: all the entity's geoms,
    named or not). `asset_name=None` selects geoms of the whole scene by full name (e.g. 'ground').
    A contact takes the friction of its higher-priority geom (the larger one at equal priority): robots
    with `ArticulationCfg.contact_priority=1` (the Unitree configs) let their own friction decide.
    """

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        rows = _geom_rows(env, self.params["asset_name"], self.params["geom_names"])
        self.entries = ModelFieldEntries(env, "geom_friction", rows, col=0)

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        friction_range: tuple[float, float],
        operation: str = "abs",
        asset_name: str | None = "robot",
        geom_names: list[str] | None = None,
    ) -> None:
        shape = (env.num_envs, len(self.entries.rows))
        self.entries.write(
            env, env_mask, sample_uniform(*friction_range, shape, env.device, env.rng), operation
        )


@writes_model_fields("body_mass")
class add_base_mass(ManagerTermBase):
    """Body mass (kg) = nominal + uniform draw (`operation='add'`) of the selected bodies (None: the root)."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        rows = _body_rows(env, self.params["asset_name"], self.params["body_names"])
        self.entries = ModelFieldEntries(env, "body_mass", rows)

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        mass_range: tuple[float, float],
        asset_name: str = "robot",
        body_names: list[str] | None = None,
        operation: str = "add",
    ) -> None:
        shape = (env.num_envs, len(self.entries.rows))
        self.entries.write(env, env_mask, sample_uniform(*mass_range, shape, env.device, env.rng), operation)


@writes_model_fields("body_ipos")
class randomize_com(ManagerTermBase):
    """Centre of mass (`body_ipos`, body frame) = nominal + uniform offsets {'x','y','z': (lo, hi)} (m)."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        rows = _body_rows(env, self.params["asset_name"], self.params["body_names"])
        self.entries = ModelFieldEntries(env, "body_ipos", rows)
        self.bounds = range_bounds(env, self.params["com_range"], ("x", "y", "z"))

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        com_range: dict[str, tuple[float, float]],
        asset_name: str = "robot",
        body_names: list[str] | None = None,
    ) -> None:
        shape = (env.num_envs, len(self.entries.rows), 3)
        self.entries.write(env, env_mask, sample_uniform(*self.bounds, shape, env.device, env.rng), "add")


@writes_model_fields("actuator_gainprm", "actuator_biasprm")
class randomize_actuator_gains(ManagerTermBase):
    """Actuator kp and kd, one draw per joint and world (default: scale the nominal gains).

    Ideal-PD / DC-motor groups: their per-world `stiffness/damping` tensors. Implicit groups: the model
    fields (position actuator: kp = gainprm[0] = -biasprm[1], kd = -biasprm[2]; velocity actuator:
    kd = gainprm[0] = -biasprm[2]), mirrored in the group's tensors.
    """

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.entity = env.scene[self.params["asset_name"]]
        self.selected = _joint_mask(env, self.entity, self.params["joint_names"])
        self.nominal_gain = env.sim.model_field("actuator_gainprm").clone()
        self.nominal_bias = env.sim.model_field("actuator_biasprm").clone()

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        stiffness_range: tuple[float, float] = (1.0, 1.0),
        damping_range: tuple[float, float] = (1.0, 1.0),
        operation: str = "scale",
        asset_name: str = "robot",
        joint_names: list[str] | None = None,
    ) -> None:
        check_operation(operation)
        entity = self.entity
        shape = (env.num_envs, entity.num_joints)
        kp_draw = sample_uniform(*stiffness_range, shape, env.device, env.rng)
        kd_draw = sample_uniform(*damping_range, shape, env.device, env.rng)
        for group in entity.actuator_groups:
            j, keep = group.joint_ids, ~self.selected[group.joint_ids]
            if group.implicit:
                self._randomize_implicit(env, env_mask, group, kp_draw[:, j], kd_draw[:, j], keep, operation)
                continue
            kp = apply_operation(operation, group.default_stiffness, kp_draw[:, j])
            kd = apply_operation(operation, group.default_damping, kd_draw[:, j])
            m = env_mask[:, None] & ~keep
            group.stiffness[:] = torch.where(m, kp, group.stiffness)
            group.damping[:] = torch.where(m, kd, group.damping)

    def _randomize_implicit(
        self, env: TermEnv, env_mask: torch.Tensor, group, kp_draw, kd_draw, keep, operation: str
    ) -> None:
        """Implicit group: new kp/kd in the actuator model fields (rows `ctrl_ids`) and the group's tensors."""
        rows = group.ctrl_ids
        gain, bias = env.sim.model_field("actuator_gainprm"), env.sim.model_field("actuator_biasprm")
        gain0, bias0 = self.nominal_gain[:, rows], self.nominal_bias[:, rows]
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


class randomize_joint_default_offsets(ManagerTermBase):
    """Default joint positions = nominal + uniform offsets (rad or m), as a joint calibration error.

    Observations relative to the defaults, resets and the offsets of joint position actions that add
    the defaults all follow the new values.
    """

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.entity = env.scene[self.params["asset_name"]]
        self.nominal = self.entity.default_joint_pos.clone()
        self.selected = _joint_mask(env, self.entity, self.params["joint_names"])

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        offset_range: tuple[float, float],
        asset_name: str = "robot",
        joint_names: list[str] | None = None,
    ) -> None:
        entity, nominal = self.entity, self.nominal
        offset = sample_uniform(*offset_range, tuple(nominal.shape), env.device, env.rng)
        new = torch.where(env_mask[:, None] & self.selected, nominal + offset, entity.default_joint_pos)
        delta = new - entity.default_joint_pos
        entity.default_joint_pos[:] = new
        for term in env.action_manager.terms.values():
            if getattr(term, "offset_follows_defaults", False) and term.entity is entity:
                term.offset += delta[:, term.joint_ids]


class push_by_setting_velocity(ManagerTermBase):
    """Add a uniform velocity to a floating root: 'x','y','z' (m/s) and 'roll','pitch','yaw' (rad/s), world frame."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.bounds = range_bounds(env, self.params["velocity_range"], POSE_KEYS)

    def __call__(
        self,
        env: TermEnv,
        env_mask: torch.Tensor,
        velocity_range: dict[str, tuple[float, float]],
        asset_name: str = "robot",
    ) -> None:
        entity = env.scene[asset_name]
        if not entity.is_floating:
            return
        kick_w = sample_uniform(*self.bounds, (env.num_envs, 6), env.device, env.rng)
        kick_ang_b = quat_apply_inverse(entity.data.root_quat_w, kick_w[:, 3:])
        qvel, d = env.sim.qvel, entity.root_dof_adr
        kick = torch.cat((kick_w[:, :3], kick_ang_b), dim=1).to(qvel.dtype)
        qvel[:, d : d + 6] = torch.where(env_mask[:, None], qvel[:, d : d + 6] + kick, qvel[:, d : d + 6])


# --- build-time helpers: names -> indices, resolved once ---------------------------------------------------


def _joint_mask(env: TermEnv, entity, joint_names: list[str] | None) -> torch.Tensor:
    """`(num_joints,)` bool of the entity's joints matching `joint_names` (None: all)."""
    mask = torch.zeros(entity.num_joints, dtype=torch.bool, device=env.device)
    mask[entity.joint_index(joint_names)] = True
    return mask


def _body_rows(env: TermEnv, asset_name: str, body_names: list[str] | None) -> torch.Tensor:
    """Model body ids of the entity's bodies matching `body_names` (None: the root body)."""
    entity = env.scene[asset_name]
    ids = [0] if body_names is None else entity.find_bodies(body_names)[0]
    return torch.tensor([entity.body_ids[i] for i in ids], dtype=torch.long, device=env.device)


def _geom_rows(env: TermEnv, asset_name: str | None, geom_names: list[str] | None) -> torch.Tensor:
    """Model geom ids of the entity's geoms (or the scene's, `asset_name=None`) matching `geom_names`."""
    model = env.sim.model
    prefix = "" if asset_name is None else f"{asset_name}/"
    bodies = None if asset_name is None else set(env.scene[asset_name].body_ids)
    patterns = compile_regexes(geom_names or [], "geom_names")
    ids = []
    for g in range(model.ngeom):
        name = model.geom(g).name
        if bodies is not None and int(model.geom_bodyid[g]) not in bodies:
            continue
        if geom_names is None or any(p.fullmatch(name.removeprefix(prefix)) for p in patterns):
            ids.append(g)
    if not ids:
        what = "the scene" if asset_name is None else f"entity {asset_name!r}"
        raise ConfigError(f"randomize_friction: no geom of {what} matches {geom_names}.")
    return torch.tensor(ids, dtype=torch.long, device=env.device)
