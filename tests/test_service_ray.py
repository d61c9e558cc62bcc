"""Jobs on a Ray cluster (`roboforge serve --executor ray`): one real Ray head on loopback for the module
(`ray start --head --block`, stopped with its process group even when tests fail), real `roboforge train`
jobs submitted through Ray's Jobs API, no mocks of Ray. The executor's options and requests without a Ray
head are in test_service_executor_options.py."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roboforge.rl.checkpoints import latest_checkpoint, read_torch_checkpoint
from roboforge.service import files
from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from service_util import (
    HAS_RAY,
    JOB_ENV,
    TINY,
    LiveServer,
    TestClient,
    children,
    free_port,
    requires_ray,
    submit_job,
    trainers,
    wait_for,
    wait_iteration,
    wait_status,
)

HOSTS = ("testserver",)
LONG = {**TINY, "num_iterations": 5000, "num_envs": 16, "overrides": {"agent.save_interval": 1}}


def resume_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


# ---- a Ray head on loopback ------------------------------------------------------------------------------
class RayHead:
    """`ray start --head --block` on loopback ports in a short temporary folder (Ray's socket paths must stay
    short), in a process group of its own: `stop` ends every Ray process of it. Its workers inherit the
    test's job variables, so a job whose service was killed still stops when pytest ends (its launcher's
    --stop-with)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rf-ray-", dir="/tmp"))
        self.dashboard_port = free_port()
        self.url = f"http://127.0.0.1:{self.dashboard_port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> RayHead:
        ray = str(Path(sys.executable).parent / "ray")
        cmd = [ray, "start", "--head", "--block", f"--port={free_port()}", "--node-ip-address=127.0.0.1",
               "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}", "--include-dashboard=true",
               "--num-cpus=2", "--num-gpus=0", f"--object-store-memory={80 * 2**20}", f"--temp-dir={self.root}",
               f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
               "--disable-usage-stats"]  # fmt: skip
        env = {**os.environ, **JOB_ENV, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)
        with (self.root / "head.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.output()
            try:
                return httpx.get(f"{self.url}/api/version", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, "the Ray head's Jobs API", interval=0.5)
        return self

    def output(self) -> str:
        path = self.root / "head.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the head's process group and every process it started (Ray's workers have groups of
        their own), SIGKILL to what is left 3 s later (`ray start --block` and the GCS ignore SIGTERM); its
        folder removed."""
        if self.proc is not None:
            found = descendants(self.proc.pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, sig)
                for pid in found:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=3)
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.url)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux)."""
    found, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        found += kids
        todo += kids
    return found


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayHead]:
    if not HAS_RAY:
        pytest.fail('ray must be installed here (CI): pip install -e ".[ray]"', pytrace=False)
    head = RayHead()
    try:
        yield head.start()
    finally:
        head.stop()


def ray_cfg(data_dir: Path, head: RayHead) -> ServiceCfg:
    return ServiceCfg(data_dir=data_dir, max_concurrent=1, poll_interval_s=0.2, job_env=dict(JOB_ENV),
                      allowed_hosts=HOSTS, executor="ray", ray_address=head.url)  # fmt: skip


def ray_status(head: RayHead, job_id: str, attempt: int = 1) -> str:
    return str(head.client().get_job_info(f"{job_id}-attempt-{attempt}").status.value)


def settled_ray_status(head: RayHead, job_id: str, attempt: int = 1, timeout: float = 30.0) -> str:
    """Ray's status once it leaves RUNNING: Ray records a job's end a moment after the service sees it."""
    deadline = time.monotonic() + timeout
    status = ray_status(head, job_id, attempt)
    while status in ("PENDING", "RUNNING") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = ray_status(head, job_id, attempt)
    return status


