"""Executor `ray`: each attempt is a job of a Ray cluster, submitted through Ray's Jobs API (the dashboard's
address, `--ray-address http://HEAD:8265`).

The job's entrypoint is the local executor's launcher command, started in the job folder, with the
service's job variables as its runtime env and the job's cores and GPUs as `entrypoint_num_cpus` /
`entrypoint_num_gpus` (Ray picks a node that has them and sets CUDA_VISIBLE_DEVICES). The launcher on the
Ray node writes `job.log` and `exit.json` into the job folder, so the folder must be on storage every Ray
node sees at the same path (one machine, or a shared file system), as must the service's Python
(`sys.executable`) with roboforge. The submission id is `<job id>-attempt-<n>`, recorded before it is
submitted: a restarted service re-attaches by it. A cancel is `stop.json`, which the launcher polls
(the trainer saves a checkpoint); Ray's stop_job (SIGTERM, SIGKILL 3 s later) is the hard stop only.
Only this module and `utils/ray_jobs.py` (the client) import ray (`pip install roboforge[ray]`).
"""

from __future__ import annotations

import contextlib
import shlex
from typing import Any

from ray.job_submission import JobStatus

from roboforge.service.executors.base import Attempt, ExecutorRefused, ExecutorUnavailable, Handle
from roboforge.service.store import Job
from roboforge.utils.ray_jobs import JobsClient, RayUnreachable, call, not_found, unreachable

WAITING_OR_RUNNING = (JobStatus.PENDING, JobStatus.RUNNING)
RAYS_OWN_LOG_LINE = "Running entrypoint for job "  # Ray's job supervisor writes it into the job's log


def submission_id(job_id: str, attempt: int) -> str:
    """The Ray submission id of a job's attempt (known before it is submitted)."""
    return f"{job_id}-attempt-{attempt}"


def entrypoint(attempt: Attempt) -> str:
    """The shell line Ray runs: the launcher command in the job folder (a folder this node does not see
    fails here, and Ray's message says so)."""
    return f"cd {shlex.quote(str(attempt.job_dir))} && exec {shlex.join(attempt.command)}"


def submission(attempt: Attempt) -> dict[str, Any]:
    """The keyword arguments of `JobSubmissionClient.submit_job` for the attempt."""
    return {
        "entrypoint": entrypoint(attempt),
        "submission_id": submission_id(attempt.job_id, attempt.attempt),
        "runtime_env": {"env_vars": dict(attempt.env)},
        "entrypoint_num_cpus": attempt.num_cpus,
        "entrypoint_num_gpus": attempt.num_gpus,
        "metadata": {
            "roboforge_job": attempt.job_id,
            "attempt": str(attempt.attempt),
            "job_dir": str(attempt.job_dir),
        },
    }


def rays_words(message: str | None) -> str:
    """The first line of Ray's message (what happened) and the entrypoint's last words (its last log line).
    Ray writes its own "Running entrypoint for job ..." line into the same log through a buffer it flushes
    after the entrypoint started, so under load that line can come after the entrypoint's output; it is
    never the entrypoint's words."""
    lines = [line.strip().rstrip(":") for line in str(message or "").splitlines() if line.strip()]
    if not lines:
        return "no message"
    said = [line for line in lines[1:] if not line.startswith(RAYS_OWN_LOG_LINE)]
    return "; ".join(dict.fromkeys([lines[0], *said[-1:]]))


class RayExecutor:
    """Attempts as Ray jobs of the cluster whose Jobs API is at `address`."""

    name = "ray"
    record_grace_s = 10.0
    stop_means = "stop request in stop.json"
    kill_means = "Ray stop_job"

    def __init__(self, address: str):
        """Connect (Ray's client checks the cluster's version); ExecutorUnavailable when it does not answer."""
        self.address = address
        try:
            self.client = JobsClient(address)
        except Exception as err:  # refused, timed out, not a Ray dashboard: one line for the user
            raise ExecutorUnavailable(unreachable(address, err)) from err

    def _call(self, what: str, *args: Any, **kwargs: Any) -> Any:
        """`client.<what>(...)`; ExecutorUnavailable when the cluster does not answer (connection refused or
        reset, a time-out, an error of the server)."""
        try:
            return call(self.client, self.address, what, *args, **kwargs)
        except RayUnreachable as err:
            raise ExecutorUnavailable(str(err)) from err

    def _info(self, handle: Handle) -> Any | None:
        """Ray's JobDetails of the attempt, or None when Ray has no such job."""
        try:
            return self._call("get_job_info", handle.submission_id)
        except RuntimeError as err:
            if not_found(err):
                return None
            raise

    def ping(self) -> None:
        self._call("get_version")

    def reserve(self, job_id: str, attempt: int) -> Handle:
        return Handle(submission_id=submission_id(job_id, attempt))

    def start(self, attempt: Attempt) -> Handle:
        """Submit the attempt (one already submitted under its id, by a call whose answer was lost, is it)."""
        handle = self.reserve(attempt.job_id, attempt.attempt)
        try:
            self._call("submit_job", **submission(attempt))
        except RuntimeError as err:
            if "already exists" not in str(err):
                raise ExecutorRefused(f"Ray refused the job: {err}") from err
        return handle

    def adopt(self, job: Job) -> Handle:
        return Handle(submission_id=job.submission_id or submission_id(job.id, job.attempt))

    def alive(self, handle: Handle) -> bool:
        info = self._info(handle)
        return info is not None and info.status in WAITING_OR_RUNNING

    def describe(self, handle: Handle) -> str:
        return f"Ray job {handle.submission_id}"

    def request_stop(self, handle: Handle) -> None:
        """A job still waiting for resources has nothing to checkpoint: Ray drops it; a running one's launcher
        reads stop.json."""
        info = self._info(handle)
        if info is not None and info.status == JobStatus.PENDING:
            self.kill(handle)

    def kill(self, handle: Handle) -> None:
        try:
            self._call("stop_job", handle.submission_id)
        except RuntimeError as err:
            if not not_found(err):
                raise

    def clean_up(self, handle: Handle) -> None:
        # a job Ray still runs ends with its supervisor; nothing else can be done from here
        with contextlib.suppress(ExecutorUnavailable, RuntimeError):
            self.kill(handle)

    def end_reason(self, handle: Handle) -> str | None:
        """Ray's status and message (its first and last lines: the entrypoint's last words), and where to
        look when the launcher could not write into the job folder."""
        info = self._info(handle)
        if info is None:
            return f"Ray has no job {handle.submission_id} (never submitted, or the Ray cluster restarted)"
        return (
            f"Ray job {handle.submission_id} {info.status}: {rays_words(info.message)} (the job folder must be "
            "on storage every Ray node sees at the same path)"
        )
