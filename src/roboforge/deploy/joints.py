"""Joint order: match the robot's joints to the policy's by name, and turn actions into joint targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from roboforge.deploy.metadata import (
    JOINT_ACTION_TYPES,
    OTHER_ACTION_DIMS,
    TASK_SPACE_TYPES,
    MetadataError,
    PolicyMetadata,
)
from roboforge.deploy.scene_terms import rotate
from roboforge.deploy.specs import ActionTermSpec
from roboforge.deploy.task_space import JointStateKinematics, TaskSpaceAction
from roboforge.utils.errors import UserInputError

ACTION_TARGETS = {kind: row for row, kind in enumerate(JOINT_ACTION_TYPES)}  # row of the targets array


class JointMapError(UserInputError):
    """The robot's joints do not match the policy's (a joint is missing, extra or repeated)."""


class JointMap:
    """Permutations between the robot's joint order and the policy's (training) joint order."""

    def __init__(self, policy_joints: list[str] | tuple[str, ...], robot_joints: list[str] | tuple[str, ...]):
        self.robot_joints = tuple(robot_joints)
        if len(set(robot_joints)) != len(robot_joints):
            dup = sorted({n for n in robot_joints if list(robot_joints).count(n) > 1})
            raise JointMapError(f"The robot reports joint names more than once: {dup}.")
        missing = [n for n in policy_joints if n not in robot_joints]
        extra = [n for n in robot_joints if n not in policy_joints]
        if missing or extra:
            raise JointMapError(
                "The robot's joints do not match the policy's: "
                + (f"missing {missing} " if missing else "")
                + (f"extra {extra} " if extra else "")
                + f"(policy joints: {list(policy_joints)}). Rename the adapter's joints to the model's names."
            )
        position = {n: i for i, n in enumerate(robot_joints)}
        self.to_policy = np.array([position[n] for n in policy_joints], dtype=np.intp)
        """`robot_array[to_policy]` is in policy order."""
        self.to_robot = np.argsort(self.to_policy)
        """`policy_array[to_robot]` is in robot order."""
        self.identity = bool(np.array_equal(self.to_policy, np.arange(len(policy_joints))))

    def policy_order(self, x: np.ndarray) -> np.ndarray:
        """A robot-order array in policy order."""
        return x if self.identity else x[self.to_policy]

    def robot_order(self, x: np.ndarray) -> np.ndarray:
        """A policy-order array in robot order."""
        return x if self.identity else x[self.to_robot]


class ActionMapper:
    """`target = offset + scale * action` for each joint action term, the open/closed preset of a binary
    gripper term (a blend of the two for a graded one, an integrated blend for a speed one), heading-turned
    velocity targets of a planar velocity term, the IK targets or OSC torques of a task-space term (`task_space.py`, on the exported scene from
    `policy_dir`); joints no term drives keep defaults."""

    def __init__(self, meta: PolicyMetadata, policy_dir: str | Path | None = None):
        robot = meta.robot
        index = {n: i for i, n in enumerate(robot.joint_names)}
        self.meta, self.policy_dir = meta, policy_dir
        self.default = np.zeros((3, len(robot.joint_names)))
        self.default[0] = robot.default_joint_pos
        self.terms: list[tuple[slice, int, np.ndarray, np.ndarray, np.ndarray]] = []
        # joint position terms with an ema_alpha < 1, and their last targets (None: from the measured joints)
        self.filtered: list[tuple[np.ndarray, float]] = []
        self.last_filtered: list[np.ndarray | None] = []
        # gripper terms: action index, joints, open and closed presets, closed_at, open_at (equal: binary)
        self.grippers: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, float, float]] = []
        # speed gripper terms: action index, joints, open and closed presets, opening per unit action; openings
        self.speed_grippers: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, float]] = []
        self.openings: list[float] = []
        self.planar: list[tuple[slice, np.ndarray, float, float]] = []
        self.task_space: list[tuple[slice, np.ndarray, TaskSpaceAction]] = []
        self.kinematics: JointStateKinematics | None = None
        self.last_task_action = np.zeros(meta.policy.action_dim)
        supported = [*ACTION_TARGETS, *OTHER_ACTION_DIMS, *TASK_SPACE_TYPES]
        start = 0
        for term in meta.actions:
            if term.type not in supported:
                raise MetadataError(
                    f"Action term {term.name!r} has type {term.type!r}; the runtime supports {', '.join(supported)}."
                )
            unknown = [n for n in term.joint_names if n not in index]
            if unknown:
                raise MetadataError(f"Action term {term.name!r} drives joints the robot lacks: {unknown}.")
            ids = np.array([index[n] for n in term.joint_names], dtype=np.intp)
            start = self._add(term, ids, start)
        self.targets = self.default.copy()

    def _add(self, term: ActionTermSpec, ids: np.ndarray, start: int) -> int:
        """Bind one term whose actions start at `start`; returns where the next one starts."""
        p = term.params
        if term.type in ("binary_joint_position", "graded_joint_position"):
            opened, closed = np.asarray(p["open"], dtype=np.float64), np.asarray(p["close"], dtype=np.float64)
            closed_at, open_at = float(p.get("closed_at", 0.0)), float(p.get("open_at", 0.0))
            if closed_at > open_at:
                raise MetadataError(
                    f"Action term {term.name!r}: closed_at {closed_at} must not be above open_at {open_at}."
                )
            self.grippers.append((start, ids, opened, closed, closed_at, open_at))
            return start + 1
        if term.type == "speed_joint_position":
            opened, closed = np.asarray(p["open"], dtype=np.float64), np.asarray(p["close"], dtype=np.float64)
            rate = float(p["opening_per_action"])
            if rate <= 0.0:
                raise MetadataError(f"Action term {term.name!r}: opening_per_action {rate} must be > 0.")
            self.speed_grippers.append((start, ids, opened, closed, rate))
            self.openings.append(1.0)
            return start + 1
        if term.type == "planar_velocity":
            if ids.size != 3:
                raise MetadataError(
                    f"Action term {term.name!r} needs the x, y and yaw joints, got {term.joint_names}."
                )
            self.planar.append(
                (slice(start, start + 3), ids, float(p["max_lin_speed"]), float(p["max_ang_speed"]))
            )
            return start + 3
        if term.type in TASK_SPACE_TYPES:
            action = TaskSpaceAction(term, self.meta, self._kinematics().model)
            self.task_space.append((slice(start, start + action.action_dim), ids, action))
            return start + action.action_dim
        chunk = slice(start, start + len(ids))
        scale, offset = np.asarray(term.scale, dtype=np.float64), np.asarray(term.offset, dtype=np.float64)
        self.terms.append((chunk, ACTION_TARGETS[term.type], ids, scale, offset))
        alpha = float(p.get("ema_alpha", 1.0)) if term.type == "joint_position" else 1.0
        if not 0.0 < alpha <= 1.0:
            raise MetadataError(f"Action term {term.name!r}: ema_alpha {alpha} must be in (0, 1].")
        if alpha < 1.0:
            self.filtered.append((ids, alpha))
            self.last_filtered.append(None)
        return chunk.stop

    def reset(self) -> None:
        """A new episode: filtered joint position targets start again from the measured joint positions, speed
        grippers open."""
        self.last_filtered = [None] * len(self.filtered)
        self.openings = [1.0] * len(self.speed_grippers)

    def _kinematics(self) -> JointStateKinematics:
        """The private MjData task-space terms compute on (the exported scene, loaded once)."""
        if self.kinematics is None:
            from roboforge.deploy.mujoco_robot import load_scene_model

            self.kinematics = JointStateKinematics(load_scene_model(self.meta, self.policy_dir), self.meta)
        return self.kinematics

    def task_targets(self) -> dict[str, np.ndarray]:
        """Each task-space term's root-frame target `(7,)` (position, quaternion) of the last `compute`."""
        return {t.name: t.target.copy() for _, _, t in self.task_space}

    def task_actions(self) -> dict[str, np.ndarray]:
        """Each task-space term's part of the action of the last `compute`, by term name."""
        return {t.name: self.last_task_action[chunk].copy() for chunk, _, t in self.task_space}

    def compute(
        self, action: np.ndarray, joint_pos: np.ndarray, joint_vel: np.ndarray | None = None
    ) -> np.ndarray:
        """Targets `(3, num_joints)`: position, velocity, effort rows, policy joint order (reused buffer);
        planar velocity terms turn by the heading in `joint_pos` (policy order); task-space terms take a new
        target from `action` (one call per policy action) and solve on the measured `joint_pos`/`joint_vel`."""
        self.targets[:] = self.default
        for chunk, row, ids, scale, offset in self.terms:
            self.targets[row, ids] = offset + scale * action[chunk]
        for k, (ids, alpha) in enumerate(self.filtered):
            last = self.last_filtered[k]
            last = joint_pos[ids] if last is None else last
            self.targets[0, ids] = alpha * self.targets[0, ids] + (1.0 - alpha) * last
            self.last_filtered[k] = self.targets[0, ids].copy()
        for at, ids, opened, closed, closed_at, open_at in self.grippers:
            self.targets[0, ids] = closed + opening_fraction(float(action[at]), closed_at, open_at) * (
                opened - closed
            )
        for k, (at, ids, opened, closed, rate) in enumerate(self.speed_grippers):
            self.openings[k] = min(
                max(self.openings[k] + min(max(float(action[at]), -1.0), 1.0) * rate, 0.0), 1.0
            )
            self.targets[0, ids] = closed + self.openings[k] * (opened - closed)
        for chunk, ids, max_lin, max_ang in self.planar:
            a = np.clip(action[chunk], -1.0, 1.0)
            lin = a[:2] * max_lin
            lin = lin / max(float(np.linalg.norm(lin)) / max_lin, 1.0)
            self.targets[1, ids] = (*rotate(lin, float(joint_pos[ids[2]])), a[2] * max_ang)
        if self.task_space:
            self._task_space(action, joint_pos, joint_vel)
        return self.targets

    def _task_space(self, action: np.ndarray, joint_pos: np.ndarray, joint_vel: np.ndarray | None) -> None:
        """IK targets / OSC torques of the task-space terms from the kinematics at `joint_pos`."""
        data = self._kinematics().update(joint_pos)
        self.last_task_action = action.copy()
        for chunk, ids, term in self.task_space:
            if joint_vel is None and term.type == "operational_space":
                raise ValueError(f"Action term {term.name!r} ({term.type}) needs the joint velocities.")
            term.process(action[chunk], data)
            qd = np.zeros(len(ids)) if joint_vel is None else joint_vel[ids]
            self.targets[term.row, ids] = term.apply(data, joint_pos[ids], qd)


def opening_fraction(action: float, closed_at: float, open_at: float) -> float:
    """0 (closed) .. 1 (open): linear between `closed_at` and `open_at`; where they are equal (binary), 0 below
    and 1 at or above them."""
    if open_at > closed_at:
        return min(max((action - closed_at) / (open_at - closed_at), 0.0), 1.0)
    return 0.0 if action < closed_at else 1.0
