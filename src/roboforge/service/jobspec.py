"""What a job runs: its `roboforge train` command line and environment, its progress, its time estimate."""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from roboforge.service import files
from roboforge.service.store import Job, Store

JOB_ENV = {"PYTHONUNBUFFERED": "1", "COLUMNS": "160", "NO_COLOR": "1", "_TYPER_STANDARD_TRACEBACK": "1"}
"""Set for every job: unbuffered plain output, wide lines, plain tracebacks at the end of the log."""


def job_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a job process: the service's, JOB_ENV, then `extra`."""
    return {**os.environ, **JOB_ENV, **extra}


def train_command(job: Job, resume_from: Path | None) -> list[str]:
    """`python -m roboforge train ...` for the job (a resume continues `resume_from`)."""
    cmd = [sys.executable, "-m", "roboforge", "train", job.task, "--max-iterations", str(job.num_iterations),
           "--num-envs", str(job.num_envs), "--quiet"]  # fmt: skip
    cmd += ["--resume", "--run-dir", str(resume_from)] if resume_from else ["--run-dir", job.job_dir]
    if job.device:
        cmd += ["--device", job.device]
    if job.seed is not None:
        cmd += ["--seed", str(job.seed)]
    for key, value in (job.overrides or {}).items():
        cmd += ["-o", f"{key}={json.dumps(value)}"]
    return cmd


def launcher_command(job_dir: Path, attempt: int, cmd: list[str]) -> list[str]:
    """`cmd` run under the launcher, which logs it and records its exit (see launcher.py)."""
    return [sys.executable, "-m", "roboforge.service.launcher", "--job-dir", str(job_dir),
            "--attempt", str(attempt), "--", *cmd]  # fmt: skip


def estimate_hours(store: Store, task: str, num_envs: int, num_iterations: int) -> float | None:
    """Training time from the measured speed of recent jobs of `task` (same world count if there is one,
    else scaled linearly by world count, which overestimates on GPUs); None before any job ran."""
    rates = store.recent_rates(task)
    if not rates:
        return None
    same = [s for s, n in rates if n == num_envs]
    per_iteration = statistics.median(same or [s * num_envs / max(n, 1) for s, n in rates])
    return round(per_iteration * num_iterations / 3600.0, 4)


class RunProgress:
    """Incremental reader of one run's metrics, with the mean seconds per iteration."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.tail = files.MetricsTail(run_dir / "metrics.jsonl")
        self.seconds = 0.0
        self.count = 0

    def read(self) -> list[dict[str, Any]]:
        records = self.tail.read_new()
        for r in records:
            t = r.get("Perf/collection_time", 0.0) + r.get("Perf/learning_time", 0.0)
            if t > 0:
                self.seconds, self.count = self.seconds + t, self.count + 1
        return records

    @property
    def s_per_iteration(self) -> float | None:
        return self.seconds / self.count if self.count else None
