"""Actuator groups: which joints they drive and how targets become MuJoCo controls.

- `ImplicitActuatorCfg`: a MuJoCo position actuator (kp = stiffness, kv = damping); the PD runs inside
  the physics step, which is stable at high gains. Control = joint position target. With zero
  stiffness the group becomes a MuJoCo velocity actuator (kv = damping) tracking the velocity target.
- `IdealPDActuatorCfg`: a MuJoCo motor; the torque `kp (q* - q) + kd (qd* - qd) + tau_ff`, clipped to
  the effort limit, is computed in torch every physics step. Control = torque.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import mujoco
import torch


@dataclass(kw_only=True)
class ActuatorCfg:
    """Gains and limits for the joints matched by `joint_names_expr` (values may be per-regex dicts)."""

    joint_names_expr: list[str]
    """Regexes selecting the joints this group drives (full match)."""
    stiffness: float | dict[str, float] = 0.0
    """Position gain kp (N m/rad or N/m)."""
    damping: float | dict[str, float] = 0.0
    """Velocity gain kd (N m s/rad or N s/m)."""
    effort_limit: float | dict[str, float] | None = None
    """Largest torque/force the actuator applies; None: unlimited."""
    velocity_limit: float | dict[str, float] | None = None
    """Largest joint velocity target (rad/s or m/s) the actuator is asked for; None: unlimited."""
    armature: float | dict[str, float] | None = None
    """Reflected rotor inertia added to the joint; None keeps the model's."""


@dataclass(kw_only=True)
class ImplicitActuatorCfg(ActuatorCfg):
    """PD inside the physics step (MuJoCo position actuator)."""


@dataclass(kw_only=True)
class IdealPDActuatorCfg(ActuatorCfg):
    """PD computed in torch each physics step, applied through a MuJoCo motor."""


def resolve_joints(patterns: list[str], names: list[str], what: str) -> list[int]:
    """Indices of `names` fully matching any regex in `patterns`, in `names` order; none raises."""
    compiled = [re.compile(p) for p in patterns]
    idx = [i for i, n in enumerate(names) if any(c.fullmatch(n) for c in compiled)]
    if not idx:
        raise ValueError(f"{what}: the regexes {patterns} match no name. Available: {', '.join(names)}.")
    return idx


def per_joint(value: float | dict[str, float] | None, names: list[str], default: float) -> list[float]:
    """Expand a scalar or {regex: value} dict to one value per joint in `names`."""
    if value is None:
        return [default] * len(names)
    if isinstance(value, (int, float)):
        return [float(value)] * len(names)
    out = []
    for n in names:
        matches = [v for p, v in value.items() if re.fullmatch(p, n)]
        out.append(float(matches[0]) if matches else default)
    return out


def is_velocity_group(cfg: ActuatorCfg) -> bool:
    """An implicit group with zero stiffness everywhere tracks joint velocity targets."""
    stiffness = cfg.stiffness.values() if isinstance(cfg.stiffness, dict) else [cfg.stiffness]
    return isinstance(cfg, ImplicitActuatorCfg) and all(float(k) == 0.0 for k in stiffness)


def add_actuators(spec: mujoco.MjSpec, cfg: ActuatorCfg, joint_names: list[str]) -> None:
    """Add one MuJoCo actuator per joint of this group to `spec` (named after the joint)."""
    kp = per_joint(cfg.stiffness, joint_names, 0.0)
    kd = per_joint(cfg.damping, joint_names, 0.0)
    effort = per_joint(cfg.effort_limit, joint_names, 0.0)
    armature = per_joint(cfg.armature, joint_names, -1.0)
    for name, p, d, e, arm in zip(joint_names, kp, kd, effort, armature, strict=True):
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        if isinstance(cfg, ImplicitActuatorCfg) and is_velocity_group(cfg):
            act.set_to_velocity(kv=d)
            if e > 0:
                act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
                act.forcerange = [-e, e]
        elif isinstance(cfg, ImplicitActuatorCfg):
            act.set_to_position(kp=p, kv=d)
            if e > 0:
                act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
                act.forcerange = [-e, e]
        else:
            act.set_to_motor()
            if e > 0:
                act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
                act.ctrlrange = [-e, e]
        if arm >= 0:
            spec.joint(name).armature = arm


class ActuatorGroup:
    """Runtime of one actuator group: maps the entity's joint targets to controls each physics step."""

    def __init__(
        self, cfg: ActuatorCfg, joint_ids: list[int], joint_names: list[str], ctrl_ids: list[int], device
    ):
        self.cfg = cfg
        self.implicit = isinstance(cfg, ImplicitActuatorCfg)
        self.velocity_mode = is_velocity_group(cfg)
        self.joint_names = joint_names
        self.joint_ids = torch.tensor(joint_ids, dtype=torch.long, device=device)
        self.ctrl_ids = torch.tensor(ctrl_ids, dtype=torch.long, device=device)
        tensor = lambda v, d: torch.tensor(per_joint(v, joint_names, d), device=device)  # noqa: E731
        self.stiffness = tensor(cfg.stiffness, 0.0)
        self.damping = tensor(cfg.damping, 0.0)
        self.effort_limit = tensor(cfg.effort_limit, float("inf"))
        self.velocity_limit = tensor(cfg.velocity_limit, float("inf"))

    def compute(
        self,
        joint_pos: torch.Tensor,
        joint_vel: torch.Tensor,
        pos_target: torch.Tensor,
        vel_target: torch.Tensor,
        effort_target: torch.Tensor,
    ) -> torch.Tensor:
        """Controls `(num_envs, n)` for this group's actuators from `(num_envs, num_joints)` tensors."""
        j = self.joint_ids
        if self.implicit:
            if self.velocity_mode:
                return vel_target[:, j].clamp(-self.velocity_limit, self.velocity_limit)
            return pos_target[:, j]
        qd_target = vel_target[:, j].clamp(-self.velocity_limit, self.velocity_limit)
        torque = (
            self.stiffness * (pos_target[:, j] - joint_pos[:, j])
            + self.damping * (qd_target - joint_vel[:, j])
            + effort_target[:, j]
        )
        return torque.clamp(-self.effort_limit, self.effort_limit)
