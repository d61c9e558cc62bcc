"""Job service building blocks without a server: store transactions, job files, launcher, process identity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pg_util import DATABASE_KINDS, database_url
from roboforge.service import files, process
from roboforge.service.store import Job, Store
from service_util import wait_for


def new_job(store: Store, job_id: str = "rl_cartpole_0001", task: str = "cartpole") -> Job:
    job = Job(id=job_id, task=task, policy_type="PPO", num_iterations=5, num_envs=16, seed=None, device="cpu",
              overrides={"env.episode_length_s": 3.0}, job_dir=f"/tmp/{job_id}", iteration=0, attempt=0,
              resume_requested=False, cancel_requested=False)  # fmt: skip
    return store.create(job)


@pytest.fixture(params=DATABASE_KINDS)
def store(request, tmp_path) -> Store:
    """The store on SQLite and on PostgreSQL (a fresh database on the session's test server, pg_util.py)."""
    s = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'db' / 'jobs.db'}")
    yield s
    s.close()


def test_create_get_list_and_filter(store):
    new_job(store, "rl_a_1")
    new_job(store, "rl_a_2")
    assert store.get("rl_a_1").status == "queued"
    assert store.get("rl_a_1").overrides == {"env.episode_length_s": 3.0}
    assert store.get("missing") is None
    assert [j.id for j in store.list()] == ["rl_a_2", "rl_a_1"]  # newest first
    store.transition("rl_a_1", ["queued"], "running")
    assert [j.id for j in store.list(["running"])] == ["rl_a_1"]
    assert store.counts()["queued"] == 1 and store.counts()["running"] == 1
    assert [j.id for j in store.queued(10)] == ["rl_a_2"]


def test_transition_is_compare_and_set_with_an_event(store):
    new_job(store)
    assert store.transition("rl_cartpole_0001", ["running"], "succeeded") is None  # not running
    job = store.transition("rl_cartpole_0001", ["queued"], "running", "attempt 1 started", attempt=1)
    assert job is not None and job.status == "running" and job.attempt == 1
    assert store.transition("rl_cartpole_0001", ["queued"], "running") is None  # already taken
    assert store.update("rl_cartpole_0001", ["running"], iteration=3)
    assert not store.update("rl_cartpole_0001", ["queued"], iteration=4)
    assert store.get("rl_cartpole_0001").iteration == 3
    events = store.events("rl_cartpole_0001")
    assert [(e.status, e.message) for e in events] == [("queued", "queued"), ("running", "attempt 1 started")]
    with pytest.raises(ValueError, match="Unknown job state"):
        store.transition("rl_cartpole_0001", ["running"], "done")


def test_only_one_of_many_threads_claims_a_job(store):
    new_job(store)
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def claim(k: int) -> None:
        barrier.wait()
        if store.transition("rl_cartpole_0001", ["queued"], "running", f"claimed by {k}"):
            wins.append(k)

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert [e.status for e in store.events("rl_cartpole_0001")] == ["queued", "running"]


