"""Hyperparameter sweeps as service jobs (POST /sweeps): checking a request, the command, the progress.

Design: a sweep is a job of kind `sweep` (a `kind` column of the jobs table, its search in the `sweep`
column) whose one attempt is the launcher running `roboforge sweep ...` in the job's folder. The command line
already does a sweep (Optuna study in `study.db`, trials as `roboforge train` processes or Ray jobs,
`parallel` at a time, median pruning, `sweep.json` rewritten after each trial), so the service adds no second implementation: the
runner starts, watches, cancels (stop.json + SIGTERM: the running trials checkpoint and stop), re-attaches
and interrupts a sweep exactly as a training job, its log is `job.log`, and it takes one slot of
`--max-concurrent`. The runner copies the newest `sweep.json` into the job's `sweep.result` while it runs
(`read_result`), so GET /sweeps answers from the database and job.json keeps it over a lost database.

The request is the training request (`JobRequest`: the same checks, `validate_job`) plus the search:
`params` are parsed by `rl/sweep.py`'s `parse_param` (the command line's rules and messages) and every
value a distribution can take at its ends (or each choice) is checked as an override of the job, and the
metric by `check_metric` (an env metric builds the task once with one world on the CPU, as the command
line does). A sweep cannot be resumed or exported (its trials' runs are in its artifacts).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from fastapi.exceptions import RequestValidationError

from roboforge.envs.registry import import_args
from roboforge.rl import sweep as sweeps
from roboforge.service import files
from roboforge.service.jobspec import library_options
from roboforge.service.schemas import JobRequest, SweepParam, SweepRequest
from roboforge.service.store import Job
from roboforge.service.validation import ResolvedJob, invalid, validate_job
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import split_scopes

SWEEP_NAME = "sweep.json"
_BUILD_LOCK = threading.Lock()
"""One task build at a time for metric checks (the web process's CPU is shared)."""


def param_text(param: str | SweepParam) -> str:
    """A swept field as the command line's `PATH=DISTRIBUTION` text."""
    if isinstance(param, str):
        return param
    if param.distribution == "choice":
        return f"{param.path}=choice:{','.join(json.dumps(v) for v in param.choices or [])}"
    return f"{param.path}={param.distribution}:{param.low}:{param.high}"


def validate_sweep(req: SweepRequest) -> tuple[ResolvedJob, list[str]]:
    """The resolved training fields and the params as text; RequestValidationError (422) naming the field."""
    resolved = validate_job(req)
    if req.video_interval is not None:
        raise invalid(
            ("body", "video_interval"), "a sweep's trials record no clips; leave it out.", req.video_interval
        )
    if req.num_gpus is not None and req.num_gpus > 1:
        raise invalid(
            ("body", "num_gpus"),
            "a sweep's trials train on one device; ask for num_gpus 0 or 1.",
            req.num_gpus,
        )
    texts, specs = [], []
    for i, param in enumerate(req.params):
        text = param_text(param)
        try:
            spec = sweeps.parse_param(text)
        except UserInputError as err:
            raise invalid(("body", "params", i), str(err).replace("--param ", "", 1), text) from err
        if any(s.path == spec.path for s in specs):
            raise invalid(("body", "params", i), f"{spec.path} is swept twice; sweep each field once.", text)
        _check_values(req, spec, i)
        texts.append(text)
        specs.append(spec)
    if req.metric not in sweeps.TRAINER_METRICS and not req.metric.startswith(sweeps.LIBRARY_PREFIXES):
        _check_env_metric(req, specs)
    return resolved, texts


def _check_values(req: SweepRequest, spec: sweeps.ParamSpec, index: int) -> None:
    """Each end (or choice) of the distribution as an override of the job: POST /reinforcement-learning's
    checks (path, type, the service's bounds)."""
    base = req.model_dump(include=set(JobRequest.model_fields))
    for value in spec.values_to_check():
        job = JobRequest.model_validate({**base, "overrides": {**req.overrides, spec.path: value}})
        try:
            validate_job(job)
        except RequestValidationError as err:
            reason = "; ".join(str(e.get("msg", "")) for e in err.errors())
            raise invalid(("body", "params", index), f"{spec.path}={value!r}: {reason}", spec.path) from err


def _check_env_metric(req: SweepRequest, specs: list[sweeps.ParamSpec]) -> None:
    """422 on `metric` unless the task's env logs it (built once with one world on the CPU)."""
    from roboforge.rl.session import build_session

    env_o, agent_o = split_scopes(req.overrides)
    for spec in specs:
        scope, _, path = spec.path.partition(".")
        (env_o if scope == "env" else agent_o)[path] = spec.first_value()
    try:
        with _BUILD_LOCK:
            session = build_session(req.task, 1, "cpu", "auto", None, False, env_o, agent_o,
                                    req.library, req.policy_type.lower())  # fmt: skip
            try:
                names = session.env.episode_stat_names()
            finally:
                session.env.close()
        sweeps.check_metric(req.metric, names)
    except UserInputError as err:
        raise invalid(("body", "metric"), str(err).replace("--metric ", "", 1), req.metric) from err


def sweep_command(
    job: Job, cores: int = 1, task_modules: tuple[str, ...] = (), ray_address: str | None = None
) -> list[str]:
    """`python -m roboforge sweep ...` of the sweep job: the sweep goes to `job_dir/sweeps/<task>/<time>/`,
    each trial `roboforge train` with the job's training fields, its share of the cores and the service's
    task modules (`--import`); `parallel` trials at a time, as jobs of the Ray cluster at `ray_address`
    when the service runs on one."""
    search = job.sweep or {}
    cmd = ["sweep", job.task, *library_options(job), *import_args(task_modules), "--max-iterations",
           str(job.num_iterations), "--num-envs", str(job.num_envs), "--trials", str(search["trials"]),
           "--metric", search["metric"], "--direction", search["direction"], "--run-dir", job.job_dir]  # fmt: skip
    for text in search["params"]:
        cmd += ["--param", text]
    if search.get("parallel", 1) > 1:  # sweeps recorded before `parallel` existed ran one at a time
        cmd += ["--parallel", str(search["parallel"])]
    if ray_address is not None:
        cmd += ["--ray-address", ray_address]
    if job.device:
        cmd += ["--device", job.device]
    if job.seed is not None:
        cmd += ["--seed", str(job.seed)]
    if "env.sim.num_threads" not in (job.overrides or {}):
        cmd += ["-o", f"env.sim.num_threads={cores}"]
    for key, value in (job.overrides or {}).items():
        cmd += ["-o", f"{key}={json.dumps(value)}"]
    return [sys.executable, "-m", "roboforge", *cmd]


def sweep_file(job: Job) -> Path | None:
    """The newest `sweep.json` of the job's folder, or None."""
    found = sorted((Path(job.job_dir) / "sweeps").glob(f"{job.task}/*/{SWEEP_NAME}"))
    return found[-1] if found else None


def read_result(job: Job) -> dict[str, Any] | None:
    """The sweep's `sweep.json` (trials, best), or None before the first is written."""
    path = sweep_file(job)
    return files.read_json(path) if path is not None else None
