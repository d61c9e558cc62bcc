"""numpy twins of the planar goal commands (`roboforge.mdp.commands.pose2d_command.UniformPose2dCommand`,
`pose2d_goal_command.Pose2dGoalCommand`; `navigation-go1`) for the sim-to-sim check.

On its timer: a goal at a uniform xy offset from the world's origin (the exported scene's one world is at the
origin), at the robot's default root height, and a goal heading (uniform, or `simple_heading`: towards the goal or
away from it, whichever is closer to the robot's heading). Every step: the command `(4,)` = the goal in the robot's
yaw frame and the heading error (rad). Metrics as `roboforge eval` logs them: `error_pos_2d` (m), `error_heading`
(rad) and, for `Pose2dGoalCommandCfg`, `success` (within `success_radius`), averaged over `metric_window_s`.
"""

from __future__ import annotations

import math

import numpy as np

from roboforge.deploy.command_sim import CommandSim, check_floating_base
from roboforge.deploy.heading_terms import wrap_to_pi
from roboforge.deploy.metadata import PolicyMetadata
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.rotations import yaw_of
from roboforge.deploy.scene_terms import rotate
from roboforge.deploy.specs import CommandSpec


class Pose2dCommandSim(CommandSim):
    """One floating-base robot's planar goal."""

    metric_names: tuple[str, ...] = ("error_pos_2d", "error_heading")

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        p = spec.params
        super().__init__(spec.name, tuple(p["resampling_time_range"]), p.get("metric_window_s"))
        check_floating_base(spec, meta, robot)
        r = p["ranges"]
        self.lo = np.array([r["pos_x"][0], r["pos_y"][0], r["heading"][0]], dtype=np.float64)
        self.hi = np.array([r["pos_x"][1], r["pos_y"][1], r["heading"][1]], dtype=np.float64)
        self.simple_heading = bool(p.get("simple_heading", False))
        self.robot = robot
        self.goal_w = np.array([0.0, 0.0, float((meta.robot.default_root_state or [0.0] * 3)[2])])
        self.heading_w = 0.0
        self.command = np.zeros(4)
        self.errors = np.zeros(2)

    def _resample(self, rng: np.random.Generator) -> None:
        sample = rng.uniform(self.lo, self.hi)
        self.goal_w[:2] = sample[:2]
        self.heading_w = float(sample[2])
        if self.simple_heading:
            pos, quat = self.robot.root_pose_w()
            to_goal = self.goal_w - pos
            toward = math.atan2(to_goal[1], to_goal[0])
            away, yaw = wrap_to_pi(toward + math.pi), yaw_of(quat)
            closer = abs(wrap_to_pi(toward - yaw)) <= abs(wrap_to_pi(away - yaw))
            self.heading_w = toward if closer else away
        self._update()

    def _update(self) -> None:
        pos, quat = self.robot.root_pose_w()
        yaw = yaw_of(quat)
        to_goal = self.goal_w - pos
        self.command[:2] = rotate(to_goal[:2], -yaw)
        self.command[2] = to_goal[2]
        self.command[3] = wrap_to_pi(self.heading_w - yaw)
        self.errors[:] = float(np.linalg.norm(to_goal[:2])), abs(self.command[3])

    def _errors(self) -> np.ndarray:
        return self.errors.copy()


class Pose2dGoalCommandSim(Pose2dCommandSim):
    """`Pose2dCommandSim` with `success`: 1 while the root is within `success_radius` (m, xy) of the goal."""

    metric_names = ("error_pos_2d", "error_heading", "success")

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        super().__init__(spec, meta, robot)
        self.radius = float(spec.params["success_radius"])

    def _errors(self) -> np.ndarray:
        return np.array([*self.errors, float(self.errors[0] < self.radius)])
