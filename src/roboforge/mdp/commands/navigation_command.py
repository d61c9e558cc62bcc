"""Navigation goal: a goal position per world, drawn at every reset 2-5 m from the planar robot's start,
with the arena's obstacles laid out around start and goal at the same time; and the episode's outcome.

Layout (all worlds at once, graph-safe): the goal is the first of `num_candidates` draws inside the arena;
then each obstacle in turn takes the first of `num_candidates` uniform draws that keeps `start_clearance`
from the robot's start, `goal_clearance` from a robot standing on the goal and a `passage_width` gap to the
walls and to the obstacles already placed (so the free space stays connected: every goal can be reached).
An obstacle with no valid draw is parked outside the arena. Obstacles live on mocap bodies: their positions
are per-world simulator state on both backends (`sim.mocap_pos`). Per-world `geom_pos` would not do: MuJoCo
Warp computes the world positions of geoms attached to the world body once, when the data is made.

Outcome (`update_outcome`, called by the navigation rewards and terminations with the state of the step,
before the masked reset): `touched` once the robot's disc overlaps an obstacle or a wall, `success` once it
is within `goal_tolerance` of the goal without having touched anything. Logged at reset as the episode's
final values `Metrics/<term>/success`, `touched` and `final_distance`; `distance` is the mean over the episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from roboforge.assets.builtin.point_robot import parked_position
from roboforge.managers.command_manager import CommandTerm, CommandTermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.planar import PLANAR_JOINTS, MocapCylinders, PlanarBase, rotate
from roboforge.utils.config import ConfigError
from roboforge.utils.math import sample_uniform


@dataclass(kw_only=True)
class NavigationCommandCfg(CommandTermCfg):
    """Goal positions and obstacle layouts of a planar robot in a walled square arena centred at the origin."""

    asset_name: str = "robot"
    """Scene entity of the planar robot."""
    joint_names: tuple[str, ...] = PLANAR_JOINTS
    """The robot's slide-x, slide-y and yaw joints."""
    robot_radius: float = 0.15
    """Radius (m) of the robot's disc."""
    obstacle_asset: str = "arena"
    """Scene entity whose mocap bodies carry the cylinder obstacles."""
    obstacle_bodies: str = "obstacle_.*"
    """Regex of the obstacle bodies."""
    arena_half_size: float = 4.0
    """The walls' inner faces are at x, y = +-arena_half_size (m)."""
    goal_distance: tuple[float, float] = (2.0, 5.0)
    """Range (m) of the goal's distance from the start."""
    goal_tolerance: float = 0.2
    """Distance (m) to the goal that counts as reached."""
    start_clearance: float = 0.3
    """Gap (m) between the robot's disc at its start and any obstacle."""
    goal_clearance: float = 0.3
    """Gap (m) between a robot disc on the goal and any obstacle or wall."""
    passage_width: float = 0.5
    """Smallest gap (m) between two obstacles and between an obstacle and a wall (wider than the robot)."""
    num_candidates: int = 32
    """Random draws per goal and per obstacle; the first valid one is used."""
    resampling_time_range: tuple[float, float] = (1.0e9, 1.0e9)
    """Unused: goals and layouts are drawn at reset only (a goal moved mid-episode would need a new layout
    around a moving robot)."""

    def build(self, env: TermEnv) -> CommandTerm:
        self.check()
        return NavigationCommand(self, env)

    def check(self) -> None:
        """Raise a ConfigError naming the first field with an impossible value."""
        positive = ("robot_radius", "arena_half_size", "goal_tolerance", "passage_width")
        for name in positive:
            if not getattr(self, name) > 0.0:
                raise ConfigError(f"NavigationCommandCfg.{name} must be > 0, got {getattr(self, name)}.")
        for name in ("start_clearance", "goal_clearance"):
            if not getattr(self, name) >= 0.0:
                raise ConfigError(f"NavigationCommandCfg.{name} must be >= 0, got {getattr(self, name)}.")
        lo, hi = self.goal_distance
        if not 0.0 < lo <= hi:
            raise ConfigError(
                f"NavigationCommandCfg.goal_distance must be (min, max) with 0 < min <= max, got {self.goal_distance}."
            )
        if not 2.0 * self.robot_radius < self.passage_width:
            raise ConfigError(
                f"NavigationCommandCfg.passage_width must be wider than the robot ({2 * self.robot_radius} m), "
                f"got {self.passage_width}."
            )
        if self.num_candidates < 1:
            raise ConfigError(f"NavigationCommandCfg.num_candidates must be >= 1, got {self.num_candidates}.")


