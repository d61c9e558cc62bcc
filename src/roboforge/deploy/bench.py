"""`roboforge deploy --bench`: latency of one control step (observation, inference, safety) on one core.

The policy drives the simulated robot so observations are realistic; only `PolicyRunner.step` is
timed. The process is pinned to one CPU and ONNX Runtime uses one thread; Python's garbage collector
is paused during the timed loop, as a real-time control loop would do. With a low-level policy a step is one
joint command (the low level on each, the exported policy on every `commands_per_step`-th).
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from roboforge.deploy.episodes import EpisodeRules
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.runner import PolicyRunner, StepTimer
from roboforge.deploy.sim_commands import command_sims
from roboforge.utils.errors import UserInputError


@dataclass
class LatencyResult:
    """Per-phase latency percentiles in microseconds."""

    steps: int
    policy_kind: str
    cpu: int | None
    phases: dict[str, dict[str, float]] = field(default_factory=dict)


@contextlib.contextmanager
def one_core() -> Iterator[int | None]:
    """Pin this process to one CPU (restored afterwards) and pause the garbage collector."""
    cpu = None
    previous = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if previous:
        cpu = max(previous)
        os.sched_setaffinity(0, {cpu})
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield cpu
    finally:
        if was_enabled:
            gc.enable()
        if previous:
            os.sched_setaffinity(0, previous)


def bench_latency(
    runner: PolicyRunner,
    robot: MujocoSimRobot,
    steps: int = 5000,
    warmup: int = 200,
    seed: int = 0,
    commands: dict[str, np.ndarray] | None = None,
) -> LatencyResult:
    """Time `steps` control steps after `warmup` untimed ones; episodes restart when they end, commands
    are sampled as in training unless given."""
    if steps < 1:
        raise UserInputError(f"--steps must be >= 1, got {steps}.")
    given = commands or {}
    sims = command_sims(runner.meta, robot, given)
    rules = EpisodeRules(runner.meta, sims)
    rng = np.random.default_rng(seed)
    dt, max_len = runner.meta.control.step_dt, runner.meta.control.max_episode_length
    with one_core() as cpu:
        runner.timer = None
        length = max_len
        for k in range(warmup + steps):
            if k == warmup:
                runner.timer = StepTimer()
            if length >= max_len:
                rules.reset(robot, rng)
                runner.reset()
                for sim in sims.values():
                    sim.reset(rng)
                length = 0
            cmds = given | {name: sim.command for name, sim in sims.items()}
            robot.write_command(runner.step(robot.read_state(), robot.now(), cmds))
            if runner.substep % runner.commands_per_step:
                continue  # a low-level policy's command within one step of the exported policy
            length += 1
            if any(rules.dones(robot, length).values()):
                length = max_len
            for sim in sims.values():
                sim.step(rng, length, dt, max_len)
        timer, runner.timer = runner.timer, None
    assert timer is not None
    phases = {}
    for name, values in timer.phases.items():
        us = np.asarray(values, dtype=np.float64) / 1e3
        phases[name] = {
            "p50_us": float(np.percentile(us, 50)),
            "p99_us": float(np.percentile(us, 99)),
            "mean_us": float(us.mean()),
            "max_us": float(us.max()),
        }
    return LatencyResult(
        steps=len(timer.phases["total"]), policy_kind=runner.meta.policy.kind, cpu=cpu, phases=phases
    )
