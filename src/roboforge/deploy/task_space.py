"""Task-space action terms of an exported policy: differential IK (joint position targets) and operational-space
control (joint torques), the training terms' math (`mdp/actions/task_space_actions.py`) in numpy.

Kinematics come from C MuJoCo on the exported scene model: the end-effector frame's world pose from an MjData's
body pose and the exported offset, its geometric Jacobian from `mj_jac`. The runner writes the measured joint
positions into a private MjData (`JointStateKinematics`); `MujocoSimRobot` reads its own MjData after `mj_step`,
whose poses are those of the start of the last physics step, as the training term's tracking sensors are.
Targets are in the robot's root frame (a fixed base: its mount pose), quaternions (w, x, y, z).
"""

from __future__ import annotations

import mujoco
import numpy as np

from roboforge.deploy.metadata import MetadataError, PolicyMetadata
from roboforge.deploy.rotations import (
    quat_apply,
    quat_apply_inverse,
    quat_conjugate,
    quat_error_rotvec,
    quat_from_rotvec,
    quat_mul,
)
from roboforge.deploy.specs import ActionTermSpec

POSITION_ROW, EFFORT_ROW = 0, 2
"""Rows of the runner's targets array an IK term (positions) and an OSC term (torques) write."""


def frame_on_body(model: mujoco.MjModel, name: str) -> tuple[int, np.ndarray, np.ndarray]:
    """(body id, position and orientation offsets) of a site or body, as the training frame lookup does."""
    site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)
    if site >= 0:
        return int(model.site_bodyid[site]), model.site_pos[site].copy(), model.site_quat[site].copy()
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    if body < 0:
        raise MetadataError(
            f"The scene has no body or site {name!r} (a command's end effector or an observed frame); export the policy again."
        )
    return body, np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0])


class JointStateKinematics:
    """A private MjData of the exported scene into which measured joint positions are written (a real robot's
    state, or any state the runner is given): body poses and the quantities `mj_jac` reads."""

    def __init__(self, model: mujoco.MjModel, meta: PolicyMetadata):
        self.model, self.data = model, mujoco.MjData(model)
        prefix = meta.scene.entity_prefix
        self.qadr = np.array(
            [model.jnt_qposadr[_joint_id(model, prefix + n)] for n in meta.robot.joint_names]
        )

    def update(self, joint_pos: np.ndarray) -> mujoco.MjData:
        """The data at joint positions `joint_pos` (policy order), kinematics and centres of mass computed."""
        self.data.qpos[self.qadr] = joint_pos
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        return self.data


