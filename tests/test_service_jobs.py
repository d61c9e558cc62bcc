"""Real training jobs through the in-process app and its runner thread: success, queue limit, cancel,
resume, crash reporting. Each job is a `roboforge train` process on a few cart-poles (one thread)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import onnxruntime as ort
import pytest

from roboforge.rl.checkpoints import latest_checkpoint, read_torch_checkpoint
from roboforge.service import files
from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from service_util import (
    JOB_ENV,
    TINY,
    TestClient,
    fault_before_checkpoint,
    kill_job_processes,
    submit_job,
    wait_for,
    wait_iteration,
    wait_status,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]  # real training jobs


@contextlib.contextmanager
def running_service(tmp_path, **job_env: str) -> Iterator[tuple[TestClient, ServiceCfg]]:
    """The app with its runner (max 1 concurrent job); kills leftover job processes afterwards."""
    cfg = ServiceCfg(data_dir=tmp_path / "svc", max_concurrent=1, poll_interval_s=0.2,
                     job_env={**JOB_ENV, **job_env}, allowed_hosts=("testserver",))  # fmt: skip
    try:
        with TestClient(create_app(cfg)) as client:
            yield client, cfg
    finally:
        kill_job_processes(cfg.data_dir)


@pytest.fixture
def service(tmp_path):
    with running_service(tmp_path) as running:
        yield running


def test_job_trains_and_serves_status_metrics_log_and_checkpoint(service):
    client, cfg = service
    job_id = submit_job(client, num_iterations=3)
    with client.stream("GET", f"/logs/{job_id}.log", params={"follow": True}) as stream:
        streamed = b"".join(stream.iter_bytes()).decode()  # ends when the job ends
    assert "training process finished (exit code 0)" in streamed
    job = wait_status(client, job_id, ("succeeded",), timeout=5)
    assert job["iteration"] == 3 and job["progress"] == 1.0 and job["returncode"] == 0 and job["attempt"] == 1
    assert "Train/mean_episode_length" in job["latest_metrics"] and job["seconds_per_iteration"] > 0
    states = [e["status"] for e in job["events"] if not e["message"].startswith("export")]
    assert states == ["queued", "running", "succeeded"]
    assert job["started_at"] <= job["finished_at"]
    metrics = client.get(f"/jobs/{job_id}/metrics").json()
    assert metrics["iterations"] == [0, 1, 2]
    assert all(v > 0 for v in metrics["series"]["Perf/total_fps"])
    checkpoints = [
        a for a in client.get(f"/jobs/{job_id}/artifacts").json()["artifacts"] if a["kind"] == "checkpoint"
    ]
    assert [a["path"].rsplit("/", 1)[-1] for a in checkpoints] == ["model_2.pt"]
    blob = client.get(checkpoints[0]["url"].removeprefix("http://testserver"))
    (cfg.data_dir / "downloaded.pt").write_bytes(blob.content)
    assert read_torch_checkpoint(cfg.data_dir / "downloaded.pt")["iter"] == 2
    # a job that succeeds is exported (`roboforge export --check`, a process of its own, logged in job.log)
    assert client.post(f"/jobs/{job_id}/export").status_code == 409  # that export runs
    assert client.post("/jobs/rl_missing_1/export").status_code == 404
    event = wait_for(lambda: export_outcome(client, job_id), 90, "the export after success")
    assert event["status"] == "succeeded" and event["message"].endswith("exported/policy.onnx"), event
    assert "check passed" in client.get(f"/logs/{job_id}.log").text
    arts = {
        a["path"].split("/", 2)[-1]: a for a in client.get(f"/jobs/{job_id}/artifacts").json()["artifacts"]
    }
    assert [a["kind"] for name, a in arts.items() if name.startswith("events.out.tfevents.")] == [
        "tensorboard"
    ]
    assert arts["exported/policy.onnx"]["kind"] == "onnx"
    assert arts["exported/policy.json"]["kind"] == "export-metadata"
    onnx_bytes = client.get(arts["exported/policy.onnx"]["url"].removeprefix("http://testserver")).content
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    obs = np.zeros([1 if not isinstance(d, int) else d for d in first.shape], dtype=np.float32)
    (action, *_) = session.run(None, {first.name: obs, **_extra_inputs(session)})
    assert np.isfinite(action).all()
    # the next job of this task gets an estimate from the measured speed
    again = client.post("/reinforcement-learning", json={**TINY, "num_iterations": 3600}).json()
    assert again["estimated_completion_hours"] == pytest.approx(job["seconds_per_iteration"], rel=0.5)
    client.post(f"/jobs/{again['job_id']}/cancel")
    # on demand: exported again from the latest checkpoint
    started = client.post(f"/jobs/{job_id}/export")
    assert started.status_code == 202 and started.json()["export"] == 2, started.text


def test_queue_limit_cancel_and_resume_from_checkpoint(service):
    client, cfg = service
    long_job = submit_job(client, num_iterations=5000, num_envs=16, overrides={"agent.save_interval": 1})
    short_job = submit_job(client, num_iterations=2)
    wait_iteration(client, long_job, 3)
    assert client.get(f"/jobs/{short_job}").json()["status"] == "queued"  # max_concurrent=1
    assert client.get("/jobs", params={"status": "running"}).json()["count"] == 1
    assert client.post(f"/jobs/{long_job}/cancel").status_code == 202
    stopped = wait_status(client, long_job, ("cancelled",), timeout=30)
    assert stopped["returncode"] == 130 and stopped["error"] is None
    run_dir = cfg.jobs_dir / long_job / "cartpole"
    checkpoint = latest_checkpoint(next(run_dir.iterdir()))
    assert checkpoint is not None and read_torch_checkpoint(checkpoint)["iter"] == stopped["iteration"] - 1
    log = client.get(f"/logs/{long_job}.log").text
    assert "cancel requested (SIGTERM)" in log and "stopped on request" in log

    wait_status(client, short_job, ("succeeded",), timeout=40)  # the freed slot runs the queued job
    target = stopped["iteration"] + 2
    resumed = client.post(f"/jobs/{long_job}/resume", json={"num_iterations": target})
    assert resumed.status_code == 202
    done = wait_status(client, long_job, ("succeeded",), timeout=40)
    assert done["attempt"] == 2 and done["iteration"] == target
    assert client.get(f"/jobs/{long_job}/metrics").json()["iterations"] == list(range(target))
    assert len(list(run_dir.iterdir())) == 1  # the same run folder continued
    assert f"resuming {run_dir}" in client.get(f"/logs/{long_job}.log").text
    assert client.post(f"/jobs/{long_job}/resume").status_code == 409  # all iterations done


def test_crashing_job_fails_with_the_error_at_the_end_of_its_log(tmp_path):
    # a real crash in the job: ZeroDivisionError while it saves model_0.pt
    with running_service(tmp_path, **fault_before_checkpoint(tmp_path, 0, "crash")) as (client, _):
        job_id = submit_job(client, num_iterations=3, overrides={"agent.save_interval": 1})
        job = wait_status(client, job_id, ("failed",), timeout=60)
        assert job["returncode"] == 1
        assert job["error"] == "ZeroDivisionError: integer division or modulo by zero (exit code 1)"
        lines = client.get(f"/logs/{job_id}.log").text.strip().splitlines()
        assert lines[-2] == "ZeroDivisionError: integer division or modulo by zero"
        assert lines[-1].endswith("error: training process failed (exit code 1); the error is printed above")
        assert "Traceback (most recent call last)" in "\n".join(lines)


def test_trainer_killed_before_its_final_checkpoint_fails_and_resumes_what_is_missing(tmp_path):
    # SIGKILL of the trainer after the metrics line of its last iteration, before its final checkpoint
    with running_service(tmp_path, **fault_before_checkpoint(tmp_path, 2)) as (client, cfg):
        # save_interval 2: model_1.pt after iteration 1; the final model_2.pt is never written
        job_id = submit_job(client, num_iterations=3, overrides={"agent.save_interval": 2})
        job = wait_status(client, job_id, ("failed",), timeout=90)
        assert job["returncode"] == -9 and "killed by SIGKILL" in job["error"]
        last_line = client.get(f"/logs/{job_id}.log").text.strip().splitlines()[-1]
        assert last_line.endswith("error: training process was killed by SIGKILL (exit code -9)")
        assert client.get(f"/jobs/{job_id}/metrics").json()["iterations"] == [0, 1, 2]  # all metrics lines
        assert job["iteration"] == 2 and job["progress"] < 1  # what model_1.pt holds, not 3 of 3
        resumed = client.post(f"/jobs/{job_id}/resume")  # not "already completed"
        assert resumed.status_code == 202 and resumed.json()["iteration"] == 2, resumed.text
        done = wait_status(client, job_id, ("succeeded",), timeout=90)
        assert done["attempt"] == 2 and done["error"] is None
        assert done["iteration"] == 3 and done["progress"] == 1.0
        run_dir = files.find_run_dir(cfg.jobs_dir / job_id, "cartpole")
        assert files.completed_iterations(run_dir) == 3  # model_2.pt now
        assert f"--resume --run-dir {run_dir}" in client.get(f"/logs/{job_id}.log").text


def export_outcome(client, job_id: str) -> dict | None:
    """The job's event that says how its latest export ended, or None while it runs."""
    events = client.get(f"/jobs/{job_id}").json()["events"]
    ended = [e for e in events if e["message"].startswith("export") and " started" not in e["message"]]
    return ended[-1] if ended else None


def _extra_inputs(session) -> dict:
    """Zeros for any further inputs (recurrent state) of an exported policy."""
    return {
        i.name: np.zeros([1 if not isinstance(d, int) else d for d in i.shape], dtype=np.float32)
        for i in session.get_inputs()[1:]
    }
