"""Helpers of the job-service tests: a live `roboforge serve` process, waiting, cleaning up job processes."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

with warnings.catch_warnings():  # starlette asks for its httpx fork "httpx2"; plain httpx works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["TestClient"]
T = TypeVar("T")
# Jobs are real `roboforge train` processes: one thread each keeps the 2 CI cores usable. Their launchers
# stop them (SIGTERM, checkpoint) when this pytest process ends, even when it is killed: no test leaves a
# trainer behind, also not one whose service it killed on purpose (jobs outlive their service).
JOB_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ROBOFORGE_JOB_STOP_WITH": str(os.getpid())}
HAS_RAY = importlib.util.find_spec("ray") is not None
# CI installs the ray extra, so there a missing ray fails the Ray tests instead of skipping them
requires_ray = pytest.mark.skipif(
    not HAS_RAY and not os.environ.get("CI"), reason='ray is not installed (pip install -e ".[ray]")'
)
TINY = {"task": "cartpole", "policy_type": "PPO", "num_envs": 32, "device": "cpu"}


FAULT_BEFORE_CHECKPOINT = """
import os, sys
if sys.argv[:2] == ["-m", "train"] and os.environ.get("RF_TEST_FAULT"):  # the trainer only
    import signal
    from pathlib import Path
    import roboforge.rl.checkpoints as checkpoints
    save = checkpoints.save_checkpoint
    def save_or_fail(run_dir, alg, iteration, *args, **kwargs):
        mark = Path(os.environ["RF_TEST_FAULT_MARK"])
        if iteration == int(os.environ["RF_TEST_FAULT_AT"]) and not mark.exists():
            mark.touch()
            if os.environ["RF_TEST_FAULT"] == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            iteration //= 0  # a real crash: ZeroDivisionError
        return save(run_dir, alg, iteration, *args, **kwargs)
    checkpoints.save_checkpoint = save_or_fail
"""


def fault_before_checkpoint(tmp_path: Path, iteration: int, fault: str = "kill") -> dict[str, str]:
    """Job environment whose trainer fails once, just before writing `model_<iteration>.pt`: SIGKILL
    (`kill`) or a ZeroDivisionError (`crash`). A `sitecustomize` on PYTHONPATH wraps the checkpoint
    writer; with the final checkpoint's iteration the metrics line of the last iteration is written."""
    inject = tmp_path / "inject"
    inject.mkdir(exist_ok=True)
    (inject / "sitecustomize.py").write_text(FAULT_BEFORE_CHECKPOINT)
    path = os.pathsep.join(p for p in (str(inject), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "RF_TEST_FAULT": fault, "RF_TEST_FAULT_AT": str(iteration),
            "RF_TEST_FAULT_MARK": str(inject / "failed")}  # fmt: skip


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """Child pids of `pid` (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def processes(data_dir: Path) -> dict[int, list[bytes]]:
    """{pid: command line} of the roboforge processes that name `data_dir` or a path inside it (Linux):
    launchers (--job-dir), trainers and exports (--run-dir, --checkpoint), services (--data-dir)."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError):
            args = cmdline.read_bytes().split(b"\0")
            pid = int(cmdline.parent.name)
            mine = any(b"roboforge" in a for a in args[1:3]) and any(
                str(data_dir).encode() in a for a in args
            )
            if mine and pid != os.getpid():
                found[pid] = args
    return found


def trainers(data_dir: Path) -> list[int]:
    """Pids of the `roboforge train` processes of jobs in `data_dir`."""
    return [pid for pid, args in processes(data_dir).items() if args[1:4] == [b"-m", b"roboforge", b"train"]]


def kill_job_processes(data_dir: Path) -> None:
    """SIGKILL every process of the jobs and exports in `data_dir` and their process groups (test cleanup;
    found by command line, so also those a deleted or damaged database no longer names)."""
    for pid in processes(data_dir):
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid and pid != os.getpgid(0):
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)


class LiveServer:
    """`python -m roboforge serve` on a free loopback port, with its output in `<data_dir>/serve.log`."""

    def __init__(
        self, data_dir: Path, max_concurrent: int = 2, token: str | None = None, options: tuple[str, ...] = ()
    ):
        self.data_dir = data_dir
        self.max_concurrent = max_concurrent
        self.token = token
        self.options = options
        """Further `roboforge serve` options (`--executor ray ...`)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> LiveServer:
        env = {**os.environ, **JOB_ENV}
        env.pop("ROBOFORGE_API_TOKEN", None)
        if self.token:
            env["ROBOFORGE_API_TOKEN"] = self.token
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "serve.log").open("ab")
        cmd = [sys.executable, "-m", "roboforge", "serve", "--port", str(self.port), "--data-dir",
               str(self.data_dir), "--max-concurrent", str(self.max_concurrent), "--log-level", "warning", *self.options]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.output()
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, "the service to answer /health", interval=0.2)
        return self

    def output(self) -> str:
        path = self.data_dir / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @contextlib.contextmanager
    def running(self) -> Iterator[LiveServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def submit_job(client: Any, **changes: Any) -> str:
    """POST a TINY job with `changes`; asserts the 202 and returns the job id."""
    response = client.post("/reinforcement-learning", json={**TINY, **changes})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def job_state(client: Any, job_id: str) -> dict[str, Any]:
    response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_status(client: Any, job_id: str, statuses: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
    """Wait until the job is in one of `statuses`; returns its view."""

    def done():
        job = job_state(client, job_id)
        return job if job["status"] in statuses else None

    return wait_for(done, timeout, f"job {job_id} to become {'/'.join(statuses)}", interval=0.2)


def wait_iteration(client: Any, job_id: str, iteration: int, timeout: float = 60) -> dict[str, Any]:
    """Wait until the running job has completed `iteration` iterations."""

    def done():
        job = job_state(client, job_id)
        assert job["status"] in ("queued", "running"), job
        return job if job["iteration"] >= iteration else None

    return wait_for(done, timeout, f"job {job_id} to reach iteration {iteration}", interval=0.2)
