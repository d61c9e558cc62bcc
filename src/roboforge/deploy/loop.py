"""The control loop: read state -> policy step -> write command, at the control rate or as fast as possible."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from roboforge.deploy.robot import Robot
from roboforge.deploy.runner import PolicyRunner


@dataclass
class LoopResult:
    """What a control loop did."""

    steps: int
    hold_steps: int
    overruns: int
    mean_step_us: float
    stop_reason: str | None


def run_control_loop(
    runner: PolicyRunner,
    robot: Robot,
    steps: int,
    period_s: float | None = None,
    commands: dict[str, np.ndarray] | None = None,
) -> LoopResult:
    """Run `steps` control steps; with `period_s`, start one every period (an overrun is a late step)."""
    hold = overruns = 0
    busy = 0.0
    next_tick = time.monotonic()
    for _ in range(steps):
        t0 = time.perf_counter()
        command = runner.step(robot.read_state(), robot.now(), commands)
        robot.write_command(command)
        busy += time.perf_counter() - t0
        hold += int(command.hold)
        if period_s is not None:
            next_tick += period_s
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                overruns += 1
                next_tick = time.monotonic()
    return LoopResult(steps, hold, overruns, busy / max(steps, 1) * 1e6, runner.safety.stopped)
