"""Tasks of the user's own module (`--import MODULE`, the `roboforge.tasks` entry-point group): the README's
"Write a task" example, written into a temporary package, listed, trained, evaluated and served by real
`roboforge` processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from roboforge.service.jobspec import train_command
from roboforge.service.store import Job
from roboforge.service.sweeps import sweep_command
from service_util import LiveServer, job_state, kill_job_processes, wait_for, wait_status

README = Path(__file__).resolve().parents[1] / "README.md"
TASK = "my-task"
CPU = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """A folder holding `my_tasks/__init__.py`: the README's example, as written there."""
    root = tmp_path_factory.mktemp("user")
    found = re.search(r"```python\n(# my_tasks/__init__\.py\n.*?)```", README.read_text(), re.S)
    assert found, "README's 'Write a task' example (a python block starting '# my_tasks/__init__.py') is gone"
    (root / "my_tasks").mkdir()
    (root / "my_tasks" / "__init__.py").write_text(found.group(1))
    return root


def roboforge(*args: str, cwd: Path, pythonpath: Path | None = None, timeout: float = 120):
    """`python -m roboforge ARGS` in `cwd` (`python -m` finds modules there), its output combined."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(CPU, **({"PYTHONPATH": str(pythonpath)} if pythonpath else {}))
    return subprocess.run(
        [sys.executable, "-m", "roboforge", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_list_import_shows_the_task_and_a_bad_module_is_one_line(package, tmp_path):
    listed = roboforge("list", "--import", "my_tasks", cwd=package)
    assert listed.returncode == 0, listed.stderr
    assert TASK in listed.stdout and "a task of my own" in listed.stdout
    assert TASK not in roboforge("list", cwd=package).stdout
    bad = roboforge("list", "--import", "no_such_tasks", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no_such_tasks" in lines[0] and "No module named" in lines[0], bad.stderr


def test_an_entry_point_registers_the_task_without_import(package, tmp_path):
    """A `*.dist-info` with an `entry_points.txt` of group `roboforge.tasks` on PYTHONPATH: what installing a
    package with the README's pyproject snippet makes."""
    info = package / "my_tasks-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my_tasks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[roboforge.tasks]\nmy_tasks = my_tasks\n")
    try:
        listed = roboforge("list", "--json", cwd=tmp_path, pythonpath=package)
    finally:
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
    assert listed.returncode == 0, listed.stderr
    assert f'"{TASK}"' in listed.stdout


def test_an_entry_point_that_cannot_be_imported_is_one_line(tmp_path):
    info = tmp_path / "broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[roboforge.tasks]\nbroken = broken_tasks\n")
    listed = roboforge("list", cwd=tmp_path, pythonpath=tmp_path)
    lines = [line for line in listed.stderr.splitlines() if line.strip()]
    assert listed.returncode == 2 and len(lines) == 1, listed.stderr
    assert "'broken_tasks'" in lines[0] and "broken" in lines[0] and "No module named" in lines[0]


def test_service_jobs_and_sweeps_pass_the_task_modules(tmp_path):
    job = Job(id="j", task=TASK, library="rsl_rl", policy_type="PPO", num_iterations=2, num_envs=8,
              job_dir=str(tmp_path), overrides={}, seed=None, device="cpu",
              sweep={"trials": 2, "metric": "Train/mean_reward", "direction": "max", "params": []})  # fmt: skip
    for cmd in (
        train_command(job, None, 1, ("my_tasks", "more.tasks")),
        sweep_command(job, 1, ("my_tasks",)),
    ):
        assert " --import my_tasks " in f" {' '.join(cmd)} "
    assert "--import" not in train_command(job, None)


def test_sweep_trials_import_the_task_modules(monkeypatch):
    from roboforge.cli.sweep import _train_args
    from roboforge.envs import registry

    monkeypatch.setattr(registry, "_imported", ["my_tasks"])  # what `sweep --import my_tasks` imported
    args = _train_args("rsl_rl", "ppo", 8, 2, "cpu", "auto", None, None)
    assert args[-2:] == ["--import", "my_tasks"]


@pytest.mark.slow
def test_train_with_import_and_eval_of_the_run_without_it(package):
    """The README's commands: `train my-task --import my_tasks`; `eval` imports what the run recorded."""
    runs = package / "runs"
    trained = roboforge("train", TASK, "--import", "my_tasks", "--max-iterations", "2", "--num-envs", "16",
                        "--device", "cpu", "--run-dir", str(runs), "--quiet", cwd=package)  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "done: 2 iterations" in trained.stderr
    evaluated = roboforge("eval", TASK, "--checkpoint", str(runs / TASK), "--episodes", "4", "--num-envs", "4",
                          "--device", "cpu", "--json", cwd=package)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert '"episodes"' in evaluated.stdout


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_service_started_with_import_runs_a_job_of_the_user_task(package, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(package))
    data_dir = tmp_path / "svc"
    body = {"task": TASK, "policy_type": "PPO", "num_envs": 16, "num_iterations": 2, "device": "cpu"}
    try:
        server = LiveServer(data_dir, max_concurrent=1, options=("--import", "my_tasks"))
        with server.running(), server.client() as api:
            assert TASK in [t["id"] for t in api.get("/tasks").json()["tasks"]]
            assert api.post("/reinforcement-learning", json={**body, "task": "my-tusk"}).status_code == 422
            response = api.post("/reinforcement-learning", json=body)
            assert response.status_code == 202, response.text
            job_id = response.json()["job_id"]
            job = wait_status(api, job_id, ("succeeded", "failed"), timeout=150)
            log = api.get(f"/logs/{job_id}.log").text
            assert job["status"] == "succeeded", log[-3000:]
            assert f"train {TASK} " in log and "--import my_tasks" in log
            exported = wait_for(lambda: _export_event(job_state(api, job_id)), 90, "the job's export")
            assert exported.startswith("export 1 succeeded"), exported  # from the run's recorded import
    finally:
        kill_job_processes(data_dir)


def _export_event(job: dict) -> str:
    messages = [e["message"] for e in job["events"] if e["message"].startswith("export 1 ")]
    return next((m for m in messages if not m.startswith("export 1 started")), "")
