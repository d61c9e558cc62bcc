"""Helpers of the job-service tests: a live `roboforge serve` process, waiting, cleaning up job processes."""

from __future__ import annotations

import contextlib
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

with warnings.catch_warnings():  # starlette asks for its httpx fork "httpx2"; plain httpx works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["TestClient"]
T = TypeVar("T")
# Jobs are real `roboforge train` processes: one thread each keeps the 2 CI cores usable.
JOB_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TINY = {"task": "cartpole", "policy_type": "PPO", "num_envs": 32, "device": "cpu"}


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


def kill_job_processes(data_dir: Path) -> None:
    """SIGKILL the process group of every job that still has a process (test cleanup)."""
    from roboforge.service.store import Store

    db = data_dir / "jobs.db"
    if not db.exists():
        return
    store = Store(f"sqlite:///{db}")
    try:
        for job in store.list(limit=10_000):
            if job.pid:
                with contextlib.suppress(OSError):
                    os.killpg(job.pid, signal.SIGKILL)
    finally:
        store.close()


class LiveServer:
    """`python -m roboforge serve` on a free loopback port, with its output in `<data_dir>/serve.log`."""

    def __init__(self, data_dir: Path, max_concurrent: int = 2, token: str | None = None):
        self.data_dir = data_dir
        self.max_concurrent = max_concurrent
        self.token = token
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
               str(self.data_dir), "--max-concurrent", str(self.max_concurrent), "--log-level", "warning"]  # fmt: skip
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
