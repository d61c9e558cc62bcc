"""The job executors' options and requests, checked without a Ray head: `--executor` and `--ray-address`,
`num_gpus`, the torchrun and Ray submission commands and the database columns they added (the launcher's
tests are in test_service_store.py)."""

from __future__ import annotations

import sqlite3
import sys

import pytest
from fastapi.exceptions import RequestValidationError
from typer.testing import CliRunner

from roboforge.service.app import create_app
from roboforge.service.config import ServiceCfg
from roboforge.service.executors import Attempt
from roboforge.service.jobspec import JOB_ENV as SERVICE_JOB_ENV
from roboforge.service.jobspec import train_command
from roboforge.service.schemas import JobRequest
from roboforge.service.store import Job, Store
from roboforge.service.validation import resolve_num_gpus
from roboforge.utils.errors import UserInputError
from service_util import TINY, TestClient, free_port, requires_ray, submit_job

HOSTS = ("testserver",)


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
        job_id = submit_job(client, num_iterations=3, num_gpus=0)
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


@requires_ray
def test_rays_words_are_the_entrypoints_last_line_even_when_rays_own_line_comes_after_it():
    from roboforge.service.executors.ray import rays_words

    head = "Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):"
    rays_line = "Running entrypoint for job rl_1-attempt-1: cd /jobs/rl_1 && exec python -m x"
    # Ray flushes its own line after the entrypoint started: under load the entrypoint's words come first
    for log in (f"{rays_line}\nlauncher cannot start\n", f"launcher cannot start\n{rays_line}\n"):
        assert rays_words(f"{head}\n{log}") == f"{head[:-1]}; launcher cannot start"
    assert rays_words(f"{head}\n{rays_line}\n") == head[:-1]
    assert rays_words("Job entrypoint command failed with exit code 3. No logs available.").endswith(
        "available."
    )
    assert rays_words(None) == rays_words("") == "no message"


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
