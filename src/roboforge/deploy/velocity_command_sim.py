"""numpy twin of `UniformVelocityCommand` for the sim-to-sim check of legged policies.

Velocity targets (v_x, v_y, yaw rate) in the base frame are drawn from the recorded ranges on the
resampling timer; heading worlds turn a target heading into a clipped yaw rate every step; standing
worlds get zeros. Metrics, as `roboforge eval` logs them: `error_vel_xy` (m/s) and `error_vel_yaw`
(rad/s), averaged over the episode (or its last `metric_window_s`).
"""

from __future__ import annotations

import math

import numpy as np

from roboforge.deploy.command_sim import CommandSim
from roboforge.deploy.metadata import PolicyMetadata
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.rotations import quat_apply_inverse, yaw_of
from roboforge.deploy.specs import CommandSpec

_KEYS = ("lin_vel_x", "lin_vel_y", "ang_vel_z", "heading")


class VelocityCommandSim(CommandSim):
    """One robot's velocity command, resampled and scored as in training."""

    metric_names = ("error_vel_xy", "error_vel_yaw")

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        p = spec.params
        super().__init__(spec.name, tuple(p["resampling_time_range"]), p.get("metric_window_s"))
        self.lo = np.array([p["ranges"][k][0] for k in _KEYS])
        self.hi = np.array([p["ranges"][k][1] for k in _KEYS])
        self.heading_mode = bool(p.get("heading_command", False))
        self.stiffness = float(p.get("heading_control_stiffness", 1.0))
        self.rel_heading = float(p.get("rel_heading_envs", 1.0))
        self.rel_standing = float(p.get("rel_standing_envs", 0.0))
        self.robot = robot
        self.command = np.zeros(3)
        self.heading_target, self.is_heading, self.is_standing = 0.0, False, False

    def _resample(self, rng: np.random.Generator) -> None:
        sample = rng.uniform(self.lo, self.hi)
        self.is_heading = self.heading_mode and rng.uniform() < self.rel_heading
        self.is_standing = rng.uniform() < self.rel_standing
        self.heading_target = float(sample[3])
        self.command = np.zeros(3) if self.is_standing else sample[:3].copy()

    def _update(self) -> None:
        """Heading worlds: yaw rate = stiffness * heading error, clipped to the yaw-rate range."""
        if self.is_heading:
            yaw = yaw_of(self.robot.root_pose_w()[1])
            error = math.remainder(self.heading_target - yaw, 2.0 * math.pi)
            self.command[2] = float(np.clip(self.stiffness * error, self.lo[2], self.hi[2]))
        if self.is_standing:
            self.command[:] = 0.0

    def _errors(self) -> np.ndarray:
        quat = self.robot.root_pose_w()[1]
        qvel, v = self.robot.data.qvel, self.robot.root_d
        lin_vel_b = quat_apply_inverse(quat, qvel[v : v + 3])
        ang_vel_z = qvel[v + 5]
        return np.array([np.linalg.norm(self.command[:2] - lin_vel_b[:2]), abs(self.command[2] - ang_vel_z)])
