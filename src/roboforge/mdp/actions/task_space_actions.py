"""Task-space arm control: differential inverse kinematics and operational-space (impedance) control.

Commands are end-effector poses in the robot's root frame, absolute (position + quaternion) or
relative to the current pose (position delta + rotation vector), or positions only. Each physics step
the term compares the target with the current end-effector pose and writes joint position targets
(IK) or joint torques (OSC) for the selected joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from roboforge.managers.action_manager import ActionTerm, ActionTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.utils.config import ConfigError
from roboforge.utils.math import (
    quat_apply,
    quat_error_rotvec,
    quat_from_axis_angle,
    quat_mul,
)


@dataclass(kw_only=True)
class TaskSpaceActionCfg(ActionTermCfg):
    """Fields shared by the IK and OSC terms."""

    joint_names: list[str] = field(default_factory=lambda: [".*"])
    """Regexes of the arm joints (a pose command needs at least 6)."""
    body_name: str
    """End-effector body or site, e.g. 'tool0'."""
    command_type: Literal["pose", "position"] = "pose"
    """'pose' (position + orientation) or 'position' (orientation left free)."""
    use_relative_mode: bool = False
    """Actions are deltas from the current pose (position + rotation vector) instead of absolute poses."""
    scale: float = 1.0
    """Scale applied to relative actions."""


@dataclass(kw_only=True)
class DifferentialIKActionCfg(TaskSpaceActionCfg):
    """Joint position targets from damped least squares, pseudo-inverse or Jacobian-transpose IK."""

    ik_method: Literal["dls", "pinv", "transpose"] = "dls"
    """IK solver."""
    damping: float = 0.05
    """Damping lambda of 'dls' (m)."""
    gain: float = 1.0
    """Step gain applied to the joint update ('pinv' and 'transpose' too)."""

    def build(self, env: TermEnv) -> ActionTerm:
        return DifferentialIKAction(self, env)


@dataclass(kw_only=True)
class OperationalSpaceControlActionCfg(TaskSpaceActionCfg):
    """Joint torques `J^T (kp e - kd v)` pulling the end effector to the target (unit task-space inertia)."""

    stiffness: tuple[float, ...] = (150.0, 150.0, 150.0, 30.0, 30.0, 30.0)
    """Task-space stiffness, three linear (N/m) and three angular (N m/rad) values."""
    damping_ratio: float = 1.0
    """kd = 2 * damping_ratio * sqrt(kp)."""
    nullspace_damping: float = 2.0
    """Joint damping (N m s/rad) that settles redundant motion."""

    def build(self, env: TermEnv) -> ActionTerm:
        return OperationalSpaceAction(self, env)


class _TaskSpaceAction(ActionTerm):
    """Target bookkeeping shared by IK and OSC."""

    def __init__(self, cfg: TaskSpaceActionCfg, env: TermEnv):
        self.cfg = cfg
        self.entity = env.scene[cfg.asset_name]
        ids, names = self.entity.find_joints(cfg.joint_names)
        if cfg.command_type == "pose" and len(ids) < 6:
            raise ConfigError(
                f"{type(cfg).__name__}: a pose command needs at least 6 arm joints, {cfg.asset_name!r} has {len(ids)} "
                f"({', '.join(names)}). Use command_type='position' or select more joints."
            )
        self.joint_ids = torch.tensor(ids, dtype=torch.long, device=env.device)
        self.frame = self.entity.find_frame(cfg.body_name)
        self.pose_dims = 3 if cfg.command_type == "position" else 6
        self.action_dim = (
            self.pose_dims if cfg.use_relative_mode else (3 if cfg.command_type == "position" else 7)
        )
        n = env.num_envs
        self.target_pos_b = torch.zeros(n, 3, device=env.device)
        self.target_quat_b = torch.zeros(n, 4, device=env.device)
        self.target_quat_b[:, 0] = 1.0
        self.raw = torch.zeros(n, self.action_dim, device=env.device)
        self.eye = torch.eye(self.pose_dims, device=env.device)

    def _root_pose(self) -> tuple[torch.Tensor, torch.Tensor]:
        data = self.entity.data
        return data.root_pos_w, data.root_quat_w

    def process(self, actions: torch.Tensor) -> None:
        self.raw[:] = actions
        if self.cfg.use_relative_mode:
            pos_b, quat_b = self.entity.frame_pose_b(self.frame)
            delta = actions * self.cfg.scale
            self.target_pos_b[:] = pos_b + delta[:, :3]
            if self.pose_dims == 6:
                self.target_quat_b[:] = quat_mul(quat_from_axis_angle(delta[:, 3:6]), quat_b)
            else:
                self.target_quat_b[:] = quat_b
        else:
            self.target_pos_b[:] = actions[:, :3]
            if self.action_dim == 7:
                self.target_quat_b[:] = actions[:, 3:7] / actions[:, 3:7].norm(dim=-1, keepdim=True).clamp(
                    min=1e-6
                )

    def _pose_error_w(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Error `(N, 3 or 6)` (world frame) and the Jacobian rows `(N, 3 or 6, k)` it goes with."""
        root_pos, root_quat = self._root_pose()
        ee_pos_w, ee_quat_w = self.entity.frame_pose_w(self.frame)
        target_pos_w = root_pos + quat_apply(root_quat, self.target_pos_b)
        error = target_pos_w - ee_pos_w
        jac = self.entity.jacobian_w(self.frame, self.joint_ids)
        if self.pose_dims == 6:
            target_quat_w = quat_mul(root_quat, self.target_quat_b)
            error = torch.cat((error, quat_error_rotvec(target_quat_w, ee_quat_w)), dim=-1)
            return error, jac
        return error, jac[:, :3]


