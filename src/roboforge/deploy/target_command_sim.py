"""numpy twin of `TargetCommand` (`roboforge.tasks.classic.target_command`) for the sim-to-sim check of the
classic locomotion tasks: a fixed target `distance` m along +x of the world's origin (the exported scene has
one world, at the origin), never resampled. Metrics as `roboforge eval` logs them: `forward_speed` (the
torso's speed towards the target, averaged over the episode) and `fall_free` (1 for an episode that no
failure termination ended: the share of such episodes over the run)."""

from __future__ import annotations

import numpy as np

from roboforge.deploy.command_sim import CommandSim, check_floating_base
from roboforge.deploy.metadata import PolicyMetadata
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.specs import CommandSpec


class TargetCommandSim(CommandSim):
    """The heading target of one simulated floating-base robot; the command is its world xy `(2,)`."""

    metric_names = ("forward_speed",)

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        p = spec.params
        super().__init__(spec.name, tuple(p["resampling_time_range"]), p.get("metric_window_s"))
        check_floating_base(spec, meta, robot)
        self.robot = robot
        self.command = np.array([float(p["distance"]), 0.0])
        self.fall_free = 1.0

    def _resample(self, rng: np.random.Generator) -> None:
        """The target stays where it is."""

    def progress(self) -> float:
        """The torso's ground speed (m/s) towards the target."""
        d, v = self.robot.data, self.robot.root_d
        to_target = self.command - d.qpos[self.robot.root_q : self.robot.root_q + 2]
        direction = to_target / max(float(np.linalg.norm(to_target)), 1e-6)
        return float(d.qvel[v : v + 2] @ direction)

    def _errors(self) -> np.ndarray:
        return np.array([self.progress()])

    def end(self, failed: bool) -> None:
        self.fall_free = 0.0 if failed else 1.0

    def episode_metrics(self) -> dict[str, float]:
        """Mean speed towards the target over the episode, and whether no failure ended it."""
        return super().episode_metrics() | {f"Metrics/{self.name}/fall_free": self.fall_free}
