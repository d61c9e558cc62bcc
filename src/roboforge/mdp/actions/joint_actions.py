"""Joint-space action terms: position, velocity and effort targets, `target = offset + scale * action`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.assets.actuators import per_joint
from roboforge.managers.action_manager import ActionTerm, ActionTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError


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
    ema_alpha: float = 1.0
    """Low-pass filter of the targets: `target = alpha * (offset + scale * action) + (1 - alpha) * last target`,
    starting from the measured joint positions after a reset; 1 (the default) sends each action's target as is.
    A period-2 chatter of the actions reaches the joints at alpha / (2 - alpha) of its size (1/3 at 0.5)."""

    def build(self, env: TermEnv) -> ActionTerm:
        if not 0.0 < self.ema_alpha <= 1.0:
            raise ConfigError(
                f"{type(self).__name__}.ema_alpha {self.ema_alpha} must be in (0, 1]; 1 turns the filter off."
            )
        if self.ema_alpha < 1.0:
            return FilteredJointPositionAction(self, env)
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


class FilteredJointPositionAction(JointAction):
    """Joint position targets through an exponential moving average (`JointPositionActionCfg.ema_alpha`)."""

    def __init__(self, cfg: JointPositionActionCfg, env: TermEnv):
        super().__init__(cfg, env, "pos", cfg.use_default_offset)
        self.alpha = cfg.ema_alpha
        self.restart = torch.ones(env.num_envs, 1, dtype=torch.bool, device=env.device)

    def process(self, actions: torch.Tensor) -> None:
        measured = self.entity.data.joint_pos[:, self.joint_ids]
        last = torch.where(self.restart, measured, self.processed)
        self.processed[:] = self.alpha * (self.offset + self.scale * actions) + (1.0 - self.alpha) * last
        self.restart.fill_(False)

    def reset(self, mask: torch.Tensor) -> None:
        self.restart.logical_or_(mask[:, None])  # no boolean indexing: resets run inside captured env steps
