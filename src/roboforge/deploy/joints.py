"""Joint order: match the robot's joints to the policy's by name, and turn actions into joint targets."""

from __future__ import annotations

import numpy as np

from roboforge.deploy.metadata import JOINT_ACTION_TYPES, MetadataError, PolicyMetadata
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
    """`target = offset + scale * action` for each action term; joints no term drives keep defaults."""

    def __init__(self, meta: PolicyMetadata):
        robot = meta.robot
        index = {n: i for i, n in enumerate(robot.joint_names)}
        self.default = np.zeros((3, len(robot.joint_names)))
        self.default[0] = robot.default_joint_pos
        self.terms: list[tuple[slice, int, np.ndarray, np.ndarray, np.ndarray]] = []
        start = 0
        for term in meta.actions:
            if term.type not in ACTION_TARGETS:
                raise MetadataError(
                    f"Action term {term.name!r} has type {term.type!r}; the runtime supports "
                    f"{', '.join(ACTION_TARGETS)}."
                )
            unknown = [n for n in term.joint_names if n not in index]
            if unknown:
                raise MetadataError(f"Action term {term.name!r} drives joints the robot lacks: {unknown}.")
            ids = np.array([index[n] for n in term.joint_names], dtype=np.intp)
            chunk = slice(start, start + len(ids))
            scale, offset = (
                np.asarray(term.scale, dtype=np.float64),
                np.asarray(term.offset, dtype=np.float64),
            )
            self.terms.append((chunk, ACTION_TARGETS[term.type], ids, scale, offset))
            start = chunk.stop
        self.targets = self.default.copy()

    def compute(self, action: np.ndarray) -> np.ndarray:
        """Targets `(3, num_joints)`: position, velocity, effort rows, policy joint order (reused buffer)."""
        self.targets[:] = self.default
        for chunk, row, ids, scale, offset in self.terms:
            self.targets[row, ids] = offset + scale * action[chunk]
        return self.targets
