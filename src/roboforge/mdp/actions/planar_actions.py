"""Body-frame velocity actions for a planar base (slide-x, slide-y and yaw joints): a point robot's drive."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.action_manager import ActionTerm, ActionTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.planar import PLANAR_JOINTS, PlanarBase, rotate
from roboforge.utils.config import ConfigError


@dataclass(kw_only=True)
class PlanarVelocityActionCfg(ActionTermCfg):
    """Action `(vx, vy, wz)` in [-1, 1] (clamped): forward and left speed in the body frame and yaw rate, as
    fractions of `max_lin_speed` (the planar speed is at most that, in any direction) and `max_ang_speed`.
    Each physics step the body-frame velocity is turned by the current heading into the joints' velocity
    targets; the robot's velocity actuators (implicit, zero stiffness) track them."""

    joint_names: tuple[str, ...] = PLANAR_JOINTS
    """The slide-x, slide-y and yaw joints (regexes, one joint each), in that order."""
    max_lin_speed: float = 1.0
    """Planar speed (m/s) at full action."""
    max_ang_speed: float = 2.0
    """Yaw rate (rad/s) at full action."""

    def build(self, env: TermEnv) -> ActionTerm:
        for name in ("max_lin_speed", "max_ang_speed"):
            if not getattr(self, name) > 0.0:
                raise ConfigError(f"PlanarVelocityActionCfg.{name} must be > 0, got {getattr(self, name)}.")
        return PlanarVelocityAction(self, env)


class PlanarVelocityAction(ActionTerm):
    """Writes heading-rotated body velocities into the x, y and yaw joints' velocity targets."""

    action_dim = 3

    def __init__(self, cfg: PlanarVelocityActionCfg, env: TermEnv):
        self.cfg = cfg
        self.base = PlanarBase(env.scene[cfg.asset_name], cfg.joint_names)
        self.targets = self.base.entity.joint_vel_target
        self.velocity_b = torch.zeros(env.num_envs, 3, device=env.device)

    def process(self, actions: torch.Tensor) -> None:
        a = actions.clamp(-1.0, 1.0)
        lin = a[:, :2] * self.cfg.max_lin_speed
        lin = lin / torch.clamp(lin.norm(dim=1, keepdim=True) / self.cfg.max_lin_speed, min=1.0)
        self.velocity_b[:] = torch.cat((lin, a[:, 2:] * self.cfg.max_ang_speed), dim=1)

    def apply(self) -> None:
        _, heading = self.base.pose()
        lin_w = rotate(self.velocity_b[:, :2], heading)
        self.targets[:, self.base.ids] = torch.cat((lin_w, self.velocity_b[:, 2:]), dim=1)
