"""Observation terms of a frame of the robot (a body or a site, e.g. a gripper's tool centre point): its position
(`ee_pos_b`) and orientation (`ee_quat_b`) in the robot's root frame, from the measured joint positions through
C MuJoCo kinematics of the exported scene (`JointStateKinematics`).

Training reads the same frame from the tracking sensors, evaluated at the start of the last physics step; the
runtime evaluates the joint positions it is given, so while the arm moves the two differ by one physics step of
motion (`tests/test_deploy_tasks.py` compares them on the same state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from roboforge.deploy.metadata import ObsTermSpec, PolicyMetadata
from roboforge.deploy.rotations import quat_apply, quat_apply_inverse, quat_conjugate, quat_mul
from roboforge.deploy.task_space import JointStateKinematics, frame_on_body

if TYPE_CHECKING:
    from roboforge.deploy.observations import ObsContext

TermFn = Callable[["ObsContext"], np.ndarray]


class RobotFrame:
    """A named body or site of the controlled robot in the exported scene, posed in the robot's root frame."""

    def __init__(self, kinematics: JointStateKinematics, meta: PolicyMetadata, spec: ObsTermSpec):
        model, prefix = kinematics.model, meta.scene.entity_prefix
        self.kinematics = kinematics
        self.body, self.offset_pos, self.offset_quat = frame_on_body(
            model, prefix + str(spec.params.get("body_name", ""))
        )
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or "" for b in range(model.nbody)]
        self.root = next((b for b, n in enumerate(names) if n.startswith(prefix)), 0)  # as MujocoSimRobot's

    def pose_b(self, joint_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position `(3,)` and orientation `(4,)` (w, x, y, z) in the root frame at joint positions `joint_pos`."""
        data = self.kinematics.update(joint_pos)
        body_quat = data.xquat[self.body]
        pos_w = data.xpos[self.body] + quat_apply(body_quat, self.offset_pos)
        quat_w = quat_mul(body_quat, self.offset_quat)
        root_pos, root_quat = data.xpos[self.root], data.xquat[self.root]
        return quat_apply_inverse(root_quat, pos_w - root_pos), quat_mul(quat_conjugate(root_quat), quat_w)


def ee_pos_b(spec: ObsTermSpec, meta: PolicyMetadata, kinematics: JointStateKinematics) -> TermFn:
    frame = RobotFrame(kinematics, meta, spec)
    return lambda c: frame.pose_b(c.joint_pos)[0]


def ee_quat_b(spec: ObsTermSpec, meta: PolicyMetadata, kinematics: JointStateKinematics) -> TermFn:
    """As training's: the real part made non-negative."""
    frame = RobotFrame(kinematics, meta, spec)

    def fn(c: ObsContext) -> np.ndarray:
        quat = frame.pose_b(c.joint_pos)[1]
        return -quat if quat[0] < 0 else quat

    return fn


TERMS = {"ee_pos_b": ee_pos_b, "ee_quat_b": ee_quat_b}
"""Frame terms by the training function's name (`roboforge.mdp.observations`); each factory takes the kinematics."""