def test_records_survive_reopening_and_timestamps_are_utc(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    first = Store(url)
    new_job(first)
    first.transition("rl_cartpole_0001", ["queued"], "running")
    first.close()
    second = Store(url)
    job = second.get("rl_cartpole_0001")
    assert job.status == "running"
    assert second.engine.dialect.name == "sqlite"
    with second.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    second.close()


def test_job_ids_and_artifact_names_never_leave_the_job_folder(tmp_path):
    job_id = files.new_job_id("Reach-UR5e/IK abs")
    assert files.valid_job_id(job_id) and job_id.startswith("rl_reach_ur5e_ik_abs_")
    for bad in ("..", "../x", "a/b", "", ".hidden", "a" * 65, "x\x00"):
        assert not files.valid_job_id(bad)
        with pytest.raises(ValueError):
            files.job_folder(tmp_path, bad)
    job_dir = tmp_path / "jobs" / "rl_x_1"
    run = job_dir / "cartpole" / "2026-01-01_00-00-00"
    (run / "params").mkdir(parents=True)
    (run / "model_3.pt").write_bytes(b"weights")
    (run / "exports").mkdir()
    (run / "exports" / "policy.onnx").write_bytes(b"onnx")
    (run / "exports" / "policy.json").write_text("{}")
    (run / "events.out.tfevents.1796100450.vm.7021.0").write_bytes(b"tb")
    (run / "notes.txt").write_text("not an artifact")
    secret = tmp_path / "secret.pt"
    secret.write_text("outside")
    (run / "model_9.pt").symlink_to(secret)
    (job_dir / "link").symlink_to(tmp_path)
    kinds = {a.path: a.kind for a in files.list_artifacts(job_dir)}
    assert kinds == {
        "cartpole/2026-01-01_00-00-00/model_3.pt": "checkpoint",
        "cartpole/2026-01-01_00-00-00/exports/policy.onnx": "onnx",
        "cartpole/2026-01-01_00-00-00/exports/policy.json": "export-metadata",
        "cartpole/2026-01-01_00-00-00/events.out.tfevents.1796100450.vm.7021.0": "tensorboard",
    }
    ok = files.resolve_artifact(job_dir, "cartpole/2026-01-01_00-00-00/model_3.pt")
    assert ok is not None and ok.read_bytes() == b"weights"
    for name in ("../secret.pt", "cartpole/../../secret.pt", "/etc/passwd", "cartpole/2026-01-01_00-00-00/model_9.pt",
                 "link/secret.pt", "cartpole/2026-01-01_00-00-00/notes.txt", "cartpole\\..\\..\\secret.pt",
                 "cartpole//2026-01-01_00-00-00/model_3.pt", "./cartpole/2026-01-01_00-00-00/model_3.pt"):  # fmt: skip
        assert files.resolve_artifact(job_dir, name) is None, name


def test_log_tail_metrics_and_failure_summary(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert files.tail_bytes(log, 3) == b"line 997\nline 998\nline 999\n"
    assert files.tail_bytes(log, 1) == b"line 999\n"
    assert files.tail_bytes(log, 5000).count(b"\n") == 1000
    assert files.tail_bytes(tmp_path / "missing.log", 3) == b""
    log.write_text("starting\nTraceback (most recent call last):\n  File x\nZeroDivisionError: division by zero\n"
                   "[roboforge-launcher 2026] error: training process failed (exit code 1)\n")  # fmt: skip
    assert files.failure_summary(log, 1) == "ZeroDivisionError: division by zero (exit code 1)"
    log.write_text("error: Unknown sim backend 'x'.\n")
    assert files.failure_summary(log, 2) == "error: Unknown sim backend 'x'. (exit code 2)"

    run = tmp_path / "run"
    run.mkdir()
    lines = [{"iteration": 0, "r": 1.0}, {"iteration": 1, "r": 2.0}, {"iteration": 1, "r": 2.5}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"iteration": 2, "r"')
    assert [r["r"] for r in files.read_metric_records(run)] == [1.0, 2.5]  # newer record of 1 wins
    tail = files.MetricsTail(run / "metrics.jsonl")
    assert len(tail.read_new()) == 3 and tail.read_new() == []
    assert files.repair_metrics_tail(run) and not files.repair_metrics_tail(run)
    assert (run / "metrics.jsonl").read_text().endswith("2.5}\n")
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"iteration": 2, "r": 3.0}) + "\n")
    assert [r["iteration"] for r in tail.read_new()] == [2]


def test_process_identity(tmp_path):
    me = os.getpid()
    token = process.start_token(me)
    assert token and process.alive(me, token)
    assert not process.alive(me, str(int(token) + 1))  # same pid, other process
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process.alive(child.pid, None)
    assert not process.send(child.pid, None, signal.SIGTERM)
    assert process.signal_name(-9) == "SIGKILL"


def log_has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text()


def log_line(path: Path, line: str) -> bool:
    """True once `line` is a whole line of the log (the launcher's first line quotes the command, so a
    word the job prints is in the log before the job runs)."""
    return path.exists() and line in path.read_text().splitlines()


# a job that prints 'ready', then saves a checkpoint and exits 130 on SIGTERM, as `roboforge train` does
CHECKPOINTING_JOB = ("import signal, sys, time\n"
                     "signal.signal(signal.SIGTERM, lambda *a: (print('checkpoint saved', flush=True), sys.exit(130)))\n"
                     "print('ready', flush=True)\n"
                     "time.sleep(60)\n")  # fmt: skip


