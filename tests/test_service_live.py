"""`roboforge serve` as a real process on loopback: SIGKILL and restart with jobs running, raw path
traversal, and a bounded load test (50 clients x 20 requests)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import sqlite3
import statistics
import time
from pathlib import Path

import httpx
import pytest

from roboforge.rl.checkpoints import read_torch_checkpoint
from roboforge.service import process
from roboforge.service.store import Store
from service_util import TINY, LiveServer, wait_iteration, wait_status

pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]  # live service processes
LONG = {**TINY, "num_iterations": 5000, "num_envs": 16, "overrides": {"agent.save_interval": 1}}


def job_pid(data_dir: Path, job_id: str) -> tuple[int, str | None]:
    store = Store(f"sqlite:///{data_dir / 'jobs.db'}")
    try:
        job = store.get(job_id)
        assert job is not None and job.pid
        return job.pid, job.pid_token
    finally:
        store.close()


def test_sigkilled_service_restarts_reattaches_or_interrupts_and_loses_nothing(data_dir):
    first = LiveServer(data_dir, max_concurrent=2).start()
    with first.client() as api:
        survivor = api.post("/reinforcement-learning", json=LONG).json()["job_id"]
        victim = api.post("/reinforcement-learning", json=LONG).json()["job_id"]
        wait_iteration(api, survivor, 2)
        wait_iteration(api, victim, 2)
    first.stop(signal.SIGKILL)
    assert first.proc is not None and first.proc.returncode == -signal.SIGKILL
    survivor_pid = job_pid(data_dir, survivor)
    assert process.alive(*survivor_pid)  # jobs run in sessions of their own: the kill spared them
    victim_pid, _ = job_pid(data_dir, victim)
    os.killpg(victim_pid, signal.SIGKILL)  # this one dies too, as on a reboot
    time.sleep(0.3)

    second = LiveServer(data_dir, max_concurrent=2).start()
    try:
        with second.client() as api:
            before = api.get(f"/jobs/{survivor}").json()
            assert before["status"] == "running"
            wait_iteration(api, survivor, before["iteration"] + 2)  # still watched after re-attaching
            assert "re-attached to job process" in api.get(f"/logs/{survivor}.log").text

            lost = api.get(f"/jobs/{victim}").json()
            assert lost["status"] == "interrupted" and lost["iteration"] >= 2
            assert "resume" in lost["events"][-1]["message"]
            target = lost["iteration"] + 2
            assert api.post(f"/jobs/{victim}/resume", json={"num_iterations": target}).status_code == 202
            done = wait_status(api, victim, ("succeeded",), timeout=60)
            assert done["iteration"] == target and done["attempt"] == 2
            assert api.get(f"/jobs/{victim}/metrics").json()["iterations"] == list(range(target))

            assert api.post(f"/jobs/{survivor}/cancel").status_code == 202  # not our child: signalled by pid
            stopped = wait_status(api, survivor, ("cancelled",), timeout=30)
            assert stopped["returncode"] == 130
            for job_id in (survivor, victim):
                events = [e["status"] for e in api.get(f"/jobs/{job_id}").json()["events"]]
                assert events[:2] == ["queued", "running"]
    finally:
        second.stop()
    assert "Traceback" not in second.output()

    # nothing lost or corrupted: database, metrics lines, checkpoints
    with sqlite3.connect(data_dir / "jobs.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2
    for job_id in (survivor, victim):
        (run,) = (data_dir / "jobs" / job_id / "cartpole").iterdir()
        lines = (run / "metrics.jsonl").read_text().splitlines()
        assert all(isinstance(json.loads(line)["iteration"], int) for line in lines)
        checkpoints = sorted(run.glob("model_*.pt"))
        assert checkpoints and all(read_torch_checkpoint(p)["iter"] >= 0 for p in checkpoints)
        assert not list(run.glob(".*.tmp"))  # no half-written checkpoint left behind


async def _client_loop(client: httpx.AsyncClient, paths: list[str], n: int, latencies: list[float],
                       errors: list[str]) -> None:  # fmt: skip
    for i in range(n):
        path = paths[i % len(paths)]
        t0 = time.perf_counter()
        try:
            response = await client.get(path)
            if response.status_code != 200:
                errors.append(f"{path}: {response.status_code}")
        except httpx.HTTPError as err:
            errors.append(f"{path}: {err!r}")
        latencies.append(time.perf_counter() - t0)


def test_load_50_clients_and_raw_path_traversal(data_dir):
    server = LiveServer(data_dir, max_concurrent=1).start()
    try:
        with server.client() as api:
            job_id = api.post("/reinforcement-learning", json={**TINY, "num_iterations": 2}).json()["job_id"]
            wait_status(api, job_id, ("succeeded",), timeout=60)
            queued = api.post("/reinforcement-learning", json=LONG).json()["job_id"]
            api.post(f"/jobs/{queued}/cancel")

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for raw in ("/logs/../../jobs.db", "/logs/..%2F..%2Fjobs.db", f"/jobs/{job_id}/artifacts/../../jobs.db",
                    f"/jobs/{job_id}/artifacts/..%2F..%2Fjobs.db", f"/logs/{job_id}/../../../jobs.db.log",
                    "/jobs/../jobs.db/artifacts", f"/jobs/{job_id}/artifacts//etc/passwd"):  # fmt: skip
            conn.request("GET", raw)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 404, raw
            assert b"SQLite format" not in body and b"root:" not in body
        conn.close()

        paths = ["/jobs", f"/jobs/{job_id}", "/jobs?status=succeeded", f"/jobs/{queued}", "/health"]
        latencies: list[float] = []
        errors: list[str] = []

        async def main() -> float:
            # Clients are made first: building 50 httpx clients costs CPU that is not the server's latency.
            clients = [httpx.AsyncClient(base_url=server.url, timeout=30) for _ in range(50)]
            t0 = time.perf_counter()
            try:
                loops = [_client_loop(c, paths, 20, latencies, errors) for c in clients]
                await asyncio.wait_for(asyncio.gather(*loops), timeout=90)
            finally:
                for c in clients:
                    await c.aclose()
            return time.perf_counter() - t0

        wall = asyncio.run(main())
    finally:
        server.stop()
    assert errors == []
    assert len(latencies) == 1000
    cuts = statistics.quantiles(latencies, n=100)
    report = {"requests": 1000, "clients": 50, "errors": 0, "wall_s": round(wall, 2),
              "p50_ms": round(cuts[49] * 1000, 1), "p99_ms": round(cuts[98] * 1000, 1),
              "max_ms": round(max(latencies) * 1000, 1)}  # fmt: skip
    print(f"\nload test: {json.dumps(report)}")
    out = os.environ.get("ROBOFORGE_LOAD_REPORT")
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
