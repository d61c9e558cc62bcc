"""What a job runs: its `roboforge train` and `roboforge export` command lines and environment (its progress
is in progress.py, the time estimate in estimate.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from roboforge.envs.registry import import_args
from roboforge.service.config import TOKEN_ENV, ServiceCfg
from roboforge.service.estimate import estimate_hours
from roboforge.service.store import DEFAULT_LIBRARY, Job

__all__ = [
    "attempt_vars",
    "cpu_share",
    "estimate_hours",
    "export_command",
    "job_env",
    "job_vars",
    "launcher_command",
    "library_options",
    "train_command",
]

JOB_ENV = {
    "PYTHONUNBUFFERED": "1",
    "COLUMNS": "160",
    "NO_COLOR": "1",
    "_TYPER_STANDARD_TRACEBACK": "1",
    "ROBOFORGE_DEBUG": "1",
}
"""Set for every job: unbuffered plain output, wide lines, plain tracebacks of a crash at the end of the log
(the command line's `--debug`: a job's log is read by whoever debugs it)."""


def job_vars(extra: dict[str, str]) -> dict[str, str]:
    """The variables the service sets for every job: JOB_ENV, then `extra` (`ServiceCfg.job_env`); a Ray job
    gets these alone (its node has its own environment)."""
    return {**JOB_ENV, **extra}


def attempt_vars(cfg: ServiceCfg) -> dict[str, str]:
    """`job_vars` of the service's `job_env`; on the local executor also each job's part of this machine's
    memory (1/max_concurrent, utils/host_memory.py), which `job_env` may override. A Ray node has its own."""
    from roboforge.utils.host_memory import shared_by

    memory = shared_by(cfg.max_concurrent) if cfg.executor == "local" else {}
    return {**memory, **job_vars(cfg.job_env)}


def job_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a job process on this machine: the service's (less its API token), then
    `job_vars(extra)`."""
    return {**{k: v for k, v in os.environ.items() if k != TOKEN_ENV}, **job_vars(extra)}


def cpu_share(max_concurrent: int) -> int:
    """The CPU cores each of `max_concurrent` jobs gets (at least one)."""
    return max(1, (os.cpu_count() or 1) // max_concurrent)


def train_command(
    job: Job, resume_from: Path | None, cores: int = 1, task_modules: tuple[str, ...] = ()
) -> list[str]:
    """`python -m roboforge train ...` for the job (a resume continues `resume_from`), under torchrun with one
    rank per GPU when it has several (`data_parallel`); the job's torch and C MuJoCo threads stay within its
    share of the cores (`cores`, unless its overrides say); `--import` of each of the service's task modules."""
    cmd = ["train", job.task, *library_options(job), "--max-iterations", str(job.num_iterations),
           "--num-envs", str(job.num_envs), "--quiet", *import_args(task_modules)]  # fmt: skip
    cmd += ["--resume", "--run-dir", str(resume_from)] if resume_from else ["--run-dir", job.job_dir]
    if job.device:
        cmd += ["--device", job.device]
    if job.seed is not None:
        cmd += ["--seed", str(job.seed)]
    if job.video_interval:
        cmd += ["--video-interval", str(job.video_interval)]
    cmd += ["--threads", "1"]  # torch's CPU threads: one is fastest, more spin against MuJoCo's
    if "env.sim.num_threads" not in (job.overrides or {}):
        cmd += ["-o", f"env.sim.num_threads={cores}"]
    for key, value in (job.overrides or {}).items():
        cmd += ["-o", f"{key}={json.dumps(value)}"]
    if (job.num_gpus or 0) > 1:
        return data_parallel(job.num_gpus, cmd)
    return [sys.executable, "-m", "roboforge", *cmd]


def data_parallel(num_gpus: int, args: list[str]) -> list[str]:
    """`roboforge <args>` under torchrun, one rank per GPU (`train --distributed`), which is what
    `train --gpus` starts, minus two things a job must not have: `--gpus` renumbers CUDA_VISIBLE_DEVICES from
    0 (a Ray job would leave the GPUs Ray gave it), and its parent process stands between the launcher's
    SIGTERM and torchrun, which passes SIGTERM to every rank (each saves its checkpoint)."""
    from roboforge.rl.distributed import torchrun_command

    return torchrun_command(num_gpus, args)


def library_options(job: Job) -> list[str]:
    """`--library L --algorithm A` of the job (a job recorded before jobs named one: rsl_rl PPO). A resume
    passes them too: `roboforge train --resume` checks they are the run's own."""
    library, policy_type = job.library or DEFAULT_LIBRARY, job.policy_type or "PPO"
    return ["--library", library, "--algorithm", policy_type.lower()]


def export_command(job: Job, run_dir: Path) -> list[str]:
    """`python -m roboforge export TASK --checkpoint RUN --check` (export applies the run's own library and
    overrides from its `params/args.json`)."""
    return [sys.executable, "-m", "roboforge", "export", job.task, "--checkpoint", str(run_dir), "--check"]


def launcher_command(job_dir: Path, attempt: int, cmd: list[str], kind: str = "train") -> list[str]:
    """`cmd` run under the launcher, which logs it and records its exit (see launcher.py)."""
    return [sys.executable, "-m", "roboforge.service.launcher", "--job-dir", str(job_dir),
            "--attempt", str(attempt), "--kind", kind, "--", *cmd]  # fmt: skip
