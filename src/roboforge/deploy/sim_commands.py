"""Command terms of the training env in numpy, for sim-to-sim episodes: sampling, resampling timer and
the term's metrics (names as `roboforge eval` logs them: `Metrics/<command>/<metric>`).

`UniformVelocityCommandCfg` (legged tasks) is reproduced in `velocity_command_sim.py`.
`UniformPoseCommandCfg` (reach tasks) is reproduced: a pose in the robot's root frame drawn from the
recorded ranges, resampled on its timer, with the end effector's position error (m) and orientation
error (rad) averaged over the last `metric_window_s` of each episode; `ObjectGoalCommandCfg` (lift) samples
the same way and scores the object instead (`position_error` to the goal, `success` within the threshold).
`NavigationCommandCfg` is in `navigation_command_sim.py`, the classic tasks' `TargetCommandCfg` in
`target_command_sim.py`, the planar goals (`UniformPose2dCommandCfg`, `Pose2dGoalCommandCfg`) in
`pose2d_command_sim.py`. Other command types are an error that suggests constant commands (`--command NAME=...`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from roboforge.deploy.command_sim import CommandSim
from roboforge.deploy.metadata import MetadataError, PolicyMetadata
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.navigation_command_sim import NavigationCommandSim
from roboforge.deploy.pose2d_command_sim import Pose2dCommandSim, Pose2dGoalCommandSim
from roboforge.deploy.rotations import quat_apply, quat_from_euler_xyz, quat_mul
from roboforge.deploy.specs import CommandSpec
from roboforge.deploy.stack_command_sim import ObjectStackCommandSim
from roboforge.deploy.target_command_sim import TargetCommandSim
from roboforge.deploy.task_space import frame_on_body
from roboforge.deploy.velocity_command_sim import VelocityCommandSim

_RANGE_KEYS = ("pos_x", "pos_y", "pos_z", "roll", "pitch", "yaw")


class PoseCommandSim(CommandSim):
    """numpy twin of `UniformPoseCommand` for one simulated robot."""

    metric_names = ("position_error", "orientation_error")

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        p = spec.params
        super().__init__(spec.name, tuple(p["resampling_time_range"]), p.get("metric_window_s"))
        ranges = p["ranges"]
        self.lo = np.array([ranges[k][0] for k in _RANGE_KEYS], dtype=np.float64)
        self.hi = np.array([ranges[k][1] for k in _RANGE_KEYS], dtype=np.float64)
        self.unique = bool(p.get("make_quat_unique", True))
        self.robot = robot
        self.body, self.offset_pos, self.offset_quat = frame_on_body(
            robot.model, meta.scene.entity_prefix + p["body_name"]
        )
        self.command = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])

    def _resample(self, rng: np.random.Generator) -> None:
        # float32 like training: with roll = pi the real part is cos(pi/2) rounded, -4.4e-8 in float32 but
        # +6e-17 in float64, and quat_unique flips on its sign, so float64 would hand the policy the
        # other (never seen) sign of the same rotation.
        sample = rng.uniform(self.lo, self.hi).astype(np.float32)
        quat = quat_from_euler_xyz(*sample[3:])
        if self.unique and quat[0] < 0:
            quat = -quat
        self.command = np.concatenate((sample[:3], quat)).astype(np.float64)

    def _errors(self) -> np.ndarray:
        d = self.robot.data
        root_pos, root_quat = self.robot.root_pose_w()
        target_pos = root_pos + quat_apply(root_quat, self.command[:3])
        target_quat = quat_mul(root_quat, self.command[3:])
        body_quat = d.xquat[self.body]
        ee_pos = d.xpos[self.body] + quat_apply(body_quat, self.offset_pos)
        ee_quat = quat_mul(body_quat, self.offset_quat)
        angle = 2.0 * math.acos(min(abs(float(np.dot(target_quat, ee_quat))), 1.0))
        return np.array([float(np.linalg.norm(target_pos - ee_pos)), angle])


class ObjectGoalCommandSim(PoseCommandSim):
    """numpy twin of `ObjectGoalCommand`: a pose command whose metrics measure the object's distance to it."""

    metric_names = ("position_error", "success")

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        super().__init__(spec, meta, robot)
        self.object = spec.params["object_name"]
        self.threshold = float(spec.params["success_threshold"])
        robot.scene_objects.require(self.object)

    def _errors(self) -> np.ndarray:
        root_pos, root_quat = self.robot.root_pose_w()
        goal_w = root_pos + quat_apply(root_quat, self.command[:3])
        error = float(
            np.linalg.norm(goal_w - self.robot.scene_objects.object_pos_w(self.robot.data)[self.object])
        )
        return np.array([error, float(error < self.threshold)])


SIMULATED: dict[str, Callable[[CommandSpec, PolicyMetadata, MujocoSimRobot], CommandSim]] = {
    "UniformPoseCommandCfg": PoseCommandSim,
    "UniformVelocityCommandCfg": VelocityCommandSim,
    "ObjectGoalCommandCfg": ObjectGoalCommandSim,
    "NavigationCommandCfg": NavigationCommandSim,
    "TargetCommandCfg": TargetCommandSim,
    "UniformPose2dCommandCfg": Pose2dCommandSim,
    "Pose2dGoalCommandCfg": Pose2dGoalCommandSim,
    "ObjectStackCommandCfg": ObjectStackCommandSim,
}


def command_sims(
    meta: PolicyMetadata, robot: MujocoSimRobot, given: dict[str, np.ndarray]
) -> dict[str, CommandSim]:
    """Simulated command terms for the commands the caller did not give as constants."""
    sims = {}
    for spec in meta.command_terms:
        if spec.name in given:
            continue
        if spec.type not in SIMULATED:
            raise MetadataError(
                f"Command {spec.name!r} ({spec.type}) is not reproduced by the sim-to-sim check; give it as a "
                f"constant with --command {spec.name}=v1,v2,... ({meta.commands.get(spec.name, '?')} values)."
            )
        sims[spec.name] = SIMULATED[spec.type](spec, meta, robot)
    return sims
