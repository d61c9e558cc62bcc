"""numpy twin of `NavigationCommand` (`roboforge.mdp.commands.navigation_command`) for the sim-to-sim check.

At every reset: a goal `goal_distance` from the robot's start (the first of `num_candidates` draws inside the
arena, keeping `goal_clearance`), then each obstacle in turn at the first of `num_candidates` draws clear of
start, goal, walls and the obstacles placed before (else parked where the scene puts it), written into the
scene's mocap bodies. Every step: the goal in the body frame (the command), the distance, the robot disc's
clearance to obstacles and walls, and the latched `touched`/`success` flags that the `goal_reached` and
`obstacle_touched` terminations read. Metrics as `roboforge eval` logs them: `distance` (mean over the
episode) and the episode's final `success`, `touched` and `final_distance`.
"""

from __future__ import annotations

import numpy as np

from roboforge.deploy.command_sim import CommandSim
from roboforge.deploy.metadata import MetadataError, PolicyMetadata
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.scene_state import obstacle_sources
from roboforge.deploy.scene_terms import rotate
from roboforge.deploy.specs import CommandSpec


class NavigationCommandSim(CommandSim):
    """Goal, obstacle layout and outcome of one simulated planar robot."""

    metric_names = ("distance",)

    def __init__(self, spec: CommandSpec, meta: PolicyMetadata, robot: MujocoSimRobot):
        p = spec.params
        super().__init__(spec.name, tuple(p["resampling_time_range"]), p.get("metric_window_s"))
        if len(obstacle_sources(meta)) != 1:
            raise MetadataError(f"Command {spec.name!r}: the sim-to-sim check handles one set of obstacles.")
        self.robot, self.p = robot, p
        self.ids = np.array([robot.joint_names.index(n) for n in p["joint_names"]])
        self.root_xy = np.asarray((meta.robot.default_root_state or [0.0, 0.0])[:2], dtype=np.float64)
        self.objects = robot.scene_objects
        m = robot.model
        bodies = [int(np.flatnonzero(m.body_mocapid == k)[0]) for k in self.objects.mocap_ids]
        self.parked = m.body_pos[bodies, :2].copy()
        self.half, self.radius = float(p["arena_half_size"]), float(p["robot_radius"])
        radii = self.objects.radii
        robot_gaps = [self.radius + p["start_clearance"], self.radius + p["goal_clearance"]]
        self.min_dist_sq = [
            (r + np.array(robot_gaps + [other + p["passage_width"] for other in radii[:k]])) ** 2
            for k, r in enumerate(radii)
        ]
        self.goal_w = np.zeros(2)
        self.command = np.zeros(2)
        self.distance, self.clearance, self.touched, self.success = 0.0, 0.0, False, False

    def pose(self) -> tuple[np.ndarray, float]:
        """The base's world position `(2,)` and heading (rad), from its joints."""
        q = self.robot.data.qpos[self.robot.qadr[self.ids]]
        return self.root_xy + q[:2], float(q[2])

    def _resample(self, rng: np.random.Generator) -> None:
        start, _ = self.pose()
        self.goal_w = self._sample_goal(start, rng)
        self.robot.data.mocap_pos[self.objects.mocap_ids, :2] = self._sample_obstacles(start, rng)
        self.touched = self.success = False
        self._update()

    def _sample_goal(self, start: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p, m = self.p, int(self.p["num_candidates"])
        lo, hi = p["goal_distance"]
        dist, angle = rng.uniform(lo, hi, m), rng.uniform(-np.pi, np.pi, m)
        goals = start + dist[:, None] * np.column_stack((np.cos(angle), np.sin(angle)))
        inner = self.half - self.radius - p["goal_clearance"]
        valid = np.flatnonzero((np.abs(goals) <= inner).all(axis=1))
        return goals[valid[0]] if valid.size else np.clip(goals[0], -inner, inner)

    def _sample_obstacles(self, start: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p, m = self.p, int(self.p["num_candidates"])
        centers = self.parked.copy()
        for k, r in enumerate(self.objects.radii):
            bound = self.half - r - p["passage_width"]
            cand = rng.uniform(-bound, bound, (m, 2))
            others = np.vstack((start, self.goal_w, centers[:k]))
            dist_sq = ((cand[:, None, :] - others[None, :, :]) ** 2).sum(-1)
            valid = np.flatnonzero((dist_sq >= self.min_dist_sq[k]).all(axis=1))
            if valid.size:
                centers[k] = cand[valid[0]]
        return centers

    def update_outcome(self) -> None:
        """Goal in the body frame, distance, clearance and the latched flags from the current state."""
        position, heading = self.pose()
        to_goal = self.goal_w - position
        self.command = rotate(to_goal, -heading)
        self.distance = float(np.linalg.norm(to_goal))
        obstacles = self.objects.obstacles_w(self.robot.data)
        gaps = np.linalg.norm(position - obstacles[:, :2], axis=1) - obstacles[:, 2]
        self.clearance = float(min(gaps.min(initial=np.inf), *(self.half - np.abs(position)))) - self.radius
        self.touched = self.touched or self.clearance < 0.0
        self.success = self.success or (self.distance < float(self.p["goal_tolerance"]) and not self.touched)

    def _update(self) -> None:
        self.update_outcome()

    def _errors(self) -> np.ndarray:
        return np.array([self.distance])

    def episode_metrics(self) -> dict[str, float]:
        """Mean distance over the episode and its final success, touched and distance."""
        final = {
            "success": float(self.success),
            "touched": float(self.touched),
            "final_distance": self.distance,
        }
        return super().episode_metrics() | {f"Metrics/{self.name}/{k}": v for k, v in final.items()}
