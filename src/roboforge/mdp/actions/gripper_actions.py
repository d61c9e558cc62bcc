"""Gripper actions between two joint-position presets, closed and open: binary (the action's sign picks one),
graded (the action moves the targets between them) or speed (the action moves the targets at a rate)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.managers.action_manager import ActionTerm, ActionTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError, regex_table


@dataclass(kw_only=True)
class BinaryJointPositionActionCfg(ActionTermCfg):
    """Two joint-position presets chosen by the sign of a single action: negative closes."""

    joint_names: list[str] = field(default_factory=lambda: [".*finger.*"])
    """Regexes of the gripper joints."""
    open_command_expr: dict[str, float]
    """Joint positions when open, by regex."""
    close_command_expr: dict[str, float]
    """Joint positions when closed, by regex."""

    def build(self, env: TermEnv) -> ActionTerm:
        return GripperJointPositionAction(self, env)


@dataclass(kw_only=True)
class GradedJointPositionActionCfg(BinaryJointPositionActionCfg):
    """The gripper's targets move linearly from the closed preset (action <= `closed_at`) to the open one
    (action >= `open_at`). Unlike the binary gripper, a small change of the action changes the grip: a policy
    that holds an object closed can loosen it by degrees, where a binary one must sample a sign flip.
    `closed_at == open_at` is the binary gripper with that threshold (open at and above it)."""

    closed_at: float = -1.0
    """Action at and below which the gripper is fully closed."""
    open_at: float = 1.0
    """Action at and above which the gripper is fully open."""
    open_time_s: float = 0.0
    """0: the action sets the opening (above). > 0: a speed gripper: the action, clipped to -1..1, is the speed
    of the opening, +1 opening it fully from closed in `open_time_s` seconds and -1 closing it as fast; the
    opening is integrated over the env steps and an episode starts open. A closing action then holds any grip
    firmly, and a small opening action loosens the grip a little per step, reversibly, so an exploring policy
    releases by degrees (docs/stack-release.md). `closed_at` must then equal `open_at` (a ramp and a speed
    together are a ConfigError)."""

    def build(self, env: TermEnv) -> ActionTerm:
        name = type(self).__name__
        if self.closed_at > self.open_at:
            raise ConfigError(
                f"{name}.closed_at {self.closed_at} must not be above open_at {self.open_at} (equal: a binary gripper)."
            )
        if self.open_time_s < 0.0:
            raise ConfigError(f"{name}.open_time_s {self.open_time_s} must be >= 0 (0: no speed gripper).")
        if self.open_time_s > 0.0:
            if self.closed_at < self.open_at:
                raise ConfigError(
                    f"{name}: open_time_s {self.open_time_s} makes a speed gripper, which has no ramp; set "
                    f"closed_at and open_at equal ({self.closed_at}, {self.open_at}) or open_time_s to 0."
                )
            return GripperSpeedAction(self, env)
        return GripperJointPositionAction(self, env)


def opening_fraction(actions: torch.Tensor, closed_at: float, open_at: float) -> torch.Tensor:
    """0 (closed) .. 1 (open) for each action: linear between `closed_at` and `open_at`, or, where the two are
    equal (binary), 0 below and 1 at or above them."""
    if open_at > closed_at:
        return ((actions - closed_at) / (open_at - closed_at)).clamp(0.0, 1.0)
    return (actions >= closed_at).to(actions.dtype)


class GripperJointPositionAction(ActionTerm):
    """Writes the closed preset, the open one or (graded) a blend of the two into the gripper joints' targets."""

    action_dim = 1

    def __init__(self, cfg: BinaryJointPositionActionCfg, env: TermEnv):
        self.entity = env.scene[cfg.asset_name]
        ids, names = self.entity.find_joints(cfg.joint_names)
        self.joint_ids = torch.tensor(ids, dtype=torch.long, device=env.device)
        self.closed_at = getattr(cfg, "closed_at", 0.0)
        self.open_at = getattr(cfg, "open_at", 0.0)

        def preset(table: dict[str, float], what: str) -> torch.Tensor:
            values = []
            patterns = regex_table(table, f"{type(cfg).__name__}.{what}")
            for name in names:
                match = [v for p, v in patterns if p.fullmatch(name)]
                if not match:
                    raise ConfigError(f"{type(cfg).__name__}: {what} has no value for joint {name!r}.")
                values.append(match[0])
            return torch.tensor(values, device=env.device)

        self.open_pos = preset(cfg.open_command_expr, "open_command_expr")
        self.close_pos = preset(cfg.close_command_expr, "close_command_expr")
        self.target = self.open_pos.repeat(env.num_envs, 1)

    def process(self, actions: torch.Tensor) -> None:
        opening = opening_fraction(actions, self.closed_at, self.open_at)
        self.target[:] = self.close_pos + opening * (self.open_pos - self.close_pos)

    def apply(self) -> None:
        self.entity.joint_pos_target[:, self.joint_ids] = self.target


class GripperSpeedAction(GripperJointPositionAction):
    """The opening (0 closed .. 1 open) moves by `clip(action, -1, 1) * step_dt / open_time_s` each env step."""

    def __init__(self, cfg: GradedJointPositionActionCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.opening_per_action = env.step_dt / cfg.open_time_s
        self.opening = torch.ones(env.num_envs, 1, device=env.device)

    def process(self, actions: torch.Tensor) -> None:
        step = actions.clamp(-1.0, 1.0) * self.opening_per_action
        self.opening[:] = (self.opening + step).clamp(0.0, 1.0)
        self.target[:] = self.close_pos + self.opening * (self.open_pos - self.close_pos)

    def reset(self, mask: torch.Tensor) -> None:
        # no boolean indexing: resets run inside captured env steps
        self.opening.masked_fill_(mask[:, None], 1.0)
