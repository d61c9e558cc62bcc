"""What a robot adapter exchanges with the runtime: `RobotState` in, `JointCommand` out.

An adapter implements the `Robot` protocol (`read_state`, `write_command`, `now`); `MujocoSimRobot`
is the simulated one, `UdpJsonRobot` an example for hardware behind a network link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class RobotState:
    """One measurement of the robot, joints in the robot's own order.

    `stamp` is when the state was measured, on the same clock as the adapter's `now()`. Base fields
    are needed only by policies that observe them (legged robots): orientation (w, x, y, z) in the
    world frame, velocities in the base frame. `images` only by policies that see images: per camera sensor
    of the metadata (`cameras`), its frames as the training camera gives them: 'rgb' `(H, W, 3)` uint8,
    'depth' `(H, W, 1)` float32 planar metres (0 where nothing is hit).

    Scene fields are needed only by policies that observe the world around the robot; on a real robot they
    come from the user's perception, in the same world frame as `base_pos_w`/`base_quat_w` (for an arm,
    placing the base at the origin with identity orientation makes it the base frame):
    `base_pos_w` the root position (fixed bases: the mount), `object_pos_w` each observed object's position
    `(3,)` by its training scene entity name ('cube'; a deformable object's centre of mass), `object_nodes_w`
    each observed deformable object's node positions `(num_nodes, 3)` in the training flex's node order (e.g.
    tracked points on a soft cube), `obstacles_w` the vertical cylinders around a planar
    robot `(K, 3)`: centre x, centre y, radius (m), `terrain_height_w` the ground's world z `(N,)` under world
    xy points `(N, 2)` (a height scan's; from an elevation map), with `base_pos_w` in the same frame.
    """

    joint_names: tuple[str, ...]
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    stamp: float
    base_quat_w: np.ndarray | None = None
    base_lin_vel_b: np.ndarray | None = None
    base_ang_vel_b: np.ndarray | None = None
    images: dict[str, dict[str, np.ndarray]] | None = None
    base_pos_w: np.ndarray | None = None
    object_pos_w: dict[str, np.ndarray] | None = None
    obstacles_w: np.ndarray | None = None
    terrain_height_w: Callable[[np.ndarray], np.ndarray] | None = None
    object_nodes_w: dict[str, np.ndarray] | None = None


@dataclass
class JointCommand:
    """Per-joint targets for the robot's low-level PD loop, joints in the robot's own order.

    The robot applies `effort + stiffness * (position - q) + damping * (velocity - qd)` (clipped to its
    effort limits). `hold` is True when the safety layer stopped the policy and the command holds still.
    `task_actions`: the policy's action of each task-space (IK, OSC) action term by name; an adapter that runs
    the term's controller itself (`MujocoSimRobot`: as the training env, every physics step) recomputes those
    joints' targets from it; others apply `position`/`effort`, which the runtime solved from the measured state.
    """

    joint_names: tuple[str, ...]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray
    stiffness: np.ndarray
    damping: np.ndarray
    hold: bool = False
    task_actions: dict[str, np.ndarray] | None = None


class Robot(Protocol):
    """A robot the runtime can drive: real hardware, a network link or a simulator."""

    def read_state(self) -> RobotState:
        """The latest measured state."""
        ...

    def write_command(self, command: JointCommand) -> None:
        """Send targets to the robot (a simulator advances one control period here)."""
        ...

    def now(self) -> float:
        """Current time (s) on the clock of `RobotState.stamp`."""
        ...
