"""Where an object must go to stand on another one; success = the object rests there (stack tasks)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roboforge.managers.command_manager import CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.math import quat_apply_inverse


@dataclass(kw_only=True)
class ObjectStackCommandCfg(CommandTermCfg):
    """The stacked position of `object_name` on `base_name`, followed every step; nothing is sampled."""

    asset_name: str = "robot"
    """Scene entity whose root frame the command is expressed in."""
    object_name: str = "cube_a"
    """Scene entity to put on top."""
    base_name: str = "cube_b"
    """Scene entity to stack on."""
    stack_height: float
    """World-z distance (m) from the base's centre to the object's centre when stacked (sum of half heights)."""
    xy_threshold: float = 0.02
    """Horizontal distance (m) from the stacked position that counts as success."""
    z_threshold: float = 0.01
    """Vertical distance (m) from the stacked position that counts as success."""
    finger_joint_names: tuple[str, ...] = ()
    """Gripper finger joints (regexes) of `asset_name`; when set, the `released` metric is reported."""
    holding_joint_pos: float = 0.0
    """Finger joint position when closed on the object."""
    open_joint_pos: float = 0.0
    """Finger joint position when open; past halfway from holding to open the gripper counts as released."""
    resampling_time_range: tuple[float, float] = (1.0e9, 1.0e9)
    """Nothing to resample: the command follows the base."""

    def build(self, env: TermEnv) -> CommandTerm:
        return ObjectStackCommand(self, env)


class ObjectStackCommand(CommandTerm):
    """Command `(num_envs, 3)`: stacked position in the robot's root frame.

    Metrics: `position_error` (object to stacked position, m), `success` (1 while the object is
    within `xy_threshold` horizontally and `z_threshold` vertically of it, i.e. resting on the base, held
    or not) and, with `finger_joint_names`, `released` (1 while successful with the gripper open).
    """

    cfg: ObjectStackCommandCfg

    def __init__(self, cfg: ObjectStackCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.entity = env.scene[cfg.asset_name]
        self.object = env.scene[cfg.object_name]
        self.base = env.scene[cfg.base_name]
        self.up = torch.tensor([0.0, 0.0, cfg.stack_height], device=env.device)
        self.target_b = torch.zeros(env.num_envs, 3, device=env.device)
        names = ["position_error", "success"] + (["released"] if cfg.finger_joint_names else [])
        self.metrics = {name: torch.zeros(env.num_envs, device=env.device) for name in names}
        self.finger_ids = (
            self.entity.joint_index(list(cfg.finger_joint_names)) if cfg.finger_joint_names else None
        )

    @property
    def command(self) -> torch.Tensor:
        return self.target_b

    def _resample(self, mask: torch.Tensor) -> None:
        self._update()

    def _update(self) -> None:
        data = self.entity.data
        target_w = self.base.data.root_pos_w + self.up  # world z: a cube's top face is up on any face
        self.target_b[:] = quat_apply_inverse(data.root_quat_w, target_w - data.root_pos_w)
        error_w = self.object.data.root_pos_w - target_w
        self.metrics["position_error"][:] = error_w.norm(dim=-1)
        self.metrics["success"][:] = within_stack_tolerance(
            error_w, self.cfg.xy_threshold, self.cfg.z_threshold
        ).float()
        if self.finger_ids is not None:
            opening = gripper_opening(
                data.joint_pos[:, self.finger_ids], self.cfg.holding_joint_pos, self.cfg.open_joint_pos
            )
            self.metrics["released"][:] = self.metrics["success"] * (opening > 0.5).float()


def within_stack_tolerance(error_w: torch.Tensor, xy_threshold: float, z_threshold: float) -> torch.Tensor:
    """True where the world-frame offset `(N, 3)` from the stacked position is within the tolerances."""
    return (error_w[:, :2].norm(dim=-1) < xy_threshold) & (error_w[:, 2].abs() < z_threshold)


def gripper_opening(
    finger_pos: torch.Tensor, holding_joint_pos: float, open_joint_pos: float
) -> torch.Tensor:
    """Mean opening `(N,)` of the finger joints `(N, F)`: 0 at `holding_joint_pos` (closed on the object) .. 1
    at `open_joint_pos`, clamped."""
    opening = (finger_pos.mean(dim=-1) - holding_joint_pos) / (open_joint_pos - holding_joint_pos)
    return opening.clamp(0.0, 1.0)
