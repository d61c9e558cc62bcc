"""What the job service does when things break: a deleted or damaged database, a full disk (a trainer
killed before its final checkpoint is in test_service_jobs.py). Real `roboforge train` processes (a few
cart-poles, one thread) and real SQLite; the in-process app is restarted by creating it again."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import event
from typer.testing import CliRunner

from roboforge.service import files
from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from roboforge.service.errors import DiskFull
from service_util import (
    JOB_ENV,
    TINY,
    TestClient,
    children,
    free_port,
    submit_job,
    trainers,
    wait_for,
    wait_iteration,
)

pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]  # live services and jobs
HOSTS = ("testserver",)  # TestClient's Host header
LONG = {**TINY, "num_iterations": 5000, "num_envs": 16, "overrides": {"agent.save_interval": 1}}


def service_cfg(data_dir, max_concurrent: int = 1, **job_env: str) -> ServiceCfg:
    env = {**JOB_ENV, **job_env}
    return ServiceCfg(data_dir=data_dir, max_concurrent=max_concurrent, poll_interval_s=0.2, job_env=env,
                      allowed_hosts=HOSTS)  # fmt: skip


def test_deleted_database_is_rebuilt_from_the_job_folders(data_dir):
    with TestClient(create_app(service_cfg(data_dir, max_concurrent=2))) as client:
        running, doomed = submit_job(client, **LONG), submit_job(client, **LONG)
        waiting = submit_job(client, num_iterations=2)
        wait_iteration(client, running, 2)
        wait_iteration(client, doomed, 2)
        doomed_launcher = client.app.state.ctx.store.get(doomed).pid
    # the service stopped (its jobs train on), its database is deleted, one job's trainer is killed
    for suffix in ("", "-wal", "-shm"):
        (data_dir / f"jobs.db{suffix}").unlink(missing_ok=True)
    os.kill(wait_for(lambda: children(doomed_launcher), 10, "the trainer")[0], signal.SIGKILL)
    wait_for(lambda: (data_dir / "jobs" / doomed / files.EXIT_NAME).exists(), 20, "the exit record")

    with TestClient(create_app(service_cfg(data_dir, max_concurrent=1))) as client:
        jobs = {j["id"]: j for j in client.get("/jobs").json()["jobs"]}
        assert set(jobs) == {running, doomed, waiting}
        assert jobs[running]["status"] == "running"  # re-attached
        assert jobs[doomed]["status"] == "failed" and "SIGKILL" in jobs[doomed]["error"]
        assert jobs[doomed]["iteration"] >= 1 and jobs[doomed]["latest_metrics"]
        assert jobs[waiting]["status"] == "queued"
        events = client.get(f"/jobs/{running}").json()["events"]
        assert "restored from job.json" in events[0]["message"]
        assert "re-attached to job process" in client.get(f"/logs/{running}.log").text
        wait_iteration(client, running, jobs[running]["iteration"] + 1)  # still watched
        time.sleep(1.0)  # a few runner ticks: the restored running job holds the only slot
        assert client.get(f"/jobs/{waiting}").json()["status"] == "queued"
        assert len(trainers(data_dir)) == 1


def damage(db) -> None:
    """Overwrite the SQLite file after its header page with garbage."""
    with db.open("r+b") as f:
        f.seek(4096)
        f.write(b"\xa5" * 8192)


def test_damaged_database_fails_health_and_serve_names_the_file(data_dir):
    cfg = ServiceCfg(data_dir=data_dir, allowed_hosts=HOSTS)
    db = data_dir / "jobs.db"
    with TestClient(create_app(cfg, start_runner=False)) as client:
        for _ in range(3):
            submit_job(client, num_iterations=3)
        assert client.get("/health").status_code == 200
        with client.app.state.ctx.store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
        damage(db)
        health = client.get("/health")
        assert health.status_code == 503 and str(db) in health.json()["detail"], health.text
    with pytest.raises(ValueError, match=r"is damaged .* move .* aside"):
        create_app(cfg)
    from roboforge.cli import app as cli_app

    result = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(data_dir), "--port", str(free_port())])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and f"error: The job database {db} is damaged" in text
    assert "job.json" in text


def test_full_disk_is_a_507_that_says_where(data_dir):
    cfg = ServiceCfg(data_dir=data_dir, allowed_hosts=HOSTS)
    with TestClient(create_app(cfg, start_runner=False)) as client:
        job_id = submit_job(client, num_iterations=3)
        assert client.post(f"/jobs/{job_id}/cancel").status_code == 202
        # the job folder's disk is full: every write to its log fails with ENOSPC
        log = cfg.jobs_dir / job_id / files.LOG_NAME
        log.unlink()
        log.symlink_to("/dev/full")
        answer = client.post(f"/jobs/{job_id}/resume")
        assert answer.status_code == 507 and f"disk is full: cannot write {log}" in answer.json()["detail"]
        assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"  # nothing changed
        # the database's disk is full: SQLite answers SQLITE_FULL once its file cannot grow
        store = client.app.state.ctx.store
        event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA max_page_count = 1"))
        store.engine.dispose()
        for size in (2000, 0):  # fill the pages the file has, then what is left in them
            with pytest.raises(DiskFull):
                for _ in range(10_000):
                    store.note(job_id, "x" * size)
        answer = client.post("/reinforcement-learning", json={**TINY, "num_iterations": 3})
        assert answer.status_code == 507 and f"job database {data_dir / 'jobs.db'}" in answer.json()["detail"]
        assert [p.name for p in cfg.jobs_dir.iterdir()] == [job_id]  # the refused job left no folder


def test_failed_export_is_recorded_and_leaves_the_job_as_it_was(data_dir):
    cfg = ServiceCfg(data_dir=data_dir, allowed_hosts=HOSTS)
    with TestClient(create_app(cfg, start_runner=False)) as client:
        job_id = submit_job(client, num_iterations=3)
        assert client.post(f"/jobs/{job_id}/export").status_code == 409  # queued
        assert client.post(f"/jobs/{job_id}/cancel").status_code == 202
        no_checkpoint = client.post(f"/jobs/{job_id}/export")
        assert no_checkpoint.status_code == 409 and "no checkpoint" in no_checkpoint.json()["detail"]
        run = cfg.jobs_dir / job_id / "cartpole" / "2026-01-01_00-00-00"
        (run / "params").mkdir(parents=True)
        (run / "model_0.pt").write_bytes(b"not a checkpoint")
        started = client.post(f"/jobs/{job_id}/export")
        assert started.status_code == 202 and started.json()["export"] == 1, started.text
        exports = client.app.state.ctx.runner.exports

        def outcome():
            exports.poll()  # what the runner's loop does
            return [
                e for e in client.get(f"/jobs/{job_id}").json()["events"] if "export 1 failed" in e["message"]
            ]

        (event,) = wait_for(outcome, 90, "the export to fail")
        job = client.get(f"/jobs/{job_id}").json()
        assert job["status"] == "cancelled" and event["status"] == "cancelled"
        assert "cannot be read" in event["message"], event
        assert "error: export process failed (exit code" in client.get(f"/logs/{job_id}.log").text
