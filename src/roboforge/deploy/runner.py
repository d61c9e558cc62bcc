"""`PolicyRunner`: robot state -> observation -> ONNX policy -> joint targets -> safety -> command.

A policy that commands a frozen low-level policy (`low_level.py`) gets one `step` per joint command, at the low
level's rate: the low level runs on every call, the exported policy on every `commands_per_step`-th.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from roboforge.deploy.joints import ActionMapper, JointMap
from roboforge.deploy.low_level import LowLevelPolicy
from roboforge.deploy.metadata import PolicyMetadata, command_decimation
from roboforge.deploy.observations import ObsContext, ObservationBuilder
from roboforge.deploy.policy import OnnxPolicy
from roboforge.deploy.robot import JointCommand, RobotState
from roboforge.deploy.safety import SafetyCfg, SafetyFilter


class StepTimer:
    """Per-step durations (ns) of the observation, inference and safety phases."""

    def __init__(self) -> None:
        self.phases: dict[str, list[int]] = {"observation": [], "inference": [], "safety": [], "total": []}

    def add(self, t0: int, t1: int, t2: int, t3: int) -> None:
        self.phases["observation"].append(t1 - t0)
        self.phases["inference"].append(t2 - t1)
        self.phases["safety"].append(t3 - t2)
        self.phases["total"].append(t3 - t0)


class PolicyRunner:
    """Runs an exported policy on one robot. Not thread-safe; one runner per robot.

    `step(state)` returns the command for the robot's joints in the robot's own order (matched by
    name to the training joints on the first step; a missing or extra joint raises JointMapError).
    """

    def __init__(self, policy: OnnxPolicy, safety: SafetyCfg | None = None):
        self.policy = policy
        self.meta: PolicyMetadata = policy.metadata
        self.observations = ObservationBuilder(self.meta, policy.path.parent)
        self.low_level = LowLevelPolicy.of(self.meta, policy.path.parent, policy.threads)
        self.actions = (
            ActionMapper(self.meta, policy.path.parent) if self.low_level is None else self.low_level.actions
        )
        control = self.meta.control
        self.commands_per_step = control.decimation // command_decimation(self.meta)
        """Joint commands (`step` calls) per step of the exported policy (1 without a low-level policy)."""
        self.command_dt = control.step_dt / self.commands_per_step
        """Seconds between joint commands."""
        self.substep = 0
        self.safety = SafetyFilter(self.meta, safety or SafetyCfg(), self.command_dt)
        robot = self.meta.robot
        self.stiffness = np.asarray(robot.stiffness, dtype=np.float64)
        self.damping = np.asarray(robot.damping, dtype=np.float64)
        self.clip = self.meta.policy.clip_actions
        self.last_action = np.zeros(self.meta.policy.action_dim, dtype=np.float64)
        self.joint_map: JointMap | None = None
        self.ctx = ObsContext(np.zeros(0), np.zeros(0), self.last_action)
        self.timer: StepTimer | None = None

    @classmethod
    def load(cls, path: str | Path, safety: SafetyCfg | None = None, threads: int = 1) -> PolicyRunner:
        """Load `policy.onnx` (metadata embedded) and build the runtime; unsupported terms raise here."""
        return cls(OnnxPolicy(path, threads), safety)

    def reset(self) -> None:
        """Start a new episode: zero recurrent state and last action, refill histories, clear the safety latch."""
        self.policy.reset()
        self.observations.reset()
        self.last_action[:] = 0.0
        self.actions.reset()
        self.safety.reset()
        self.substep = 0
        if self.low_level is not None:
            self.low_level.reset()

    def bind(self, joint_names: tuple[str, ...] | list[str]) -> JointMap:
        """Match the robot's joint names to the policy's (done automatically by `step`)."""
        if self.joint_map is None or self.joint_map.robot_joints != tuple(joint_names):
            self.joint_map = JointMap(self.meta.robot.joint_names, tuple(joint_names))
        return self.joint_map

    def step(
        self, state: RobotState, now: float | None = None, commands: dict[str, np.ndarray] | None = None
    ) -> JointCommand:
        """The command for `state`; `now` defaults to `state.stamp`; `commands` feed generated_commands terms."""
        t0 = time.perf_counter_ns() if self.timer else 0
        jm = self.bind(state.joint_names)
        q = jm.policy_order(np.asarray(state.joint_pos, dtype=np.float64))
        qd = jm.policy_order(np.asarray(state.joint_vel, dtype=np.float64))
        safety = self.safety
        if safety.stopped is not None and safety.cfg.latch:
            return self._command(jm, safety.hold(), hold=True)
        reason = safety.check_state(state, q, state.stamp if now is None else now)
        if reason is not None:
            safety.stop(reason)
            return self._command(jm, safety.hold(), hold=True)
        safety.resume_if_allowed()
        ctx = ObsContext(
            q,
            qd,
            self.last_action,
            state.base_quat_w,
            state.base_lin_vel_b,
            state.base_ang_vel_b,
            commands or {},
            state.images or {},
            state.base_pos_w,
            state.object_pos_w or {},
            state.obstacles_w,
            state.terrain_height_w,
            state.object_nodes_w or {},
        )
        t1 = t2 = t0
        policy_turn = self.substep % self.commands_per_step == 0  # every step without a low level
        if policy_turn:
            obs = self.observations.compute(ctx)
            t1 = time.perf_counter_ns() if self.timer else 0
            images = self.observations.images
            raw = self.policy.act(obs, images) if images else self.policy.act(obs)
            action = raw.astype(np.float64)  # a copy: the policy reuses its buffer
            t2 = time.perf_counter_ns() if self.timer else 0
            if self.clip is not None:
                action = np.minimum(np.maximum(action, -self.clip), self.clip)
            if not self._usable(action):
                return self._command(jm, safety.hold(), hold=True)
            self.last_action[:] = action
        self.substep += 1
        if self.low_level is None:
            targets = self.actions.compute(self.last_action, q, qd)
        else:
            self.low_level.set_command(self.last_action)
            targets = self.low_level.targets(ctx)
            t2 = time.perf_counter_ns() if self.timer else 0
            if not self._usable(self.low_level.action):
                return self._command(jm, safety.hold(), hold=True)
        command = self._command(jm, safety.filter(targets, q), hold=False)
        if self.timer:
            self.timer.add(t0, t1, t2, time.perf_counter_ns())
        return command

    def _usable(self, action: np.ndarray) -> bool:
        """False (the safety layer stopped) for an action it refuses."""
        reason = self.safety.check_action(action)
        if reason is not None:
            self.safety.stop(reason)
        return reason is None

    def _command(self, jm: JointMap, targets: np.ndarray, hold: bool) -> JointCommand:
        return JointCommand(
            joint_names=jm.robot_joints,
            position=jm.robot_order(targets[0]).copy(),
            velocity=jm.robot_order(targets[1]).copy(),
            effort=jm.robot_order(targets[2]).copy(),
            stiffness=jm.robot_order(self.stiffness),
            damping=jm.robot_order(self.damping),
            hold=hold,
            task_actions=None if hold or not self.actions.task_space else self.actions.task_actions(),
        )
