"""numpy twin of `ObjectStackCommand` (stack tasks) for the sim-to-sim check: the command is where the object must
stand on the base, in the robot's root frame, followed every step; the metrics are training's `position_error`,
`success` (the object resting there within the tolerances) and, with finger joints, `released` (success with the
gripper past halfway open)."""

from __future__ import annotations

import re

import numpy as np

from roboforge.deploy.command_sim import CommandSim
from roboforge.deploy.metadata import MetadataError, PolicyMetadata
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.rotations import quat_apply_inverse
from roboforge.deploy.specs import CommandSpec


class ObjectStackCommandSim(CommandSim):
    """The stacked position of `object_name` on `base_name` for one simulated robot."""

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        p = spec.params
        fingers = list(p.get("finger_joint_names") or [])
        self.metric_names = ("position_error", "success") + (("released",) if fingers else ())
        super().__init__(spec.name, tuple(p["resampling_time_range"]), p.get("metric_window_s"))
        if p["asset_name"] != meta.robot.asset:
            raise MetadataError(
                f"Command {spec.name!r} is expressed in an entity other than the controlled robot."
            )
        self.robot, self.object, self.base = robot, p["object_name"], p["base_name"]
        for name in (self.object, self.base):
            robot.scene_objects.free_joint(name)  # both objects must be in the scene
        self.up = np.array([0.0, 0.0, float(p["stack_height"])])
        self.xy_threshold, self.z_threshold = float(p["xy_threshold"]), float(p["z_threshold"])
        self.holding, self.open = float(p["holding_joint_pos"]), float(p["open_joint_pos"])
        names = robot.joint_names
        self.fingers = np.array(
            [i for i, n in enumerate(names) if any(re.fullmatch(f, n) for f in fingers)], dtype=np.intp
        )
        if fingers and self.fingers.size == 0:
            raise MetadataError(f"Command {spec.name!r}: no robot joint matches its fingers {fingers}.")
        self.command = np.zeros(3)

    def _target_w(self) -> np.ndarray:
        return self.robot.scene_objects.object_pos_w(self.robot.data)[self.base] + self.up

    def _resample(self, rng: np.random.Generator) -> None:
        self._update()

    def _update(self) -> None:
        root_pos, root_quat = self.robot.root_pose_w()
        self.command = quat_apply_inverse(root_quat, self._target_w() - root_pos)

    def _errors(self) -> np.ndarray:
        error_w = self.robot.scene_objects.object_pos_w(self.robot.data)[self.object] - self._target_w()
        success = float(
            np.linalg.norm(error_w[:2]) < self.xy_threshold and abs(error_w[2]) < self.z_threshold
        )
        errors = [float(np.linalg.norm(error_w)), success]
        if self.fingers.size:
            finger_pos = self.robot.data.qpos[self.robot.qadr[self.fingers]]
            opening = np.clip((finger_pos.mean() - self.holding) / (self.open - self.holding), 0.0, 1.0)
            errors.append(success * float(opening > 0.5))
        return np.array(errors)
