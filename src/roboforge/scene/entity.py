"""An entity (robot or object) bound to a simulator: index tensors, data views, writers, actuation.

The entity's names come from its `EntityLayout` (scene/layout.py), the one its spec was built from,
and are resolved to model indices once here. Data views read the simulator's state tensors through
those indices and return float32 tensors shaped `(num_envs, ...)`; writers take a world mask and
write in place with `torch.where`, so no host sync is needed.
"""

from __future__ import annotations

import re

import mujoco
import torch

from roboforge.assets.actuators import ActuatorGroup, resolve_joints
from roboforge.assets.articulation import EntityCfg
from roboforge.scene.kinematics import Frame, JointKinematics, frame_pose_w, jacobian_w, resolve_frame
from roboforge.scene.layout import TRACK_SENSORS, EntityLayout
from roboforge.sim.simulator import Simulator
from roboforge.utils.config import ConfigError
from roboforge.utils.math import gravity_projected_b, quat_apply, quat_apply_inverse, quat_conjugate, quat_mul


class EntityData:
    """Read-only views of one entity's state (world frame `_w`, body frame `_b`)."""

    def __init__(self, entity: Entity):
        self._e = entity
        self._sim = entity.sim

    # joints ------------------------------------------------------------------------------------
    @property
    def joint_pos(self) -> torch.Tensor:
        """Joint positions `(num_envs, num_joints)`."""
        return self._sim.qpos[:, self._e.joint_qpos_adr].float()

    @property
    def joint_vel(self) -> torch.Tensor:
        """Joint velocities `(num_envs, num_joints)`."""
        return self._sim.qvel[:, self._e.joint_dof_adr].float()

    # root ----------------------------------------------------------------------------------------
    @property
    def root_pos_w(self) -> torch.Tensor:
        """Root position `(num_envs, 3)`, world frame (a fixed base: where the model attaches it)."""
        if self._e.is_floating:
            return self._sim.qpos[:, self._e.root_qpos_adr : self._e.root_qpos_adr + 3].float()
        return self._e.default_root_pos

    @property
    def root_quat_w(self) -> torch.Tensor:
        """Root orientation `(num_envs, 4)` (w, x, y, z), world frame."""
        if self._e.is_floating:
            return self._sim.qpos[:, self._e.root_qpos_adr + 3 : self._e.root_qpos_adr + 7].float()
        return self._e.default_root_quat

    @property
    def root_lin_vel_w(self) -> torch.Tensor:
        """Root linear velocity `(num_envs, 3)`, world frame."""
        if self._e.is_floating:
            return self._sim.qvel[:, self._e.root_dof_adr : self._e.root_dof_adr + 3].float()
        return torch.zeros_like(self._e.default_root_lin_vel)

    @property
    def root_ang_vel_b(self) -> torch.Tensor:
        """Root angular velocity `(num_envs, 3)`, body frame."""
        if self._e.is_floating:
            return self._sim.qvel[:, self._e.root_dof_adr + 3 : self._e.root_dof_adr + 6].float()
        return torch.zeros_like(self._e.default_root_ang_vel)

    @property
    def root_lin_vel_b(self) -> torch.Tensor:
        """Root linear velocity `(num_envs, 3)`, body frame."""
        return quat_apply_inverse(self.root_quat_w, self.root_lin_vel_w)

    @property
    def root_ang_vel_w(self) -> torch.Tensor:
        """Root angular velocity `(num_envs, 3)`, world frame."""
        return quat_apply(self.root_quat_w, self.root_ang_vel_b)

    @property
    def projected_gravity_b(self) -> torch.Tensor:
        """Gravity direction in the root frame `(num_envs, 3)` ((0, 0, -1) when upright)."""
        return gravity_projected_b(self.root_quat_w)

    # bodies (from the tracking sensors: values of the last physics step or forward pass) -----------
    @property
    def body_pos_w(self) -> torch.Tensor:
        """Body positions `(num_envs, num_bodies, 3)`, world frame."""
        return self._sensor("pos").view(-1, self._e.num_bodies, 3)

    @property
    def body_quat_w(self) -> torch.Tensor:
        """Body orientations `(num_envs, num_bodies, 4)`, world frame."""
        return self._sensor("quat").view(-1, self._e.num_bodies, 4)

    @property
    def body_lin_vel_w(self) -> torch.Tensor:
        """Body linear velocities `(num_envs, num_bodies, 3)`, world frame."""
        return self._sensor("linvel").view(-1, self._e.num_bodies, 3)

    @property
    def body_ang_vel_w(self) -> torch.Tensor:
        """Body angular velocities `(num_envs, num_bodies, 3)`, world frame."""
        return self._sensor("angvel").view(-1, self._e.num_bodies, 3)

    def _sensor(self, kind: str) -> torch.Tensor:
        return self._sim.sensordata[:, self._e.sensor_cols[kind]].float()


