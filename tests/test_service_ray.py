"""Jobs on a Ray cluster (`roboforge serve --executor ray`): one real Ray head on loopback for the module
(`ray start --head --block`, stopped with its process group even when tests fail), real `roboforge train`
jobs submitted through Ray's Jobs API, no mocks of Ray. Plus fast checks without Ray: the executor options,
`num_gpus`, the launcher's stop request and the new database columns."""

from __future__ import annotations

import contextlib
import importlib.util
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
from fastapi.exceptions import RequestValidationError
from typer.testing import CliRunner

from roboforge.rl.checkpoints import latest_checkpoint, read_torch_checkpoint
from roboforge.service import files
from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from roboforge.service.executors import Attempt
from roboforge.service.jobspec import JOB_ENV as SERVICE_JOB_ENV
from roboforge.service.jobspec import train_command
from roboforge.service.schemas import JobRequest
from roboforge.service.store import Job, Store
from roboforge.service.validation import resolve_num_gpus
from roboforge.utils.errors import UserInputError
from service_util import (
    JOB_ENV,
    TINY,
    LiveServer,
    TestClient,
    children,
    free_port,
    trainers,
    wait_for,
    wait_iteration,
    wait_status,
)

HAS_RAY = importlib.util.find_spec("ray") is not None
requires_ray = pytest.mark.skipif(
    not HAS_RAY and not os.environ.get("CI"), reason='ray is not installed (pip install -e ".[ray]")'
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


def post(client, **changes) -> str:
    response = client.post("/reinforcement-learning", json={**TINY, **changes})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def ray_status(head: RayHead, job_id: str, attempt: int = 1) -> str:
    return str(head.client().get_job_info(f"{job_id}-attempt-{attempt}").status.value)


# ---- real jobs on Ray ------------------------------------------------------------------------------------
@requires_ray
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ray_job_trains_with_the_same_log_metrics_and_artifacts(ray_head, data_dir):
    with TestClient(create_app(ray_cfg(data_dir, ray_head))) as client:
        job_id = post(client, num_iterations=3)
        job = wait_status(client, job_id, ("succeeded",), timeout=150)
        assert (
            job["iteration"] == 3 and job["returncode"] == 0 and job["attempt"] == 1 and job["num_gpus"] == 0
        )
        stored = client.app.state.ctx.store.get(job_id)
        assert stored.submission_id == f"{job_id}-attempt-1" and stored.pid is None
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
        job_id = post(client, **LONG)
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
        assert ray_status(ray_head, job_id) == "SUCCEEDED"  # the launcher ended by itself

        resumed = client.post(f"/jobs/{job_id}/resume", json={"num_iterations": 5000})
        assert resumed.status_code == 202
        wait_iteration(client, job_id, stopped["iteration"] + 1, timeout=150)
        assert client.post(f"/jobs/{job_id}/cancel", params={"force": True}).status_code == 202
        killed = wait_status(client, job_id, ("cancelled",), timeout=60)
        assert (
            killed["attempt"] == 2
            and "cancel requested (Ray stop_job)" in client.get(f"/logs/{job_id}.log").text
        )
        deadline = time.monotonic() + 30  # Ray records the stop a moment after the service saw the job end
        while ray_status(ray_head, job_id, attempt=2) != "STOPPED" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ray_status(ray_head, job_id, attempt=2) == "STOPPED"


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
        job_id = post(client, num_iterations=3)
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


# ---- fast checks, no Ray head ----------------------------------------------------------------------------
def test_executor_options_are_checked():
    with pytest.raises(UserInputError, match=r"executor \(--executor\) must be local or ray, got 'docker'"):
        ServiceCfg(executor="docker")
    with pytest.raises(UserInputError, match="--ray-address is the Ray cluster of --executor ray"):
        ServiceCfg(ray_address="http://head:8265")
    with pytest.raises(UserInputError, match=r"must be the Ray dashboard's URL such as http://HEAD:8265"):
        ServiceCfg(executor="ray", ray_address="head:8265")
    with pytest.raises(UserInputError, match=r"max_job_gpus \(--max-job-gpus\) must be in 0..64"):
        ServiceCfg(max_job_gpus=65)
    assert ServiceCfg(executor="ray").ray_url == "http://127.0.0.1:8265"
    assert ServiceCfg(executor="ray", ray_address="http://head:8265/").ray_url == "http://head:8265"


def serve(*args: str):
    from roboforge.cli import app as cli_app

    return CliRunner().invoke(cli_app, ["serve", "--port", str(free_port()), *args])


def test_serve_names_the_extra_when_ray_is_missing(tmp_path, monkeypatch):
    for name in [
        n for n in sys.modules if n == "ray" or n.startswith(("ray.", "roboforge.service.executors.ray"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    result = serve("--data-dir", str(tmp_path), "--executor", "ray")
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert (
        "error: --executor ray needs the ray package, which is not installed: pip install roboforge[ray]"
        in text
    )
    assert "Traceback" not in result.output
    bad = serve("--data-dir", str(tmp_path), "--executor", "docker")
    assert bad.exit_code == 2 and "must be local or ray, got 'docker'" in bad.output


@requires_ray
def test_serve_says_when_the_ray_cluster_does_not_answer(tmp_path):
    address = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = serve("--data-dir", str(tmp_path), "--executor", "ray", "--ray-address", address)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"error: Cannot reach the Ray cluster's Jobs API at {address}" in text and "--ray-address" in text
    assert "Traceback" not in result.output


def request(**changes) -> JobRequest:
    return JobRequest(**{"task": "cartpole", "num_iterations": 3, **changes})


def gpus(executor: str = "ray", gpus_here: int = 4, **changes) -> int:
    return resolve_num_gpus(request(**changes), ServiceCfg(executor=executor), gpus_here=gpus_here)


def refused(executor: str = "ray", gpus_here: int = 4, **changes) -> str:
    with pytest.raises(RequestValidationError) as caught:
        gpus(executor, gpus_here, **changes)
    (error,) = caught.value.errors()
    assert error["loc"] == ("body", "num_gpus")
    return error["msg"]


def test_num_gpus_defaults_to_the_device_and_is_bounded():
    assert gpus() == 1 and gpus(gpus_here=0) == 0 and gpus(device="cpu") == 0 and gpus(device="cuda:1") == 1
    assert gpus(num_gpus=8, gpus_here=0) == 8  # Ray finds them on its nodes
    assert gpus("local", num_gpus=2, gpus_here=2) == 2
    assert "at most 8 GPUs (--max-job-gpus)" in refused(num_gpus=9)
    assert "device 'cpu' uses no GPU" in refused(num_gpus=1, device="cpu")
    assert "device 'cuda' trains on a GPU; set num_gpus to 1" in refused(num_gpus=0, device="cuda")
    assert "set device to 'cuda' or leave it out" in refused(num_gpus=2, device="cuda:1")
    assert "ask for num_gpus 1" in refused(num_gpus=2, library="sb3")
    assert "has 2 GPUs and runs jobs itself (--executor local)" in refused("local", 2, num_gpus=3)
    assert "--executor ray" in refused("local", 0, num_gpus=1)


def test_num_gpus_errors_are_422s_that_name_the_field(tmp_path):
    import torch

    cfg = ServiceCfg(data_dir=tmp_path, allowed_hosts=HOSTS)
    more_than_here = torch.cuda.device_count() + 1
    with TestClient(create_app(cfg, start_runner=False)) as client:
        for value, words in ((-1, "greater than or equal to 0"), (65, "less than or equal to 64"),
                             ("2", "valid integer"), (more_than_here, "runs jobs itself")):  # fmt: skip
            answer = client.post(
                "/reinforcement-learning",
                json={**TINY, "device": None, "num_iterations": 3, "num_gpus": value},
            )
            assert answer.status_code == 422, answer.text
            assert (
                answer.json()["detail"][0]["loc"] == ["body", "num_gpus"]
                and words in answer.json()["message"]
            )
            assert "Traceback" not in answer.text
        job_id = post(client, num_iterations=3, num_gpus=0)
        assert client.get(f"/jobs/{job_id}").json()["num_gpus"] == 0


def test_a_job_on_several_gpus_runs_under_torchrun(tmp_path):
    job = Job(id="j", task="cartpole", num_iterations=3, num_envs=8, job_dir=str(tmp_path), overrides={},
              seed=None, device=None, num_gpus=2)  # fmt: skip
    cmd = train_command(job, None, 1)
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc_per_node=2" in cmd
    assert cmd[-1] == "--distributed" and "--gpus" not in cmd  # the ranks use the GPUs Ray gave the job
    job.num_gpus = 1
    assert train_command(job, None, 1)[1:4] == ["-m", "roboforge", "train"]


@requires_ray
def test_ray_submission_runs_the_launcher_in_the_job_folder(tmp_path):
    from roboforge.service.executors.ray import submission

    job_dir = tmp_path / "jobs" / "rl_cartpole_1"
    attempt = Attempt(job_id="rl_cartpole_1", job_dir=job_dir, attempt=2, command=["python", "-m", "x", "a b"],
                      env={**SERVICE_JOB_ENV, "OMP_NUM_THREADS": "1"}, num_cpus=2, num_gpus=4)  # fmt: skip
    spec = submission(attempt)
    assert spec["entrypoint"] == f"cd {job_dir} && exec python -m x 'a b'"
    assert spec["submission_id"] == "rl_cartpole_1-attempt-2"
    assert (
        spec["runtime_env"] == {"env_vars": attempt.env}
        and spec["runtime_env"]["env_vars"]["ROBOFORGE_DEBUG"]
    )
    assert (spec["entrypoint_num_cpus"], spec["entrypoint_num_gpus"]) == (2, 4)


def test_launcher_stops_its_job_on_the_services_stop_request(tmp_path):
    code = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: (print('checkpoint saved', flush=True), sys.exit(130)))\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\n")  # fmt: skip
    cmd = [sys.executable, "-m", "roboforge.service.launcher", "--job-dir", str(tmp_path), "--attempt", "2",
           "--", sys.executable, "-c", code]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        log = tmp_path / "job.log"
        wait_for(lambda: log.exists() and "ready" in log.read_text().splitlines(), 20, "the job to start")
        files.write_stop(tmp_path, 1, "an older attempt's request")
        time.sleep(0.6)  # a few polls: not this attempt's
        assert proc.poll() is None
        files.write_stop(tmp_path, 2, "cancel requested")
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    record = files.read_exit(tmp_path, 2)
    assert record is not None and record["returncode"] == 130 and record["stop_requested"]
    text = (tmp_path / "job.log").read_text()
    assert "stopping: cancel requested" in text and "checkpoint saved" in text


def test_older_databases_get_the_gpu_and_ray_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "jobs.db") as db:  # the jobs table of the previous version
        for column in ("num_gpus", "submission_id"):
            db.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        db.execute(
            "INSERT INTO jobs (id, task, library, policy_type, num_iterations, num_envs, overrides, status, "
            "iteration, job_dir, attempt, resume_requested, cancel_requested, created_at, updated_at) VALUES "
            "('old', 'cartpole', 'rsl_rl', 'PPO', 3, 8, '{}', 'succeeded', 3, '/x', 1, 0, 0, "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    store = Store(url)
    try:
        old = store.get("old")
        assert old is not None and old.num_gpus == 0 and old.submission_id is None
    finally:
        store.close()