class DifferentialIKAction(_TaskSpaceAction):
    """Writes `q + dq` as joint position targets, `dq` solving `J dq = error`."""

    cfg: DifferentialIKActionCfg

    def __init__(self, cfg: DifferentialIKActionCfg, env: TermEnv):
        super().__init__(cfg, env)
        # dls: J^T (J J^T + l^2 I)^-1 e; pinv: the minimum-norm solution J^T (J J^T)^-1 e (a 1e-9
        # ridge keeps it finite at singularities); transpose: no solve.
        self.ridge = cfg.damping**2 if cfg.ik_method == "dls" else 1e-9 if cfg.ik_method == "pinv" else 0.0

    def apply(self) -> None:
        error, jac = self._pose_error_w()
        jt = jac.transpose(1, 2)
        if self.cfg.ik_method in ("dls", "pinv"):  # solve_ex has no host sync: CUDA-graph safe
            dq = jt @ torch.linalg.solve_ex(jac @ jt + self.ridge * self.eye, error.unsqueeze(-1))[0]
        else:
            dq = jt @ error.unsqueeze(-1)
        q = self.entity.data.joint_pos[:, self.joint_ids]
        self.entity.joint_pos_target[:, self.joint_ids] = q + self.cfg.gain * dq.squeeze(-1)


class OperationalSpaceAction(_TaskSpaceAction):
    """Writes joint torques of a task-space spring-damper (gravity is cancelled by the robot's gravcomp)."""

    cfg: OperationalSpaceControlActionCfg

    def __init__(self, cfg: OperationalSpaceControlActionCfg, env: TermEnv):
        super().__init__(cfg, env)
        kp = torch.tensor(cfg.stiffness[: self.pose_dims], dtype=torch.float32, device=env.device)
        self.kp, self.kd = kp, 2.0 * cfg.damping_ratio * kp.sqrt()

    def apply(self) -> None:
        error, jac = self._pose_error_w()
        qd = self.entity.data.joint_vel[:, self.joint_ids]
        velocity = (jac @ qd.unsqueeze(-1)).squeeze(-1)
        wrench = self.kp * error - self.kd * velocity
        torque = (jac.transpose(1, 2) @ wrench.unsqueeze(-1)).squeeze(-1) - self.cfg.nullspace_damping * qd
        self.entity.joint_effort_target[:, self.joint_ids] = torque