# ---- real jobs on Ray ------------------------------------------------------------------------------------
@requires_ray
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ray_job_trains_with_the_same_log_metrics_and_artifacts(ray_head, data_dir):
    with TestClient(create_app(ray_cfg(data_dir, ray_head))) as client:
        job_id = submit_job(client, num_iterations=3)
        job = wait_status(client, job_id, ("succeeded",), timeout=150)
        assert (
            job["iteration"] == 3 and job["returncode"] == 0 and job["attempt"] == 1 and job["num_gpus"] == 0
        )
        stored = client.app.state.ctx.store.get(job_id)
        assert stored.submission_id == f"{job_id}-attempt-1" and stored.pid is None
        # the service reads the launcher's exit record; Ray marks the job done once its driver has exited, which
        # under load came after the service's status (CI, 2026-12-06: still RUNNING at the first look)
        info = ray_head.client().get_job_info(stored.submission_id)
        deadline = time.monotonic() + 60.0
        while not info.status.is_terminal() and time.monotonic() < deadline:
            time.sleep(0.5)
            info = ray_head.client().get_job_info(stored.submission_id)
        assert info.status.value == "SUCCEEDED" and info.metadata["roboforge_job"] == job_id
        assert info.entrypoint.startswith(f"cd {data_dir / 'jobs' / job_id} && exec ")
        assert "roboforge.service.launcher" in info.entrypoint
        log = client.get(f"/logs/{job_id}.log").text
        assert "training process finished (exit code 0)" in log
        assert client.get(f"/jobs/{job_id}/metrics").json()["iterations"] == [0, 1, 2]
        arts = [
            a["path"].rsplit("/", 1)[-1] for a in client.get(f"/jobs/{job_id}/artifacts").json()["artifacts"]
        ]
        assert "model_2.pt" in arts and "metrics.jsonl" in arts


@requires_ray
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sweep_trials_run_as_ray_jobs_at_the_same_time(ray_head, tmp_path):
    """`roboforge sweep --ray-address`: each trial a Ray job writing into the sweep folder, two at once."""
    cmd = [sys.executable, "-m", "roboforge", "sweep", "cartpole", "--param",
           "agent.algorithm.learning_rate=loguniform:1e-4:1e-2", "--trials", "2", "--parallel", "2",
           "--device", "cpu", "--num-envs", "16", "--max-iterations", "3", "--ray-address", ray_head.url,
           "--run-dir", str(tmp_path), "--json"]  # fmt: skip
    done = subprocess.run(cmd, env={**os.environ, **JOB_ENV}, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert [t["state"] for t in result["trials"]] == ["complete", "complete"] and result["best"] is not None
    sweep_dir = Path(result["sweep_dir"])
    jobs = {
        j.submission_id: j
        for j in ray_head.client().list_jobs()
        if (j.metadata or {}).get("roboforge_sweep") == f"sweep-cartpole-{sweep_dir.name}"
    }
    assert sorted(jobs) == [f"sweep-cartpole-{sweep_dir.name}-trial-{n}" for n in (0, 1)]
    assert all(j.status.value == "SUCCEEDED" for j in jobs.values())
    first, second = sorted(jobs.values(), key=lambda j: j.start_time)
    assert second.start_time < first.end_time  # both trials trained at once
    for trial in result["trials"]:  # each Ray job wrote its run and log into the sweep folder
        assert (Path(trial["run_dir"]) / "model_2.pt").is_file()
        assert (sweep_dir / f"trial_{trial['number']}.log").stat().st_size > 0


@requires_ray
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ray_job_cancel_saves_a_checkpoint_and_force_stops_through_ray(ray_head, data_dir):
    with TestClient(create_app(ray_cfg(data_dir, ray_head))) as client:
        job_id = submit_job(client, **LONG)
        wait_iteration(client, job_id, 2, timeout=150)
        assert client.post(f"/jobs/{job_id}/cancel").status_code == 202
        stopped = wait_status(client, job_id, ("cancelled",), timeout=60)
        assert stopped["returncode"] == 130 and stopped["error"] is None
        run = files.find_run_dir(data_dir / "jobs" / job_id, "cartpole")
        checkpoint = latest_checkpoint(run)
        assert (
            checkpoint is not None and read_torch_checkpoint(checkpoint)["iter"] == stopped["iteration"] - 1
        )
        log = client.get(f"/logs/{job_id}.log").text
        assert "cancel requested (stop request in stop.json)" in log
        assert "stopping: cancel requested" in log and "stopped on request" in log
        assert settled_ray_status(ray_head, job_id) == "SUCCEEDED"  # the launcher ended by itself

        resumed = client.post(f"/jobs/{job_id}/resume", json={"num_iterations": 5000})
        assert resumed.status_code == 202
        wait_iteration(client, job_id, stopped["iteration"] + 1, timeout=150)
        assert client.post(f"/jobs/{job_id}/cancel", params={"force": True}).status_code == 202
        killed = wait_status(client, job_id, ("cancelled",), timeout=60)
        assert (
            killed["attempt"] == 2
            and "cancel requested (Ray stop_job)" in client.get(f"/logs/{job_id}.log").text
        )
        assert settled_ray_status(ray_head, job_id, attempt=2) == "STOPPED"


@requires_ray
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ray_job_that_ends_without_an_exit_record_fails_with_rays_words(ray_head, data_dir, tmp_path):
    # the launcher dies before it writes anything, as on a node that cannot write into the job folder
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import os, sys\nif sys.argv[:2] == ['-m', '--job-dir'] and os.environ.get('RF_TEST_LAUNCHER_DIES'):\n"
        "    print('launcher cannot start', flush=True)\n    os._exit(3)\n"
    )
    cfg = ray_cfg(data_dir, ray_head)
    cfg.job_env.update(PYTHONPATH=str(inject), RF_TEST_LAUNCHER_DIES="1")
    with TestClient(create_app(cfg)) as client:
        job_id = submit_job(client, num_iterations=3)
        job = wait_status(client, job_id, ("failed",), timeout=120)
        assert job["error"].startswith(
            f"the job's launcher process ended without an exit record: Ray job {job_id}-attempt-1 FAILED: "
        )
        assert "launcher cannot start" in job["error"] and "storage every Ray node sees" in job["error"]
        assert f"error: {job['error']}" in client.get(f"/logs/{job_id}.log").text


