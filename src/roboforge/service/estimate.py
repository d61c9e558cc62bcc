"""How long a job will train: measured speed of earlier jobs here, else a table of measured throughputs.

Before any job of a task has run on this service, the estimate comes from `THROUGHPUT`: PPO training
env-steps/s per task family and device at one or two world counts, measured with `roboforge bench TASK
--device cpu --num-envs N --train-iterations 5` (OMP_NUM_THREADS=1, on the project's 2-core CPU while
other work ran, so on the slow side) and, for CUDA, the H200 figures of ARCHITECTURE.md. Seconds per
iteration are interpolated linearly in the world count between the measured points; below the smallest
they stay at its value (fixed costs dominate), above the largest they grow at its rate. Tasks without
figures get the conservative `GENERIC` ones. Once jobs of the task ran, their measured seconds per
iteration win (see `estimate_hours`). The table holds rsl_rl PPO figures; a job of another library or of SAC
uses them with its own config's steps per iteration until a job like it has run here (SAC's gradient steps
per env step make it slower than the table says).
"""

from __future__ import annotations

import functools
import itertools
import statistics

from roboforge.service.store import Job, Store

Points = tuple[tuple[int, float], ...]
"""((num_envs, PPO env-steps/s), ...) ascending in num_envs."""

THROUGHPUT: dict[tuple[str, str], Points] = {
    # 2-core CPU, 2026-12-01 (bench, 5 iterations): cartpole 1.35K @ 32 worlds, 32.7K @ 1024 (README: ~80K
    # unloaded); reach-ur5e 2.7K @ 64, 10.4K @ 1024; velocity-flat-go1 0.78K @ 64, 1.44K @ 512.
    ("cartpole", "cpu"): ((32, 1_300.0), (1024, 32_000.0)),
    ("reach", "cpu"): ((64, 2_700.0), (1024, 10_000.0)),
    ("velocity", "cpu"): ((64, 750.0), (512, 1_400.0)),
    # One H200, 4096 worlds (ARCHITECTURE.md, 2026-11-21): cart-pole 655K, Go1 flat 206K, G1 flat 242K.
    ("cartpole", "cuda"): ((4096, 655_000.0),),
    ("velocity", "cuda"): ((4096, 200_000.0),),
}
GENERIC: dict[str, Points] = {
    "cpu": ((64, 500.0), (1024, 1_000.0)),  # slower than every task measured on the CPU
    "cuda": ((4096, 100_000.0),),
}
STARTUP_S = 10.0
"""Seconds a job takes before its first iteration (imports, building the worlds)."""


def family(task: str) -> str:
    """'reach' for 'reach-ur5e-ik-rel', 'cartpole' for 'cartpole-lstm': the first word of the id."""
    return task.split("-", 1)[0]


def device_kind(device: str | None) -> str:
    """'cpu' or 'cuda' ('cuda:1' -> 'cuda'); None is what a job gets by default: CUDA if present."""
    if device is None:
        return "cuda" if _cuda_available() else "cpu"
    return "cuda" if device.startswith("cuda") else "cpu"


@functools.lru_cache(maxsize=1)
def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def table_s_per_iteration(task: str, device: str | None, num_envs: int, steps_per_env: int) -> float:
    """Seconds per PPO iteration from the throughput table (or the generic figures)."""
    kind = device_kind(device)
    points = THROUGHPUT.get((task, kind)) or THROUGHPUT.get((family(task), kind)) or GENERIC[kind]
    times = [(n, n * steps_per_env / rate) for n, rate in points]
    if num_envs <= times[0][0]:
        return times[0][1]
    for (n0, t0), (n1, t1) in itertools.pairwise(times):
        if num_envs <= n1:
            return t0 + (t1 - t0) * (num_envs - n0) / (n1 - n0)
    n_last, rate_last = points[-1]
    return times[-1][1] + (num_envs - n_last) * steps_per_env / rate_last


def estimate_hours(store: Store, job: Job, steps_per_iteration: int) -> float:
    """Training time of `job` in hours: from the measured speed of recent jobs of its task, library and policy
    type on the same device (same world count if there is one, else scaled linearly by world count, which
    overestimates on GPUs), and before any such job from the throughput table with the job's agent config's
    env steps per world in one iteration (`steps_per_iteration`)."""
    rates = store.recent_rates(job.task, job.device, job.library, job.policy_type)
    if rates:
        same = [s for s, n in rates if n == job.num_envs]
        per_iteration = statistics.median(same or [s * job.num_envs / max(n, 1) for s, n in rates])
    else:
        per_iteration = table_s_per_iteration(job.task, job.device, job.num_envs, steps_per_iteration)
    return round((STARTUP_S + per_iteration * job.num_iterations) / 3600.0, 4)
