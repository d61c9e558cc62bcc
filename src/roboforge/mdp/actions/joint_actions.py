"""Joint-space action terms: position, velocity and effort targets, `target = offset + scale * action`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.assets.actuators import per_joint
from roboforge.managers.action_manager import ActionTerm, ActionTermCfg
from roboforge.managers.term_env import TermEnv


@dataclass(kw_only=True)
class JointActionCfg(ActionTermCfg):
    """Common fields of joint action terms."""

    joint_names: list[str] = field(default_factory=lambda: [".*"])
    """Regexes of the driven joints; the action has one entry per matched joint, in model order."""
    scale: float | dict[str, float] = 1.0
    """Action scale, one value or per joint by regex."""
    offset: float = 0.0
    """Action offset (added after scaling)."""


@dataclass(kw_only=True)
class JointPositionActionCfg(JointActionCfg):
    """Joint position targets; by default offset by the default joint positions."""

    use_default_offset: bool = True
    """Add the default joint positions to the scaled action."""

    def build(self, env: TermEnv) -> ActionTerm:
        return JointAction(self, env, "pos", self.use_default_offset)


@dataclass(kw_only=True)
class JointVelocityActionCfg(JointActionCfg):
    """Joint velocity targets (for ideal-PD actuators with damping)."""

    def build(self, env: TermEnv) -> ActionTerm:
        return JointAction(self, env, "vel", False)


@dataclass(kw_only=True)
class JointEffortActionCfg(JointActionCfg):
    """Joint torque/force targets, added as feed-forward effort (ideal-PD actuators)."""

    def build(self, env: TermEnv) -> ActionTerm:
        return JointAction(self, env, "effort", False)


class JointAction(ActionTerm):
    """Writes `offset + scale * action` into the entity's position, velocity or effort targets."""

    def __init__(self, cfg: JointActionCfg, env: TermEnv, target: str, default_offset: bool):
        self.entity = env.scene[cfg.asset_name]
        ids, self.joint_names = self.entity.find_joints(cfg.joint_names)
        self.joint_ids = torch.tensor(ids, dtype=torch.long, device=env.device)
        self.action_dim = len(ids)
        self.target = {"pos": self.entity.joint_pos_target, "vel": self.entity.joint_vel_target}.get(
            target, self.entity.joint_effort_target
        )
        self.scale = torch.tensor(
            per_joint(cfg.scale, self.joint_names, 1.0, f"{type(cfg).__name__}.scale"), device=env.device
        )
        offset = torch.full((env.num_envs, self.action_dim), cfg.offset, device=env.device)
        self.offset = offset + self.entity.default_joint_pos[:, self.joint_ids] if default_offset else offset
        self.offset_follows_defaults = default_offset  # randomize_joint_default_offsets moves it
        self.processed = torch.zeros(env.num_envs, self.action_dim, device=env.device)

    def process(self, actions: torch.Tensor) -> None:
        self.processed[:] = self.offset + self.scale * actions

    def apply(self) -> None:
        self.target[:, self.joint_ids] = self.processed