class TaskSpaceAction:
    """One exported `differential_ik` or `operational_space` term on a model of the exported scene.

    `process(action, data)` sets the root-frame target once per policy step; `apply(data, q, qd)` returns the
    term's joint position targets (IK) or torques (OSC) `(k,)` for its joints, as the training term's `apply`.
    """

    def __init__(self, term: ActionTermSpec, meta: PolicyMetadata, model: mujoco.MjModel):
        if meta.robot.floating_base:
            raise MetadataError(
                f"Action term {term.name!r} ({term.type}): the runtime runs task-space control on fixed-base "
                "robots only (the root-frame target needs the base pose)."
            )
        p, prefix = term.params, meta.scene.entity_prefix
        self.name, self.type, self.model = term.name, term.type, model
        self.row = POSITION_ROW if term.type == "differential_ik" else EFFORT_ROW
        self.relative, self.scale = bool(p["use_relative_mode"]), float(p["scale"])
        self.pose_dims = 3 if p["command_type"] == "position" else 6
        self.action_dim = int(p["action_dim"])
        self.body = _body_id(model, prefix + str(p["frame_body"]), term.name)
        self.offset_pos = np.asarray(p["frame_offset_pos"], dtype=np.float64)
        self.offset_quat = np.asarray(p["frame_offset_quat"], dtype=np.float64)
        self.dofs = np.array([model.jnt_dofadr[_joint_id(model, prefix + n)] for n in term.joint_names])
        root = np.asarray(meta.robot.default_root_state, dtype=np.float64)
        self.root_pos, self.root_quat = root[:3], root[3:7]
        self.target = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
        """Root-frame target: position (3,) and orientation (4,)."""
        self._jacp, self._jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        if self.row == POSITION_ROW:
            self.ridge, self.gain = float(p["ridge"]), float(p["gain"])
            self.solve = p["ik_method"] in ("dls", "pinv")
        else:
            self.kp = np.asarray(p["kp"], dtype=np.float64)
            self.kd = np.asarray(p["kd"], dtype=np.float64)
            self.nullspace_damping = float(p["nullspace_damping"])

    def frame_pose_w(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """World position (3,) and orientation (4,) of the end-effector frame in `data`."""
        quat = data.xquat[self.body]
        return data.xpos[self.body] + quat_apply(quat, self.offset_pos), quat_mul(quat, self.offset_quat)

    def frame_pose_b(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """Position and orientation of the end-effector frame in the root frame."""
        pos_w, quat_w = self.frame_pose_w(data)
        inv = quat_conjugate(self.root_quat)
        return quat_apply_inverse(self.root_quat, pos_w - self.root_pos), quat_mul(inv, quat_w)

    def process(self, action: np.ndarray, data: mujoco.MjData) -> None:
        """Set the target from this term's actions: a delta from the frame's pose in `data`, or an absolute pose."""
        if self.relative:
            pos_b, quat_b = self.frame_pose_b(data)
            delta = action * self.scale
            self.target[:3] = pos_b + delta[:3]
            self.target[3:] = (
                quat_mul(quat_from_rotvec(delta[3:6]), quat_b) if self.pose_dims == 6 else quat_b
            )
            return
        self.target[:3] = action[:3]
        if self.action_dim == 7:
            self.target[3:] = action[3:7] / max(float(np.linalg.norm(action[3:7])), 1e-6)

    def pose_error_w(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """World-frame error `(3 or 6,)` of the frame in `data` to the target and the Jacobian rows `(3 or 6, k)`."""
        pos_w, quat_w = self.frame_pose_w(data)
        error = self.root_pos + quat_apply(self.root_quat, self.target[:3]) - pos_w
        mujoco.mj_jac(self.model, data, self._jacp, self._jacr, pos_w, self.body)
        if self.pose_dims == 3:
            return error, self._jacp[:, self.dofs]
        turn = quat_error_rotvec(quat_mul(self.root_quat, self.target[3:]), quat_w)
        return np.concatenate((error, turn)), np.vstack((self._jacp[:, self.dofs], self._jacr[:, self.dofs]))

    def apply(self, data: mujoco.MjData, joint_pos: np.ndarray, joint_vel: np.ndarray) -> np.ndarray:
        """Joint position targets `q + gain dq` (IK) or torques `J^T (kp e - kd J qd) - d qd` (OSC) `(k,)`."""
        error, jac = self.pose_error_w(data)
        if self.row == POSITION_ROW:
            if self.solve:
                dq = jac.T @ np.linalg.solve(jac @ jac.T + self.ridge * np.eye(len(error)), error)
            else:
                dq = jac.T @ error
            return joint_pos + self.gain * dq
        wrench = self.kp * error - self.kd * (jac @ joint_vel)
        return jac.T @ wrench - self.nullspace_damping * joint_vel


def _joint_id(model: mujoco.MjModel, name: str) -> int:
    jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    if jid < 0:
        raise MetadataError(f"The policy's scene has no joint {name!r}; export the policy again.")
    return jid


def _body_id(model: mujoco.MjModel, name: str, term: str) -> int:
    bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    if bid < 0:
        raise MetadataError(
            f"Action term {term!r}: its end-effector body {name!r} is not in the policy's scene; export it again."
        )
    return bid