class Entity:
    """One named entity of the scene, bound to the simulator (see module docstring)."""

    def __init__(self, cfg: EntityCfg, layout: EntityLayout, model: mujoco.MjModel, sim: Simulator):
        self.name, self.cfg, self.layout, self.sim = layout.name, cfg, layout, sim
        self.device, self.num_envs = sim.device, sim.num_worlds
        self.body_names, self.joint_names = list(layout.body_names), list(layout.joint_names)
        self.body_ids = layout.body_ids(model)
        joint_ids = layout.joint_ids(model)
        root = layout.root_joint_id(model)
        self.is_floating = root is not None
        self.root_qpos_adr = int(model.jnt_qposadr[root]) if root is not None else -1
        self.root_dof_adr = int(model.jnt_dofadr[root]) if root is not None else -1
        self.joint_qpos_adr = torch.tensor(model.jnt_qposadr[joint_ids], dtype=torch.long, device=self.device)
        self.joint_dof_adr = torch.tensor(model.jnt_dofadr[joint_ids], dtype=torch.long, device=self.device)
        self.sensor_cols = {kind: layout.tracking_columns(model, kind, self.device) for kind in TRACK_SENSORS}
        self._model = model
        self.kinematics = JointKinematics(model, joint_ids, self.body_ids, self.device)
        self._init_limits(model, joint_ids)
        self._init_defaults(model, joint_ids)
        self._init_actuators(model)
        self._index_cache: dict[tuple[str, ...], torch.Tensor] = {}
        self._frames: dict[str, Frame] = {}
        self.data = EntityData(self)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_bodies(self) -> int:
        return len(self.body_names)

    # setup -----------------------------------------------------------------------------------
    def _init_limits(self, model: mujoco.MjModel, joint_ids: list[int]) -> None:
        limits = torch.full((self.num_joints, 2), float("inf"), device=self.device)
        limits[:, 0] = -float("inf")
        for k, j in enumerate(joint_ids):
            if model.jnt_limited[j]:
                limits[k] = torch.tensor(model.jnt_range[j], dtype=torch.float32)
        self.joint_pos_limits = limits
        factor = getattr(self.cfg, "soft_joint_pos_limit_factor", 1.0)
        mid, half = limits.mean(1), (limits[:, 1] - limits[:, 0]) / 2 * factor
        soft = torch.stack((mid - half, mid + half), dim=1)
        self.soft_joint_pos_limits = torch.where(torch.isfinite(limits), soft, limits)

    def _init_defaults(self, model: mujoco.MjModel, joint_ids: list[int]) -> None:
        init = self.cfg.init_state
        qpos0 = [float(model.qpos0[model.jnt_qposadr[j]]) for j in joint_ids]
        pos = [_regex_value(init.joint_pos, n, q) for n, q in zip(self.joint_names, qpos0, strict=True)]
        vel = [_regex_value(init.joint_vel, n, 0.0) for n in self.joint_names]
        _check_regexes(init.joint_pos, self.joint_names, f"{self.name}.init_state.joint_pos")
        n = self.num_envs
        self.default_joint_pos = torch.tensor(pos, device=self.device).repeat(n, 1)
        self.default_joint_vel = torch.tensor(vel, device=self.device).repeat(n, 1)
        # Every world is its own simulation: entities start at `init_state` in each one (env origins
        # are for layouts such as terrain grids, which place robots through their own events).
        self.default_root_pos = torch.tensor(init.pos, device=self.device).repeat(n, 1)
        self.default_root_quat = torch.tensor(init.rot, device=self.device).repeat(n, 1)
        self.default_root_lin_vel = torch.tensor(init.lin_vel, device=self.device).repeat(n, 1)
        self.default_root_ang_vel = torch.tensor(init.ang_vel, device=self.device).repeat(n, 1)

    def _init_actuators(self, model: mujoco.MjModel) -> None:
        shape = (self.num_envs, self.num_joints)
        self.joint_pos_target = self.default_joint_pos.clone()
        self.joint_vel_target = torch.zeros(shape, device=self.device)
        self.joint_effort_target = torch.zeros(shape, device=self.device)
        self.actuator_groups: list[ActuatorGroup] = [
            ActuatorGroup(
                group.cfg,
                list(group.joint_ids),
                list(group.joint_names),
                self.layout.actuator_ids(model, group),
                self.device,
                num_envs=self.num_envs,
            )
            for group in self.layout.actuators
        ]

    # lookups ---------------------------------------------------------------------------------
    def find_joints(self, patterns: list[str] | str) -> tuple[list[int], list[str]]:
        """Joint indices and names matching the regexes (full match); none raises with the choices."""
        patterns = [patterns] if isinstance(patterns, str) else patterns
        ids = resolve_joints(patterns, self.joint_names, f"Entity {self.name!r} joints")
        return ids, [self.joint_names[i] for i in ids]

    def find_bodies(self, patterns: list[str] | str) -> tuple[list[int], list[str]]:
        """Body indices and names matching the regexes (full match); none raises with the choices."""
        patterns = [patterns] if isinstance(patterns, str) else patterns
        ids = resolve_joints(patterns, self.body_names, f"Entity {self.name!r} bodies")
        return ids, [self.body_names[i] for i in ids]

    def joint_index(self, patterns: list[str] | str | None) -> torch.Tensor | slice:
        """Index of the joints matching `patterns` (cached; None = all joints) for `data.joint_pos[:, idx]`."""
        if patterns is None:
            return slice(None)
        key = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        if key not in self._index_cache:
            ids, _ = self.find_joints(list(key))
            self._index_cache[key] = torch.tensor(ids, dtype=torch.long, device=self.device)
        return self._index_cache[key]

    def find_frame(self, name: str) -> Frame:
        """A body or site of this entity as a Frame (cached; for end-effector poses and Jacobians)."""
        if name not in self._frames:
            self._frames[name] = resolve_frame(
                self._model, self.layout.prefix, self.body_ids, self.kinematics, name, self.device
            )
        return self._frames[name]

    def frame_pose_b(self, frame: Frame) -> tuple[torch.Tensor, torch.Tensor]:
        """Position `(N, 3)` and orientation `(N, 4)` of `frame` in the entity's root frame."""
        pos_w, quat_w = self.frame_pose_w(frame)
        root_pos, root_quat = self.data.root_pos_w, self.data.root_quat_w
        return quat_apply_inverse(root_quat, pos_w - root_pos), quat_mul(quat_conjugate(root_quat), quat_w)

    def frame_pose_w(self, frame: Frame) -> tuple[torch.Tensor, torch.Tensor]:
        """World position `(N, 3)` and orientation `(N, 4)` of `frame`."""
        return frame_pose_w(self.data.body_pos_w, self.data.body_quat_w, frame)

    def jacobian_w(self, frame: Frame, joint_idx: torch.Tensor | slice) -> torch.Tensor:
        """World-frame geometric Jacobian `(N, 6, k)` of `frame` for the selected joints."""
        return jacobian_w(self.data.body_pos_w, self.data.body_quat_w, self.kinematics, frame, joint_idx)

    # writers (masked, graph-safe) --------------------------------------------------------------
    def write_joint_state(self, pos: torch.Tensor, vel: torch.Tensor, mask: torch.Tensor) -> None:
        """Set joint positions/velocities `(num_envs, num_joints)` in the worlds selected by `mask`."""
        m = mask[:, None]
        qpos, qvel = self.sim.qpos, self.sim.qvel
        qpos[:, self.joint_qpos_adr] = torch.where(m, pos.to(qpos.dtype), qpos[:, self.joint_qpos_adr])
        qvel[:, self.joint_dof_adr] = torch.where(m, vel.to(qvel.dtype), qvel[:, self.joint_dof_adr])

    def write_root_state(
        self,
        pos_w: torch.Tensor,
        quat_w: torch.Tensor,
        lin_vel_w: torch.Tensor,
        ang_vel_b: torch.Tensor,
        mask,
    ) -> None:
        """Set the free root's pose and velocity in the worlds selected by `mask` (floating bases only)."""
        if not self.is_floating:
            return
        m = mask[:, None]
        q, d = self.root_qpos_adr, self.root_dof_adr
        qpos, qvel = self.sim.qpos, self.sim.qvel
        qpos[:, q : q + 7] = torch.where(m, torch.cat((pos_w, quat_w), 1).to(qpos.dtype), qpos[:, q : q + 7])
        qvel[:, d : d + 6] = torch.where(
            m, torch.cat((lin_vel_w, ang_vel_b), 1).to(qvel.dtype), qvel[:, d : d + 6]
        )

    def reset_to_default(self, mask: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Default root and joint state, and joint targets at the defaults, in the selected worlds."""
        self.write_root_state(
            self.default_root_pos,
            self.default_root_quat,
            self.default_root_lin_vel,
            self.default_root_ang_vel,
            mask,
        )
        self.write_joint_state(self.default_joint_pos, self.default_joint_vel, mask)
        m = mask[:, None]
        self.joint_pos_target[:] = torch.where(m, self.default_joint_pos, self.joint_pos_target)
        self.joint_vel_target.masked_fill_(m, 0.0)
        self.joint_effort_target.masked_fill_(m, 0.0)
        for group in self.actuator_groups:  # new action delays; delayed targets start at the defaults
            group.reset(
                mask, self.joint_pos_target, self.joint_vel_target, self.joint_effort_target, generator
            )

    def apply_actuators(self) -> None:
        """Write this entity's actuator controls from its joint targets (once per physics step)."""
        if not self.actuator_groups:
            return
        pos, vel = self.data.joint_pos, self.data.joint_vel
        for group in self.actuator_groups:
            ctrl = group.compute(
                pos, vel, self.joint_pos_target, self.joint_vel_target, self.joint_effort_target
            )
            self.sim.ctrl[:, group.ctrl_ids] = ctrl.to(self.sim.ctrl.dtype)


def _regex_value(table: dict[str, float], name: str, default: float) -> float:
    for pattern, value in table.items():
        if re.fullmatch(pattern, name):
            return float(value)
    return default


def _check_regexes(table: dict[str, float], names: list[str], what: str) -> None:
    for pattern in table:
        if pattern != ".*" and not any(re.fullmatch(pattern, n) for n in names):
            raise ConfigError(f"{what}: regex {pattern!r} matches no joint. Joints: {', '.join(names)}.")
