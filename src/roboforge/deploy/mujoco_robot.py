"""`MujocoSimRobot`: the exported task's scene in C MuJoCo (one world), driven at the control rate (a policy with a
low-level policy: at the low level's rate, one command every `low_level_decimation` physics steps).

It loads the scene MJCF stored in the policy metadata, so it needs no roboforge training code, and
applies commands with the training actuator semantics: joints with an implicit actuator get the
position target as the control of their MuJoCo position actuator (PD inside the physics step),
implicit velocity joints (zero stiffness) the clipped velocity target of their velocity actuator;
ideal-PD joints get `clip(kp (q* - q) + kd (clip(qd*) - qd) + tau, +-effort_limit)` computed in numpy
each physics step; passive joints get nothing. A planar velocity action's targets are turned back into the
body frame and re-turned by the heading of every physics step, as the training action term applies them; a
task-space action's joints get the IK targets or OSC torques of the command's `task_actions`, run as the training
term runs them (`task_space.py`): the target set once per command, the solve every physics step, both on this
MjData, whose poses after `mj_step` are those of the start of the last physics step, as training's sensors.
Free objects and obstacle cylinders of the scene fill the state's scene fields (`scene_state.py`), its height
field the ground height query (`terrain.py`). A policy that sees images gets the frames of the metadata's
cameras in its state, rendered from the current state as the training camera renders them (`camera.py`).
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from roboforge.deploy.camera import SimCamera
from roboforge.deploy.metadata import TASK_SPACE_TYPES, MetadataError, PolicyMetadata, command_decimation
from roboforge.deploy.robot import JointCommand, RobotState
from roboforge.deploy.rotations import quat_apply_inverse
from roboforge.deploy.scene_state import SceneObjects
from roboforge.deploy.scene_terms import rotate
from roboforge.deploy.task_space import TaskSpaceAction
from roboforge.deploy.terrain import SceneTerrain
from roboforge.utils.errors import NotFoundError, UserInputError

ASSET_DIR = "scene_assets"


def load_scene_model(meta: PolicyMetadata, policy_dir: str | Path | None = None) -> mujoco.MjModel:
    """Compile the stored scene MJCF (assets from `<policy_dir>/scene_assets/`) with the training timestep."""
    assets: dict[str, bytes] = {}
    for name in meta.scene.assets:
        if policy_dir is None:
            raise MetadataError(f"The scene needs asset files ({name} ...); pass the policy's folder.")
        path = Path(policy_dir) / ASSET_DIR / name
        if not path.is_file():
            raise NotFoundError(f"Scene asset {path} is missing; copy the whole export folder.")
        assets[name] = path.read_bytes()
    try:
        model = mujoco.MjModel.from_xml_string(meta.scene.mjcf, assets)
    except Exception as err:
        raise MetadataError(f"MuJoCo cannot compile the policy's scene: {err}") from err
    model.opt.timestep = meta.control.physics_dt
    return model


class MujocoSimRobot:
    """One simulated robot behind the `Robot` protocol; `write_command` advances one control period."""

    def __init__(
        self,
        meta: PolicyMetadata,
        policy_dir: str | Path | None = None,
        joint_order: list[str] | None = None,
    ):
        self.meta = meta
        self.model = load_scene_model(meta, policy_dir)
        self.data = mujoco.MjData(self.model)
        robot, prefix = meta.robot, meta.scene.entity_prefix
        names = list(joint_order) if joint_order is not None else list(robot.joint_names)
        if sorted(names) != sorted(robot.joint_names):
            raise UserInputError(f"joint_order must be a permutation of {robot.joint_names}, got {names}.")
        self.joint_names = tuple(names)
        jids = [self.model.joint(prefix + n).id for n in names]
        self.qadr = np.array([self.model.jnt_qposadr[j] for j in jids], dtype=np.intp)
        self.dadr = np.array([self.model.jnt_dofadr[j] for j in jids], dtype=np.intp)
        order = [robot.joint_names.index(n) for n in names]
        kind = [robot.actuator[i] for i in order]
        self.implicit = np.array([k == "implicit" for k in kind])
        self.velocity_mode = np.array([k == "implicit_velocity" for k in kind])
        self.ideal = np.array([k == "ideal_pd" for k in kind])
        ctrl = {n: self._actuator_id(prefix + n) for n, k in zip(names, kind, strict=True) if k != "passive"}

        def ids(mask: np.ndarray) -> np.ndarray:
            return np.array([ctrl[n] for n, m in zip(names, mask, strict=True) if m], dtype=np.intp)

        self.ctrl_implicit, self.ctrl_velocity, self.ctrl_ideal = (
            ids(self.implicit),
            ids(self.velocity_mode),
            ids(self.ideal),
        )
        effort = np.array([robot.effort_limit[i] for i in order])
        velocity = np.array([robot.velocity_limit[i] for i in order])
        self.effort_limit, self.velocity_limit = effort[self.ideal], velocity[self.ideal]
        self.velocity_mode_limit = velocity[self.velocity_mode]
        self.default_pos = np.array([robot.default_joint_pos[i] for i in order])
        self.default_vel = np.array([robot.default_joint_vel[i] for i in order])
        self._init_base(prefix)
        self.substeps = command_decimation(meta)
        """Physics steps per command: the policy's decimation, or its low-level policy's."""
        command_dt = meta.control.physics_dt * self.substeps
        self.cameras = {c.name: SimCamera(self.model, c, command_dt) for c in meta.cameras}
        self.scene_objects = SceneObjects(self.model, meta)
        self.terrain = SceneTerrain(self.model, meta.scene.terrain)
        self.patch: int | None = None
        """The terrain patch of the current episode (None: no terrain)."""
        self.env_origin = np.zeros(3)
        """Where that patch lies (`reset` and the root reset add it, as training does)."""
        self.planar = [
            self._planar(t.joint_names, ctrl, velocity) for t in meta.actions if t.type == "planar_velocity"
        ]
        self.task_space = {
            t.name: (TaskSpaceAction(t, meta, self.model), np.array([names.index(n) for n in t.joint_names]))
            for t in meta.actions
            if t.type in TASK_SPACE_TYPES
        }
        """Task-space terms by name, with this robot's indices of their joints."""
        self.reset()

    def _planar(
        self, joints: list[str], ctrl: dict[str, int], velocity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(this robot's indices of the x, y, yaw joints, the x and y actuators, their velocity limits)."""
        idx = np.array([self.joint_names.index(n) for n in joints], dtype=np.intp)
        if not self.velocity_mode[idx].all():
            raise MetadataError(f"Planar velocity joints {joints} must have velocity actuators.")
        return idx, np.array([ctrl[n] for n in joints[:2]], dtype=np.intp), velocity[idx[:2]]

    def _actuator_id(self, name: str) -> int:
        aid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_ACTUATOR, name)
        if aid < 0:
            raise MetadataError(f"The scene has no actuator {name!r} for an actuated joint.")
        return aid

    def _init_base(self, prefix: str) -> None:
        m = self.model
        names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) or "" for b in range(m.nbody)]
        self.root_body = next((b for b, n in enumerate(names) if n.startswith(prefix)), 0)
        free = [
            j
            for j in range(m.njnt)
            if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE and m.jnt_bodyid[j] == self.root_body
        ]
        self.root_q = int(m.jnt_qposadr[free[0]]) if free else -1
        self.root_d = int(m.jnt_dofadr[free[0]]) if free else -1
        root = self.meta.robot.default_root_state
        self.mount = np.asarray(root, dtype=np.float64) if root is not None and not free else None

    # --- Robot protocol ---------------------------------------------------------------------------
    def now(self) -> float:
        return float(self.data.time)

    def read_state(self) -> RobotState:
        d = self.data
        state = RobotState(
            self.joint_names, d.qpos[self.qadr].copy(), d.qvel[self.dadr].copy(), float(d.time)
        )
        if self.root_q >= 0:
            quat = d.qpos[self.root_q + 3 : self.root_q + 7].copy()
            state.base_quat_w = quat
            state.base_lin_vel_b = quat_apply_inverse(quat, d.qvel[self.root_d : self.root_d + 3])
            state.base_ang_vel_b = d.qvel[self.root_d + 3 : self.root_d + 6].copy()
        elif self.mount is not None:  # a fixed base: its mount pose, at rest (as the training env reports it)
            state.base_quat_w = self.mount[3:7].copy()
            state.base_lin_vel_b = np.zeros(3)
            state.base_ang_vel_b = np.zeros(3)
        state.base_pos_w = self.root_pos_w()
        state.object_pos_w = self.scene_objects.object_pos_w(d)
        state.object_nodes_w = self.scene_objects.object_nodes_w(d)
        if self.scene_objects.has_obstacles:
            state.obstacles_w = self.scene_objects.obstacles_w(d)
        state.terrain_height_w = self.terrain.height_at
        if self.cameras:
            state.images = {name: camera.frames(d) for name, camera in self.cameras.items()}
        return state

    def write_command(self, command: JointCommand) -> None:
        """Apply `command` (joints in this robot's order) for `substeps` physics steps."""
        if command.joint_names != self.joint_names:
            raise UserInputError(
                f"Command joints {command.joint_names} are not this robot's {self.joint_names}."
            )
        d = self.data
        position, effort = command.position.copy(), command.effort.copy()
        velocity = command.velocity
        tasks = self._task_terms(command.task_actions)
        planar = [(i, c, lim, rotate(velocity[i[:2]], -d.qpos[self.qadr[i[2]]])) for i, c, lim in self.planar]
        for _ in range(self.substeps):
            for term, idx in tasks:  # the training term's apply, on this physics step's state
                out = term.apply(d, d.qpos[self.qadr[idx]], d.qvel[self.dadr[idx]])
                (position if term.row == 0 else effort)[idx] = out
            self._actuate(command, position, effort)
            for idx, ctrl, lim, body in planar:  # body-frame velocity turned by this physics step's heading
                d.ctrl[ctrl] = np.clip(rotate(body, d.qpos[self.qadr[idx[2]]]), -lim, lim)
            mujoco.mj_step(self.model, d)
        for camera in self.cameras.values():
            camera.advance()

    def _task_terms(self, actions: dict[str, np.ndarray] | None) -> list[tuple[TaskSpaceAction, np.ndarray]]:
        """The task-space terms with targets from the command's actions (none without `task_actions`: a hold, a
        command from a network link: then the command's own targets apply)."""
        if not actions:
            return []
        missing = sorted(set(self.task_space) - set(actions))
        if missing:
            raise UserInputError(f"The command has no task_actions for task-space action terms {missing}.")
        for name, (term, _) in self.task_space.items():
            term.process(actions[name], self.data)
        return list(self.task_space.values())

    def _actuate(self, command: JointCommand, position: np.ndarray, effort: np.ndarray) -> None:
        """Controls of one physics step: position targets, clipped velocity targets, ideal-PD torques."""
        d, ideal = self.data, self.ideal
        d.ctrl[self.ctrl_implicit] = position[self.implicit]
        limit = self.velocity_mode_limit
        d.ctrl[self.ctrl_velocity] = np.clip(command.velocity[self.velocity_mode], -limit, limit)
        vel_i = np.clip(command.velocity[ideal], -self.velocity_limit, self.velocity_limit)
        qa, da = self.qadr[ideal], self.dadr[ideal]
        torque = (
            command.stiffness[ideal] * (position[ideal] - d.qpos[qa])
            + command.damping[ideal] * (vel_i - d.qvel[da])
            + effort[ideal]
        )
        d.ctrl[self.ctrl_ideal] = np.clip(torque, -self.effort_limit, self.effort_limit)

    # --- episode helpers --------------------------------------------------------------------------
    def reset(self, joint_pos: np.ndarray | None = None, joint_vel: np.ndarray | None = None) -> None:
        """Model defaults, the training default root (on `env_origin`) and joint state (or the given joint
        state), forward pass."""
        mujoco.mj_resetData(self.model, self.data)
        root = self.meta.robot.default_root_state
        if root is not None and self.root_q >= 0:
            q, v = self.root_q, self.root_d
            self.data.qpos[q : q + 7], self.data.qvel[v : v + 6] = root[:7], root[7:]
            self.data.qpos[q : q + 3] += self.env_origin
        self.data.qpos[self.qadr] = self.default_pos if joint_pos is None else joint_pos
        self.data.qvel[self.dadr] = self.default_vel if joint_vel is None else joint_vel
        for camera in self.cameras.values():
            camera.reset()
        mujoco.mj_forward(self.model, self.data)

    def forward(self) -> None:
        """Recompute derived quantities (sensors, body poses) after state writes."""
        mujoco.mj_forward(self.model, self.data)

    def set_root_state(
        self, pos: np.ndarray, quat: np.ndarray, lin_vel_w: np.ndarray, ang_vel_b: np.ndarray
    ) -> None:
        """Set the free root's pose and velocity (floating bases; ignored otherwise)."""
        if self.root_q < 0:
            return
        q, v = self.root_q, self.root_d
        self.data.qpos[q : q + 3], self.data.qpos[q + 3 : q + 7] = pos, quat
        self.data.qvel[v : v + 3], self.data.qvel[v + 3 : v + 6] = lin_vel_w, ang_vel_b
        mujoco.mj_forward(self.model, self.data)

    def root_pose_w(self) -> tuple[np.ndarray, np.ndarray]:
        """Root position and orientation (w, x, y, z) in the world frame, as the training env reads them
        (a fixed base: its mount pose; older exports without one: the first body's pose)."""
        if self.root_q >= 0:
            q = self.root_q
            return self.data.qpos[q : q + 3].copy(), self.data.qpos[q + 3 : q + 7].copy()
        if self.mount is not None:
            return self.mount[:3].copy(), self.mount[3:7].copy()
        return self.data.xpos[self.root_body].copy(), self.data.xquat[self.root_body].copy()

    def root_pos_w(self) -> np.ndarray:
        """Root position in the world frame."""
        return self.root_pose_w()[0]