class NavigationCommand(CommandTerm):
    """Command `(num_envs, 2)`: the goal's position in the robot's body frame (m). See the module docstring."""

    cfg: NavigationCommandCfg

    def __init__(self, cfg: NavigationCommandCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.base = PlanarBase(env.scene[cfg.asset_name], cfg.joint_names)
        self.obstacles = MocapCylinders(env, cfg.obstacle_asset, cfg.obstacle_bodies)
        n, k = env.num_envs, self.obstacles.count
        parked = [parked_position(cfg.arena_half_size, j) for j in range(k)]
        self.parked = torch.tensor(parked, device=env.device).reshape(k, 2)
        self.radii = [float(r) for r in self.obstacles.radii.tolist()]
        # Obstacle j keeps these distances (squared) from the start, the goal and obstacles 0 .. j-1.
        robot = [cfg.robot_radius + cfg.start_clearance, cfg.robot_radius + cfg.goal_clearance]
        self.min_dist_sq: list[torch.Tensor] = []
        for j, r in enumerate(self.radii):
            gaps = robot + [other + cfg.passage_width for other in self.radii[:j]]
            self.min_dist_sq.append(torch.tensor([r + gap for gap in gaps], device=env.device).square())
        self._at_reset = False
        self.goal_w = torch.zeros(n, 2, device=env.device)
        self.goal_b = torch.zeros(n, 2, device=env.device)
        self.distance = torch.zeros(n, device=env.device)
        self.last_distance = torch.zeros(n, device=env.device)
        """Distance to the goal at the end of the previous env step (progress rewards compare with it)."""
        self.clearance_now = torch.zeros(n, device=env.device)
        """Gap (m) between the robot and the nearest obstacle or wall now."""
        self.touched = torch.zeros(n, dtype=torch.bool, device=env.device)
        self.success = torch.zeros(n, dtype=torch.bool, device=env.device)
        self.metrics = {"distance": torch.zeros(n, device=env.device)}

    @property
    def command(self) -> torch.Tensor:
        return self.goal_b

    # --- layout ---------------------------------------------------------------------------------------
    def _resample(self, mask: torch.Tensor) -> None:
        if not self._at_reset:  # the base class also calls this every step for its timers
            return
        start, _ = self.base.pose()
        goal = self._sample_goal(start)
        self.goal_w[:] = torch.where(mask[:, None], goal, self.goal_w)
        self.obstacles.write(self._sample_obstacles(start, self.goal_w), mask)
        self.touched.masked_fill_(mask, False)
        self.success.masked_fill_(mask, False)
        self._update()

    def _sample_goal(self, start: torch.Tensor) -> torch.Tensor:
        """Goals `(N, 2)` at `goal_distance` from `start (N, 2)`, inside the arena with `goal_clearance`."""
        cfg, n, m = self.cfg, self.num_envs, self.cfg.num_candidates
        dist = sample_uniform(*cfg.goal_distance, (n, m), self.device, self.env.rng)
        angle = sample_uniform(-math.pi, math.pi, (n, m), self.device, self.env.rng)
        goals = start[:, None, :] + dist[..., None] * torch.stack((torch.cos(angle), torch.sin(angle)), -1)
        inner = cfg.arena_half_size - cfg.robot_radius - cfg.goal_clearance
        return _first_valid(goals, (goals.abs() <= inner).all(-1), goals[:, 0].clamp(-inner, inner))

    def _sample_obstacles(self, start: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Obstacle centres `(N, K, 2)`: one at a time, clear of start, goal, walls and the ones placed before."""
        cfg, n, m = self.cfg, self.num_envs, self.cfg.num_candidates
        centers = self.parked.expand(n, -1, -1).clone()
        keep_out = torch.stack((start, goal), dim=1)  # (N, 2, 2)
        for k, r in enumerate(self.radii):
            bound = cfg.arena_half_size - r - cfg.passage_width
            cand = sample_uniform(-bound, bound, (n, m, 2), self.device, self.env.rng)
            others = torch.cat((keep_out, centers[:, :k]), dim=1)  # (N, 2 + k, 2)
            dist_sq = (cand[:, :, None, :] - others[:, None, :, :]).square().sum(-1)  # (N, M, 2 + k)
            valid = (dist_sq >= self.min_dist_sq[k]).all(dim=-1)
            centers[:, k] = _first_valid(cand, valid, self.parked[k].expand(n, 2))
        return centers

    # --- outcome --------------------------------------------------------------------------------------
    def clearance(self, position: torch.Tensor) -> torch.Tensor:
        """Gap `(N,)` (m) between the robot's disc at `position (N, 2)` and the nearest obstacle or wall;
        negative where they overlap."""
        cfg = self.cfg
        centers = self.obstacles.centers()
        to_obstacles = (position[:, None, :] - centers).norm(dim=-1) - self.obstacles.radii
        to_walls = cfg.arena_half_size - position.abs()
        nearest = torch.cat((to_obstacles, to_walls), dim=1).min(dim=1).values
        return nearest - cfg.robot_radius

    def update_outcome(self) -> None:
        """Distance, goal in the body frame and the latched `touched`/`success` flags from the current state
        (idempotent within a step)."""
        position, heading = self.base.pose()
        to_goal = self.goal_w - position
        self.goal_b[:] = rotate(to_goal, -heading)
        self.distance[:] = to_goal.norm(dim=1)
        self.clearance_now[:] = self.clearance(position)
        self.touched |= self.clearance_now < 0.0
        self.success |= (self.distance < self.cfg.goal_tolerance) & ~self.touched

    def _update(self) -> None:
        self.update_outcome()
        self.last_distance[:] = self.distance
        self.metrics["distance"][:] = self.distance

    def reset(self, mask: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The ended episodes' final outcome, then the standard metric log and a new layout."""
        count = mask.sum()
        final = {
            "success": ((self.success & mask).sum().float(), count),
            "touched": ((self.touched & mask).sum().float(), count),
            "final_distance": ((self.distance * mask).sum(), count),
        }
        self._at_reset = True
        try:
            log = super().reset(mask)
        finally:
            self._at_reset = False
        return {**log, **final}


def _distance(points: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Distances `(N, M)` from candidate points `(N, M, 2)` to one point per world `(N, 2)`."""
    return (points - center[:, None, :]).norm(dim=-1)


def _first_valid(candidates: torch.Tensor, valid: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Per world the first candidate `(N, M, 2)` where `valid (N, M)`, else `fallback (N, 2)` (no host sync)."""
    first = valid.float().argmax(dim=1)  # the first maximum: the first valid candidate
    chosen = candidates.gather(1, first[:, None, None].expand(-1, 1, 2))[:, 0]
    return torch.where(valid.any(dim=1)[:, None], chosen, fallback)
