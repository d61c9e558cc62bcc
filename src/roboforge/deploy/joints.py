"""Joint order: match the robot's joints to the policy's by name, and turn actions into joint targets."""

from __future__ import annotations

import numpy as np

from roboforge.deploy.metadata import JOINT_ACTION_TYPES, OTHER_ACTION_DIMS, MetadataError, PolicyMetadata
from roboforge.deploy.scene_terms import rotate
from roboforge.deploy.specs import ActionTermSpec
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
    gripper term, heading-turned velocity targets of a planar velocity term; joints no term drives keep defaults."""

    def __init__(self, meta: PolicyMetadata):
        robot = meta.robot
        index = {n: i for i, n in enumerate(robot.joint_names)}
        self.default = np.zeros((3, len(robot.joint_names)))
        self.default[0] = robot.default_joint_pos
        self.terms: list[tuple[slice, int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.binary: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.planar: list[tuple[slice, np.ndarray, float, float]] = []
        start = 0
        for term in meta.actions:
            if term.type not in ACTION_TARGETS and term.type not in OTHER_ACTION_DIMS:
                raise MetadataError(
                    f"Action term {term.name!r} has type {term.type!r}; the runtime supports "
                    f"{', '.join([*ACTION_TARGETS, *OTHER_ACTION_DIMS])}."
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
        if term.type == "binary_joint_position":
            opened, closed = np.asarray(p["open"], dtype=np.float64), np.asarray(p["close"], dtype=np.float64)
            self.binary.append((start, ids, opened, closed))
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
        chunk = slice(start, start + len(ids))
        scale, offset = np.asarray(term.scale, dtype=np.float64), np.asarray(term.offset, dtype=np.float64)
        self.terms.append((chunk, ACTION_TARGETS[term.type], ids, scale, offset))
        return chunk.stop

    def compute(self, action: np.ndarray, joint_pos: np.ndarray) -> np.ndarray:
        """Targets `(3, num_joints)`: position, velocity, effort rows, policy joint order (reused buffer);
        planar velocity terms turn by the heading in `joint_pos` (policy order)."""
        self.targets[:] = self.default
        for chunk, row, ids, scale, offset in self.terms:
            self.targets[row, ids] = offset + scale * action[chunk]
        for at, ids, opened, closed in self.binary:
            self.targets[0, ids] = closed if action[at] < 0 else opened
        for chunk, ids, max_lin, max_ang in self.planar:
            a = np.clip(action[chunk], -1.0, 1.0)
            lin = a[:2] * max_lin
            lin = lin / max(float(np.linalg.norm(lin)) / max_lin, 1.0)
            self.targets[1, ids] = (*rotate(lin, float(joint_pos[ids[2]])), a[2] * max_ang)
        return self.targets
