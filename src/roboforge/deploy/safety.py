"""Safety layer between the policy and the robot: limits, rate limits and a stop-and-hold watchdog.

Rules (each configurable in `SafetyCfg`):
- position targets are clamped into the joint limits (minus a margin), velocity and effort targets
  into the velocity and effort limits;
- position and effort targets change at most `max_position_rate` / `max_effort_rate` per second;
- a state older than `max_state_age_s`, or with non-finite values, or a non-finite action stops the
  policy: the command holds the last good measured joint positions with zero velocity and effort
  (latched until `reset()` unless `latch=False`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from roboforge.deploy.metadata import PolicyMetadata
from roboforge.deploy.robot import RobotState


@dataclass(kw_only=True)
class SafetyCfg:
    """Which safety rules apply and their thresholds."""

    clamp_to_limits: bool = True
    """Clamp position targets into the joint limits (shrunk by `limit_margin`)."""
    limit_margin: float = 0.0
    """Distance (rad or m) kept from each joint limit when clamping."""
    clamp_effort: bool = True
    """Clamp effort targets to the effort limits and velocity targets to the velocity limits."""
    max_position_rate: float | None = None
    """Largest change of a position target per second (rad/s or m/s); None: unlimited."""
    max_effort_rate: float | None = None
    """Largest change of an effort target per second (N m/s or N/s); None: unlimited."""
    max_state_age_s: float | None = 0.1
    """Stop and hold when `now - state.stamp` exceeds this (s); None: no watchdog."""
    stop_on_nonfinite: bool = True
    """Stop and hold on a NaN/inf in the state or in the policy's action."""
    latch: bool = True
    """Stay stopped until `reset()`; False resumes as soon as the state is good again."""


class SafetyFilter:
    """Applies `SafetyCfg` to targets `(3, num_joints)` (position, velocity, effort; policy joint order)."""

    def __init__(self, meta: PolicyMetadata, cfg: SafetyCfg, step_dt: float | None = None):
        self.cfg = cfg
        robot = meta.robot
        limits = np.array(robot.joint_pos_limits, dtype=np.float64).reshape(-1, 2)
        self.pos_lo = limits[:, 0] + cfg.limit_margin
        self.pos_hi = limits[:, 1] - cfg.limit_margin
        self.vel_limit = np.asarray(robot.velocity_limit, dtype=np.float64)
        self.effort_limit = np.asarray(robot.effort_limit, dtype=np.float64)
        self.default_pos = np.asarray(robot.default_joint_pos, dtype=np.float64)
        self.dt = step_dt if step_dt is not None else meta.control.step_dt
        self.has_pos_limits = bool(np.isfinite(limits).any())
        self.has_vel_limits = bool(np.isfinite(self.vel_limit).any())
        self.has_effort_limits = bool(np.isfinite(self.effort_limit).any())
        self.counts = {"position_clamped": 0, "effort_clamped": 0, "rate_limited": 0, "stops": 0}
        self.reset()

    def reset(self) -> None:
        """Clear the stop latch and the rate-limit history (at an episode start)."""
        self.stopped: str | None = None
        self.previous: np.ndarray | None = None
        self.last_good_pos: np.ndarray | None = None

    def check_state(self, state: RobotState, joint_pos: np.ndarray, now: float) -> str | None:
        """Why the state is unusable (stale or non-finite), or None; good states refresh the hold pose."""
        cfg = self.cfg
        if cfg.max_state_age_s is not None and now - state.stamp > cfg.max_state_age_s:
            return f"stale state: {now - state.stamp:.3f} s old (max_state_age_s={cfg.max_state_age_s})"
        if cfg.stop_on_nonfinite and not _finite(state):
            return "non-finite robot state"
        self.last_good_pos = joint_pos.copy()
        return None

    def check_action(self, action: np.ndarray) -> str | None:
        """Why the action is unusable (non-finite), or None."""
        if self.cfg.stop_on_nonfinite and not np.isfinite(action).all():
            return "non-finite policy action"
        return None

    def stop(self, reason: str) -> None:
        """Enter the stopped state (counted once per stop)."""
        if self.stopped is None:
            self.counts["stops"] += 1
        self.stopped = reason

    def resume_if_allowed(self) -> bool:
        """True if the policy may run (not stopped, or stopped without latch: then un-stop)."""
        if self.stopped is not None and not self.cfg.latch:
            self.stopped = None
            self.previous = None
        return self.stopped is None

    def hold(self) -> np.ndarray:
        """Targets that hold the last good measured pose still: `(3, num_joints)`."""
        targets = np.zeros((3, self.default_pos.size))
        targets[0] = self.last_good_pos if self.last_good_pos is not None else self.default_pos
        self.previous = targets.copy()
        return targets

    def filter(self, targets: np.ndarray, joint_pos: np.ndarray) -> np.ndarray:
        """Clamp and rate-limit `targets` in place; returns them."""
        cfg = self.cfg
        if self.previous is None:
            self.previous = np.zeros_like(targets)
            self.previous[0] = joint_pos
        if cfg.max_position_rate is not None:
            self._rate_limit(targets, 0, cfg.max_position_rate * self.dt)
        if cfg.max_effort_rate is not None:
            self._rate_limit(targets, 2, cfg.max_effort_rate * self.dt)
        if cfg.clamp_to_limits and self.has_pos_limits:
            self._clamp(targets, 0, self.pos_lo, self.pos_hi, "position_clamped")
        if cfg.clamp_effort and self.has_vel_limits:
            self._clamp(targets, 1, -self.vel_limit, self.vel_limit, None)
        if cfg.clamp_effort and self.has_effort_limits:
            self._clamp(targets, 2, -self.effort_limit, self.effort_limit, "effort_clamped")
        self.previous[:] = targets
        return targets

    def _rate_limit(self, targets: np.ndarray, row: int, max_step: float) -> None:
        prev = self.previous[row]  # type: ignore[index]
        limited = np.clip(targets[row], prev - max_step, prev + max_step)
        if not np.array_equal(limited, targets[row]):
            self.counts["rate_limited"] += 1
            targets[row] = limited

    def _clamp(self, targets: np.ndarray, row: int, lo: np.ndarray, hi: np.ndarray, key: str | None) -> None:
        x = targets[row]
        clamped = np.minimum(np.maximum(x, lo), hi)
        if key is not None and (clamped != x).any():
            self.counts[key] += 1
        targets[row] = clamped


def _finite(state: RobotState) -> bool:
    # x . x is finite iff every entry is (or |x| > 1e154, which is no valid measurement either); a dot
    # product costs a fraction of np.isfinite(x).all() on these small arrays.
    for value in (
        state.joint_pos,
        state.joint_vel,
        state.base_quat_w,
        state.base_lin_vel_b,
        state.base_ang_vel_b,
        state.base_pos_w,
        *(state.object_pos_w or {}).values(),
        *(np.ravel(nodes) for nodes in (state.object_nodes_w or {}).values()),
        None if state.obstacles_w is None else np.ravel(state.obstacles_w),
    ):
        if value is not None and not math.isfinite(float(np.dot(value, value))):
            return False
    return math.isfinite(state.stamp)
