"""Actuator groups: which joints they drive and how targets become MuJoCo controls.

- `ImplicitActuatorCfg`: a MuJoCo position actuator (kp = stiffness, kv = damping); the PD runs inside
  the physics step, which is stable at high gains. Control = joint position target. With zero
  stiffness the group becomes a MuJoCo velocity actuator (kv = damping) tracking the velocity target.
- `IdealPDActuatorCfg`: a MuJoCo motor; the torque `kp (q* - q) + kd (qd* - qd) + tau_ff`, clipped to
  the effort limit, is computed in torch every physics step. Control = torque.
- `DCMotorActuatorCfg`: an ideal PD whose torque is also clipped to a DC motor's torque-speed envelope.

Any group may delay its targets by a whole number of physics steps, drawn per world at reset
(`delay_range`). Gains are per world (`ActuatorGroup.stiffness/damping`, `(num_envs, n)`), so domain
randomization can scale them; an implicit group's gains act through the model fields
`actuator_gainprm/biasprm` and the group's tensors mirror them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import torch

from roboforge.utils.config import ConfigError, compile_regexes, is_number, regex_table

MAX_DELAY_STEPS = 1000
"""Longest actuator delay in physics steps (5 s at MuJoCo's default 5 ms step)."""


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
    delay_range: tuple[int, int] = (0, 0)
    """Targets reach the actuator this many physics steps late, drawn per world at reset (min, max)."""


@dataclass(kw_only=True)
class ImplicitActuatorCfg(ActuatorCfg):
    """PD inside the physics step (MuJoCo position actuator)."""


@dataclass(kw_only=True)
class IdealPDActuatorCfg(ActuatorCfg):
    """PD computed in torch each physics step, applied through a MuJoCo motor."""


@dataclass(kw_only=True)
class DCMotorActuatorCfg(IdealPDActuatorCfg):
    """Ideal PD clipped to a DC motor's torque-speed envelope at the joint velocity qd.

    The torque lies in `[max(-sat (1 + qd / vlim), -effort), min(sat (1 - qd / vlim), effort)]`, with the
    upper bound kept >= 0 and the lower bound <= 0 (past the no-load speed the motor can only brake);
    `sat` is `saturation_effort`, `vlim` is `velocity_limit` (None: no speed dependence).
    """

    saturation_effort: float | dict[str, float]
    """Stall torque (N m) of the torque-speed line; the usable torque is also capped by `effort_limit`."""


def resolve_joints(patterns: list[str], names: list[str], what: str) -> list[int]:
    """Indices of `names` fully matching any regex in `patterns`, in `names` order; none raises."""
    compiled = compile_regexes(patterns, what)
    idx = [i for i, n in enumerate(names) if any(c.fullmatch(n) for c in compiled)]
    if not idx:
        raise ConfigError(
            f"{what}: the regexes {patterns} match no name. Available: {', '.join(names) or '(none)'}."
        )
    return idx


def per_joint(
    value: float | dict[str, float] | None, names: list[str], default: float, what: str = "per-joint values"
) -> list[float]:
    """Expand a scalar or {regex: value} dict to one value per joint in `names`; `what` names the field in
    the ConfigError of a pattern that is not a regex or a value that is not a number."""
    if value is None:
        return [default] * len(names)
    if not isinstance(value, dict):
        return [_number(value, what)] * len(names)
    patterns = regex_table(value, what)
    out = []
    for n in names:
        matches = [v for p, v in patterns if p.fullmatch(n)]
        out.append(_number(matches[0], what) if matches else default)
    return out


def _number(value: object, what: str) -> float:
    if not is_number(value):
        raise ConfigError(f"{what} must be a number or a {{regex: number}} dict, got {value!r:.200}.")
    return float(value)


GAIN_FIELDS = {
    "stiffness": (False, False),
    "damping": (False, False),
    "effort_limit": (True, True),
    "velocity_limit": (True, True),
    "armature": (False, True),
    "saturation_effort": (True, False),
}
"""The fields of an actuator group that take a value per joint (a number, or a {regex: value} dict), each with
(whether its values must be > 0 rather than finite and >= 0, whether it takes None)."""


def check_actuator_cfg(cfg: ActuatorCfg, what: str) -> None:
    """Check the per-joint fields of an actuator group; `what` names the group in the message."""
    for name, (positive, optional) in GAIN_FIELDS.items():
        if not hasattr(cfg, name):
            continue  # saturation_effort: DC motor groups only
        value = getattr(cfg, name)
        if value is None and optional:
            continue
        if isinstance(value, dict):
            compile_regexes(list(value), f"{what}.{name}")
        for v in value.values() if isinstance(value, dict) else [value]:
            x = float(v) if is_number(v) else math.nan
            if not (x > 0 if positive else 0 <= x < math.inf):
                allowed = "> 0" if positive else "finite and >= 0"
                none = " (or None)" if optional else ""
                raise ConfigError(f"{what}.{name} must be {allowed}{none}, got {v!r}.")


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
    """Runtime of one actuator group: maps the entity's joint targets to controls each physics step.

    `stiffness`/`damping` are per world `(num_envs, n)`; `default_stiffness/default_damping` `(n,)` are
    the configured values. With a delay, a ring buffer keeps the last `max_delay + 1` targets.
    """

    def __init__(
        self,
        cfg: ActuatorCfg,
        joint_ids: list[int],
        joint_names: list[str],
        ctrl_ids: list[int],
        device,
        num_envs: int = 1,
    ):
        self.cfg = cfg
        self.implicit = isinstance(cfg, ImplicitActuatorCfg)
        self.velocity_mode = is_velocity_group(cfg)
        self.joint_names = joint_names
        self.num_envs = num_envs
        self.joint_ids = torch.tensor(joint_ids, dtype=torch.long, device=device)
        self.ctrl_ids = torch.tensor(ctrl_ids, dtype=torch.long, device=device)
        tensor = lambda v, d: torch.tensor(per_joint(v, joint_names, d), device=device)  # noqa: E731
        self.default_stiffness = tensor(cfg.stiffness, 0.0)
        self.default_damping = tensor(cfg.damping, 0.0)
        self.stiffness = self.default_stiffness.repeat(num_envs, 1)
        self.damping = self.default_damping.repeat(num_envs, 1)
        self.effort_limit = tensor(cfg.effort_limit, float("inf"))
        self.velocity_limit = tensor(cfg.velocity_limit, float("inf"))
        self.saturation_effort: torch.Tensor | None = None
        # bounds kept as tensors so each physics step launches no kernel to build them
        self._effort_low = -self.effort_limit
        self._vel_low = -self.velocity_limit
        self._clamps_vel = bool(torch.isfinite(self.velocity_limit).any())
        if isinstance(cfg, DCMotorActuatorCfg):
            if bool((self.velocity_limit <= 0).any()):
                raise ConfigError(f"DC motor {joint_names}: velocity_limit must be > 0 (or None).")
            self.saturation_effort = tensor(cfg.saturation_effort, float("inf"))
            self._neg_saturation = -self.saturation_effort
            self._speed_slope = self.saturation_effort / self.velocity_limit  # N m per rad/s; 0 if no limit
            self._zeros = torch.zeros_like(self.effort_limit)
        self._init_delay(cfg.delay_range, len(joint_ids), device)

    def _init_delay(self, delay_range: tuple[int, int], n: int, device) -> None:
        lo, hi = delay_range
        if not 0 <= lo <= hi <= MAX_DELAY_STEPS:
            raise ConfigError(
                f"delay_range must be (min, max) physics steps with 0 <= min <= max <= {MAX_DELAY_STEPS}, got "
                f"{delay_range} (each group keeps max + 1 steps of targets per world)."
            )
        self.delay_range = (int(lo), int(hi))
        self.max_delay = int(hi)
        self.delay = torch.full((self.num_envs,), int(lo), dtype=torch.long, device=device)
        if self.max_delay == 0:
            return
        width = n if self.implicit else 3 * n  # implicit groups delay only the target they track
        self._history = torch.zeros(self.max_delay + 1, self.num_envs, width, device=device)  # newest first
        self._world_ids = torch.arange(self.num_envs, device=device)

    def reset(
        self,
        mask: torch.Tensor,
        pos_target: torch.Tensor,
        vel_target: torch.Tensor,
        effort_target: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> None:
        """Draw new delays and fill the target history with the current targets, in the selected worlds."""
        if self.max_delay == 0:
            return
        lo, hi = self.delay_range
        drawn = torch.randint(lo, hi + 1, (self.num_envs,), device=self.delay.device, generator=generator)
        self.delay[:] = torch.where(mask, drawn, self.delay)
        current = torch.cat(self._targets(pos_target, vel_target, effort_target), 1)
        self._history[:] = torch.where(mask[None, :, None], current[None], self._history)

    def _targets(
        self, pos_target: torch.Tensor, vel_target: torch.Tensor, effort_target: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """This group's columns of the targets it uses: (pos,) or (vel,) if implicit, else (pos, vel, effort)."""
        j = self.joint_ids
        if self.implicit:
            return (vel_target[:, j],) if self.velocity_mode else (pos_target[:, j],)
        return pos_target[:, j], vel_target[:, j], effort_target[:, j]

    def _delayed(self, targets: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """Push this physics step's targets into the history; return those of `delay` steps ago per world."""
        width = targets[0].shape[1]
        current = targets[0] if len(targets) == 1 else torch.cat(targets, 1)
        self._history.copy_(torch.cat((current[None], self._history[:-1])))
        past = self._history[self.delay, self._world_ids]
        return past.split(width, dim=1)

    def compute(
        self,
        joint_pos: torch.Tensor,
        joint_vel: torch.Tensor,
        pos_target: torch.Tensor,
        vel_target: torch.Tensor,
        effort_target: torch.Tensor,
    ) -> torch.Tensor:
        """Controls `(num_envs, n)` for this group's actuators from `(num_envs, num_joints)` tensors."""
        targets: tuple[torch.Tensor, ...] = self._targets(pos_target, vel_target, effort_target)
        if self.max_delay > 0:
            targets = self._delayed(targets)
        if self.implicit:
            return self._clamp_vel(targets[0]) if self.velocity_mode else targets[0]
        pos_t, vel_t, effort_t = targets
        j = self.joint_ids
        qd = joint_vel[:, j]
        torque = torch.addcmul(effort_t, self.stiffness, pos_t - joint_pos[:, j])
        torque.addcmul_(self.damping, self._clamp_vel(vel_t) - qd)
        if self.saturation_effort is None:
            return torque.clamp_(self._effort_low, self.effort_limit)
        low, high = self.torque_speed_bounds(qd)
        return torque.clamp_(low, high)

    def _clamp_vel(self, vel: torch.Tensor) -> torch.Tensor:
        return vel.clamp(self._vel_low, self.velocity_limit) if self._clamps_vel else vel

    def torque_speed_bounds(self, joint_vel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """DC motor: lowest and highest torque `(num_envs, n)` at the group's joint velocities."""
        assert self.saturation_effort is not None, "torque_speed_bounds is for DC motor groups"
        # sat (1 - qd / vlim) in [0, effort] and -sat (1 + qd / vlim) in [-effort, 0]
        high = torch.addcmul(self.saturation_effort, self._speed_slope, joint_vel, value=-1.0)
        low = torch.addcmul(self._neg_saturation, self._speed_slope, joint_vel, value=-1.0)
        return low.clamp_(self._effort_low, self._zeros), high.clamp_(self._zeros, self.effort_limit)

    def applied_effort(
        self, joint_pos: torch.Tensor, joint_vel: torch.Tensor, ctrl: torch.Tensor
    ) -> torch.Tensor:
        """Joint torque `(num_envs, n)` the group applies, from the simulator's `ctrl (num_envs, nu)`.

        Exact for motor groups (the control is the torque); for implicit groups it is the PD law
        evaluated at the current state (MuJoCo evaluated it at the start of the last physics step).
        """
        ctrl = ctrl[:, self.ctrl_ids].float()
        if not self.implicit:
            return ctrl
        j = self.joint_ids
        if self.velocity_mode:
            torque = self.damping * (ctrl - joint_vel[:, j])
        else:
            torque = self.stiffness * (ctrl - joint_pos[:, j]) - self.damping * joint_vel[:, j]
        return torque.clamp(self._effort_low, self.effort_limit)