@requires_ray
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkilled_service_reattaches_to_its_ray_job_and_loses_nothing(ray_head, data_dir):
    options = ("--executor", "ray", "--ray-address", ray_head.url)
    first = LiveServer(data_dir, max_concurrent=1, options=options).start()
    try:
        with first.client() as api:
            running = api.post("/reinforcement-learning", json={**LONG, "num_iterations": 60}).json()[
                "job_id"
            ]
            waiting = api.post("/reinforcement-learning", json={**TINY, "num_iterations": 2}).json()["job_id"]
            wait_iteration(api, running, 2, timeout=150)
    finally:
        first.stop(signal.SIGKILL)
    assert ray_status(ray_head, running) == "RUNNING"  # a Ray job does not depend on its submitter
    paused = trainers(data_dir)  # held still until the new service has re-attached, however slow it starts
    assert paused, "the Ray job's trainer ended before the service was restarted"
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)

    second = LiveServer(data_dir, max_concurrent=1, options=options)
    try:
        second.start()
        with second.client() as api:
            jobs = {j["id"]: j for j in api.get("/jobs").json()["jobs"]}
            assert jobs[running]["status"] == "running" and jobs[waiting]["status"] == "queued"
            assert f"re-attached to Ray job {running}-attempt-1" in api.get(f"/logs/{running}.log").text
            resume_all(paused)
            done = wait_status(api, running, ("succeeded",), timeout=150)
            assert done["iteration"] == 60 and done["attempt"] == 1
            assert api.get(f"/jobs/{running}/metrics").json()["iterations"] == list(range(60))
            assert wait_status(api, waiting, ("succeeded",), timeout=150)["iteration"] == 2
    finally:
        resume_all(paused)
        second.stop()
    assert "Traceback" not in second.output()
    with sqlite3.connect(data_dir / "jobs.db") as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2
