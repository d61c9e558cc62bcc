"""Gripper actions between two joint-position presets, closed and open: binary (the action's sign picks one) or
graded (the action moves the targets between them)."""

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

    def build(self, env: TermEnv) -> ActionTerm:
        if self.closed_at > self.open_at:
            raise ConfigError(
                f"GradedJointPositionActionCfg.closed_at {self.closed_at} must not be above open_at "
                f"{self.open_at} (equal: a binary gripper)."
            )
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