def assert_checkpointed_stop(job_dir: Path, reason: str) -> None:
    """Attempt 2 of CHECKPOINTING_JOB was stopped for `reason` and saved its checkpoint."""
    record = files.read_exit(job_dir, 2)
    assert record is not None and record["returncode"] == 130 and record["stop_requested"]
    text = (job_dir / "job.log").read_text()
    assert f"stopping: {reason}" in text and "checkpoint saved" in text


def launch(job_dir: Path, code: str, *options: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "roboforge.service.launcher", "--job-dir", str(job_dir), "--attempt", "2",
           *options, "--", sys.executable, "-c", code]  # fmt: skip
    return subprocess.Popen(cmd, start_new_session=True)


def test_launcher_logs_output_and_records_the_exit_code(tmp_path):
    proc = launch(tmp_path, "import sys; print('hello from the job'); sys.exit(3)")
    assert proc.wait(timeout=30) == 0
    record = files.read_exit(tmp_path, 2)
    assert record is not None and record["returncode"] == 3 and not record["stop_requested"]
    assert files.read_exit(tmp_path, 1) is None  # another attempt's record does not count
    text = (tmp_path / "job.log").read_text()
    assert "hello from the job" in text
    assert (
        text.strip()
        .splitlines()[-1]
        .endswith("error: training process failed (exit code 3); the error is printed above")
    )


def test_launcher_forwards_one_sigterm_and_reports_a_stop(tmp_path):
    code = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM', flush=True), sys.exit(130)))\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\n")  # fmt: skip
    proc = launch(tmp_path, code)
    wait_for(lambda: log_line(tmp_path / "job.log", "ready"), 20, "the job's SIGTERM handler")
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)  # a second signal is not forwarded (it would break a checkpoint)
    assert proc.wait(timeout=20) == 0
    record = files.read_exit(tmp_path, 2)
    assert record is not None and record["returncode"] == 130 and record["stop_requested"]
    text = (tmp_path / "job.log").read_text()
    assert text.splitlines().count("got SIGTERM") == 1 and "stopped on request" in text


def test_launcher_reports_a_killed_process(tmp_path):
    proc = launch(tmp_path, "import time; print('ready', flush=True); time.sleep(30)")
    wait_for(lambda: log_line(tmp_path / "job.log", "ready"), 20, "the job to start")
    t0 = time.monotonic()
    kids = wait_for(lambda: [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()],
                    10, "the child pid")  # fmt: skip
    os.kill(kids[0], signal.SIGKILL)
    assert proc.wait(timeout=20) == 0 and time.monotonic() - t0 < 20
    assert files.read_exit(tmp_path, 2)["returncode"] == -9
    assert "error: training process was killed by SIGKILL" in (tmp_path / "job.log").read_text()


def test_launcher_forwards_a_stop_that_arrives_before_the_job_runs_once(tmp_path):
    code = "import time; time.sleep(30)"
    proc = launch(tmp_path, code)
    wait_for(
        lambda: (tmp_path / files.PID_NAME).exists(), 20, "the launcher's signal handlers", interval=0.005
    )
    proc.send_signal(signal.SIGTERM)  # the launcher may not have started its child yet: forwarded when it has
    assert proc.wait(timeout=20) == 0
    record = files.read_exit(tmp_path, 2)
    assert record is not None and record["stop_requested"] and record["returncode"] in (-15, 130)
    assert (tmp_path / "job.log").read_text().count("stopping: SIGTERM received") == 1


