"""Hyperparameter sweeps as service jobs: POST /sweeps validation (in-process, runner not started), and real
sweeps (`roboforge sweep` under the launcher: tiny cart-pole trials) through the app and its runner."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from roboforge.service import records
from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from service_util import JOB_ENV, TINY, TestClient, kill_job_processes, wait_for

LR = "agent.algorithm.learning_rate=loguniform:1e-4:1e-2"


def sweep_body(**changes) -> dict:
    return {**TINY, "num_iterations": 2, "trials": 2, "params": [LR], **changes}


def error(response) -> tuple[list, str]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    return detail["loc"], detail["msg"]


@pytest.mark.parametrize(
    ("changes", "loc", "says"),
    [
        (
            {"params": ["agent.algorithm.learning_rate=gauss:0:1"]},
            ["body", "params", 0],
            "unknown distribution",
        ),
        ({"params": [LR, "agent.algorithm.entropy_coef=uniform:1:0"]}, ["body", "params", 1], "LOW < HIGH"),
        ({"params": ["agent.algorithm.learnin_rate=uniform:0:1"]}, ["body", "params", 0], "learnin_rate"),
        ({"params": ["env.scene.num_envs=int:1:10000000"]}, ["body", "params", 0], "env.scene.num_envs"),
        (
            {"params": ["agent.algorithm.gamma=uniform:0.9:1.5"]},
            ["body", "params", 0],
            "1.5 is above the maximum 1",
        ),
        (
            {"params": [{"path": "agent.algorithm.gamma", "distribution": "uniform", "low": 1, "high": 0}]},
            ["body", "params", 0],
            "LOW < HIGH",
        ),
        (
            {"num_envs": 16, "params": ["agent.algorithm.num_mini_batches=choice:4,1000"]},
            ["body", "params", 0],
            "1000 mini-batches of one rollout of 256 samples (num_envs 16 x num_steps_per_env 16) would leave",
        ),
        ({"params": []}, ["body", "params"], "at least 1"),
        ({"params": ["x" * 600]}, ["body", "params", 0], "at most 512"),
        ({"trials": 101}, ["body", "trials"], "less than or equal to 100"),
        ({"parallel": 17}, ["body", "parallel"], "less than or equal to 16"),
        ({"parallel": 0}, ["body", "parallel"], "greater than or equal to 1"),
        ({"metric": "Metrics/nothing"}, ["body", "metric"], "the task does not log it"),
        ({"direction": "up"}, ["body", "direction"], "'max' or 'min'"),
        ({"num_iterations": 0}, ["body", "num_iterations"], "greater than or equal to 1"),
        ({"task": "cartpol"}, ["body", "task"], "cartpole"),
        (
            {"overrides": {"agent.algorithm.learnin_rate": 1.0}},
            ["body", "overrides", "agent.algorithm.learnin_rate"],
            "",
        ),
    ],
)
def test_bad_sweeps_are_422_naming_the_field(client, changes, loc, says):
    found_loc, msg = error(client.post("/sweeps", json=sweep_body(**changes)))
    assert found_loc[: len(loc)] == loc and says in msg, (found_loc, msg)
    assert client.get("/sweeps").json()["count"] == 0


def test_sweep_is_queued_as_a_job_of_kind_sweep(client, cfg):
    body = sweep_body(
        params=[LR, {"path": "agent.algorithm.entropy_coef", "distribution": "uniform", "low": 0, "high": 0.02},
                {"path": "agent.algorithm.num_mini_batches", "distribution": "choice", "choices": [2, 4]}],
        metric="Episode_Reward/alive",
    )  # fmt: skip
    response = client.post("/sweeps", json=body)
    assert response.status_code == 202, response.text
    sweep = response.json()
    assert sweep["status"] == "queued" and sweep["trials"] == 2 and sweep["trials_done"] == 0
    assert sweep["params"] == [LR, "agent.algorithm.entropy_coef=uniform:0.0:0.02",
                               "agent.algorithm.num_mini_batches=choice:2,4"]  # fmt: skip
    assert sweep["job"]["kind"] == "sweep" and sweep["best_value"] is None
    sweep_id = sweep["id"]
    assert client.get(f"/sweeps/{sweep_id}").json()["metric"] == "Episode_Reward/alive"
    assert [s["id"] for s in client.get("/sweeps").json()["sweeps"]] == [sweep_id]
    assert client.get(f"/jobs/{sweep_id}").json()["kind"] == "sweep"  # in the job list too
    record = records.read_record(cfg.jobs_dir / sweep_id)  # job.json keeps the search
    assert record is not None and record.kind == "sweep" and record.sweep["trials"] == 2
    train = client.post("/reinforcement-learning", json={**TINY, "num_iterations": 2}).json()["job_id"]
    assert client.get(f"/sweeps/{train}").status_code == 404
    assert client.post(f"/jobs/{sweep_id}/resume").status_code == 409
    cancelled = client.post(f"/sweeps/{sweep_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/sweeps/{sweep_id}/cancel").status_code == 409
    assert client.post(f"/jobs/{sweep_id}/resume").status_code == 409  # a sweep is never resumed


def test_sweep_records_survive_a_lost_database(cfg):
    """A service whose database was deleted rebuilds the sweep (kind, search, trials so far) from job.json."""
    with TestClient(create_app(cfg, start_runner=False)) as client:
        sweep_id = client.post("/sweeps", json=sweep_body(trials=3)).json()["id"]
    for suffix in ("", "-wal", "-shm"):
        (cfg.data_dir / f"jobs.db{suffix}").unlink(missing_ok=True)
    app = create_app(cfg, start_runner=False)
    with TestClient(app) as client:
        app.state.ctx.runner.recover()
        sweep = client.get(f"/sweeps/{sweep_id}").json()
        assert (sweep["status"], sweep["trials"], sweep["params"], sweep["job"]["kind"]) == (
            "queued",
            3,
            [LR],
            "sweep",
        )


@contextlib.contextmanager
def running_service(tmp_path) -> Iterator[tuple[TestClient, ServiceCfg]]:
    """The app with its runner; kills leftover job processes (launcher, sweep, trials) afterwards."""
    cfg = ServiceCfg(data_dir=tmp_path / "svc", max_concurrent=1, poll_interval_s=0.2, job_env=JOB_ENV,
                     allowed_hosts=("testserver",))  # fmt: skip
    try:
        with TestClient(create_app(cfg)) as client:
            yield client, cfg
    finally:
        kill_job_processes(cfg.data_dir)


def sweep_state(client, sweep_id: str) -> dict:
    response = client.get(f"/sweeps/{sweep_id}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_sweep_runs_its_trials_to_succeeded(tmp_path):
    with running_service(tmp_path) as (client, cfg):
        response = client.post("/sweeps", json=sweep_body(metric="Train/mean_episode_length"))
        assert response.status_code == 202, response.text
        sweep_id = response.json()["id"]

        def ended():
            sweep = sweep_state(client, sweep_id)
            return sweep if sweep["status"] not in ("queued", "running") else None

        sweep = wait_for(ended, 120, f"sweep {sweep_id} to end", interval=0.5)
        log = (cfg.jobs_dir / sweep_id / "job.log").read_text()
        assert sweep["status"] == "succeeded", log
        assert sweep["trials_done"] == 2 and [t["number"] for t in sweep["trial_list"]] == [0, 1]
        values = [t["value"] for t in sweep["trial_list"] if t["state"] == "complete"]
        assert values and sweep["best_value"] == max(values)
        assert set(sweep["best_params"]) == {"agent.algorithm.learning_rate"}
        assert 1e-4 <= sweep["best_params"]["agent.algorithm.learning_rate"] <= 1e-2
        assert sweep["job"]["returncode"] == 0
        assert list((cfg.jobs_dir / sweep_id / "sweeps" / "cartpole").glob("*/study.db"))


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_running_sweep_is_cancelled_and_its_trial_stops(tmp_path):
    with running_service(tmp_path) as (client, cfg):
        body = sweep_body(num_iterations=500, trials=3)
        sweep_id = client.post("/sweeps", json=body).json()["id"]
        job_dir = cfg.jobs_dir / sweep_id
        wait_for(lambda: list(job_dir.glob("sweeps/cartpole/*/trial_0/cartpole/*/metrics.jsonl")), 90,
                 "the first trial to train")  # fmt: skip
        cancelled = client.post(f"/sweeps/{sweep_id}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["job"]["cancel_requested"]

        def ended():
            sweep = sweep_state(client, sweep_id)
            return sweep if sweep["status"] not in ("queued", "running") else None

        sweep = wait_for(ended, 60, f"sweep {sweep_id} to stop", interval=0.5)
        assert sweep["status"] == "cancelled", (job_dir / "job.log").read_text()
        assert [t["state"] for t in sweep["trial_list"]] == ["fail"]  # trial 0 interrupted, no trial 1
        # the trial was interrupted, not orphaned: no process of the sweep's folder is left
        wait_for(lambda: not _processes(cfg), 30, "the sweep's processes to end")


def _processes(cfg: ServiceCfg) -> list[int]:
    from service_util import processes

    return list(processes(cfg.data_dir))


def test_a_parallel_sweep_passes_its_trials_on_and_on_ray_holds_no_gpu(tmp_path):
    """`parallel` reaches `roboforge sweep`; on the Ray executor the trials become Ray jobs (the service's
    address) that ask for the GPUs, so the sweep's own Ray job asks for none (else one GPU would deadlock)."""
    from types import SimpleNamespace

    from roboforge.service.runner import JobRunner
    from roboforge.service.store import Job

    job = Job(id="s", kind="sweep", task="cartpole", library="rsl_rl", policy_type="PPO", num_iterations=2,
              num_envs=8, job_dir=str(tmp_path), overrides={}, seed=None, device="cuda", num_gpus=1, attempt=1,
              sweep={"trials": 4, "parallel": 2, "metric": "Train/mean_reward", "direction": "max",
                     "params": [LR]})  # fmt: skip
    for executor, address, gpus in (("local", None, 1), ("ray", "http://head:8265", 0)):
        cfg = ServiceCfg(data_dir=tmp_path, executor=executor, ray_address=address, max_concurrent=4)
        attempt = JobRunner._attempt(SimpleNamespace(cfg=cfg), job, None)  # type: ignore[arg-type]
        line = " ".join(attempt.command)
        assert " sweep cartpole " in line and " --parallel 2 " in line
        assert (" --ray-address http://head:8265 " in line) == (address is not None)
        assert attempt.num_gpus == gpus
        # jobs side by side on this machine share its memory; a Ray node has its own
        share = attempt.env.get("ROBOFORGE_MEMORY_SHARE")
        assert share == ("0.25" if executor == "local" else None), attempt.env