def test_launcher_stops_its_job_when_the_owner_process_ends(tmp_path):
    """A test (or a service) that dies leaves no job behind when it started it with --stop-with its pid."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = launch(tmp_path, CHECKPOINTING_JOB, "--stop-with", str(owner.pid))
        wait_for(lambda: log_line(tmp_path / "job.log", "ready"), 20, "the job to start")
        owner.kill()
        owner.wait()
        assert proc.wait(timeout=20) == 0
    finally:
        owner.kill()
    assert_checkpointed_stop(tmp_path, f"owner process {owner.pid} ended")


def test_launcher_stops_its_job_on_the_services_stop_request(tmp_path):
    proc = launch(tmp_path, CHECKPOINTING_JOB)
    try:
        wait_for(lambda: log_line(tmp_path / "job.log", "ready"), 20, "the job to start")
        files.write_stop(tmp_path, 1, "an older attempt's request")
        time.sleep(0.6)  # a few polls: not this attempt's
        assert proc.poll() is None
        files.write_stop(tmp_path, 2, "cancel requested")
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    assert_checkpointed_stop(tmp_path, "cancel requested")


def test_time_estimate_before_any_job_ran(store):
    from roboforge.service.estimate import estimate_hours, table_s_per_iteration

    def job(num_iterations: int = 150, device: str = "cpu") -> Job:
        return Job(task="cartpole", library="rsl_rl", policy_type="PPO", num_envs=1024,
                   num_iterations=num_iterations, device=device)  # fmt: skip

    cpu = estimate_hours(store, job(), 16)  # cartpole's rsl_rl PPO: 16 env steps per iteration
    assert 0.005 < cpu < 0.05  # README: ~80K env-steps/s with 1024 worlds on 2 cores (table: conservative)
    assert estimate_hours(store, job(device="cuda"), 16) < cpu
    assert estimate_hours(store, job(1500), 16) > 5 * cpu
    # interpolated between measured world counts, constant below the smallest, linear above the largest
    small, mid, big = (table_s_per_iteration("cartpole", "cpu", n, 16) for n in (8, 512, 4096))
    assert small == table_s_per_iteration("cartpole", "cpu", 32, 16) < mid < big
    assert table_s_per_iteration("no-such-task", "cpu", 512, 16) > mid  # generic figures: conservative
    assert estimate_hours(store, job(), 32) > cpu  # longer rollouts (any library's steps per iteration)


def test_recovery_adopts_a_launcher_whose_pid_was_never_recorded(store, tmp_path):
    from roboforge.service.config import ServiceCfg
    from roboforge.service.runner import JobRunner

    job_dir = tmp_path / "jobs" / "rl_cartpole_0001"
    job = new_job(store)
    store.update(job.id, ["queued"], job_dir=str(job_dir))
    store.transition(
        job.id, ["queued"], "running", attempt=1
    )  # claimed; the service died before Popen returned
    proc = subprocess.Popen(
        [sys.executable, "-m", "roboforge.service.launcher", "--job-dir", str(job_dir), "--attempt", "1", "--",
         sys.executable, "-c", "import time; print('working', flush=True); time.sleep(1.5)"],
        start_new_session=True,
    )  # fmt: skip
    wait_for(lambda: log_has(job_dir / "job.log", "working"), 20, "the job to start")
    runner = JobRunner(store, ServiceCfg(data_dir=tmp_path))
    runner.recover()
    adopted = store.get(job.id)
    assert adopted.status == "running" and adopted.pid == proc.pid  # re-attached, not interrupted
    assert "re-attached to job process" in (job_dir / "job.log").read_text()
    proc.wait(timeout=20)
    runner.tick()
    done = store.get(job.id)
    assert done.status == "succeeded" and done.returncode == 0 and done.pid is None


def test_each_job_gets_its_share_of_the_cores(tmp_path):
    import os

    from roboforge.service.jobspec import cpu_share, train_command
    from roboforge.service.store import Job

    job = Job(id="j", task="cartpole", num_iterations=3, num_envs=8, job_dir=str(tmp_path), overrides={}, seed=None,
              device="cpu")  # fmt: skip
    cores = os.cpu_count() or 1
    assert cpu_share(1) == cores and cpu_share(2 * cores) == 1
    cmd = " ".join(train_command(job, None, cpu_share(2)))
    assert "--threads 1" in cmd and f"env.sim.num_threads={max(1, cores // 2)}" in cmd
    job.overrides = {"env.sim.num_threads": 4}
    cmd = " ".join(train_command(job, None, 1))
    assert "env.sim.num_threads=1" not in cmd and "env.sim.num_threads=4" in cmd
