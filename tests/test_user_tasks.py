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


def test_a_task_module_that_exits_or_takes_a_builtin_id_is_one_line(tmp_path):
    """A module calling sys.exit() at import ended `roboforge` with its code and no message; one registering
    `cartpole` silently replaced the built-in task."""
    (tmp_path / "exit_tasks.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "clash_tasks.py").write_text(
        "from roboforge.envs import register_task\n"
        "register_task('cartpole', entry_point='roboforge.envs:ManagerBasedRLEnv',\n"
        "              env_cfg_entry_point='clash_tasks:cfg', rsl_rl_cfg_entry_point='clash_tasks:agent')\n"
    )
    for module, words in [
        ("exit_tasks", "(SystemExit: 3)"),
        ("clash_tasks", "Task 'cartpole' is already registered"),
        (
            "./clash_tasks.py",
            "give a module name (e.g. clash_tasks), not a file path",
        ),  # was a TypeError's words
    ]:
        listed = roboforge("list", "--import", module, cwd=tmp_path)
        lines = [line for line in listed.stderr.splitlines() if line.strip()]
        assert listed.returncode == 2 and len(lines) == 1 and words in lines[0], listed.stderr


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


BROKEN_TASKS = """
from roboforge.envs import register_task


def fails(play=False):
    raise KeyError("oops")


def returns_none(play=False):
    return None


def no_play():
    raise AssertionError("not called")


for task, env_cfg in [("typo", "broken_entry_tasks:my_env_cfg"), ("no-colon", "broken_entry_tasks"),
                      ("no-module", "gone_tasks:cfg"), ("fails", "broken_entry_tasks:fails"),
                      ("none", "broken_entry_tasks:returns_none"), ("no-play", "broken_entry_tasks:no_play")]:
    register_task(f"broken-{task}", entry_point="roboforge.envs:ManagerBasedRLEnv", env_cfg_entry_point=env_cfg,
                  rsl_rl_cfg_entry_point="broken_entry_tasks:nope")
register_task("broken-env-class", entry_point="roboforge.envs:NoSuchEnv",
              env_cfg_entry_point="roboforge.tasks.cartpole.cartpole_env_cfg:cartpole_env_cfg",
              rsl_rl_cfg_entry_point="broken_entry_tasks:nope")
"""


@pytest.mark.parametrize(
    ("task", "key", "words"),
    [
        ("typo", "env_cfg_entry_point", "module 'broken_entry_tasks' has no 'my_env_cfg'"),
        ("no-colon", "env_cfg_entry_point", "'broken_entry_tasks' must be 'module:name'"),
        ("no-module", "env_cfg_entry_point", "the module 'gone_tasks' cannot be imported"),
        ("fails", "env_cfg_entry_point", "broken_entry_tasks:fails(play=False) failed (KeyError: 'oops')"),
        ("none", "env_cfg_entry_point", "returned NoneType, not an env config"),
        ("no-play", "env_cfg_entry_point", "unexpected keyword argument 'play'"),
        ("typo", "rsl_rl_cfg_entry_point", "module 'broken_entry_tasks' has no 'nope'"),
    ],
)
def test_entry_points_of_a_user_task_that_do_not_resolve_are_one_line(broken_tasks, task, key, words):
    """A register_task call naming a factory its module lacks (or that fails, or returns no env config) was an
    internal error (AttributeError, ModuleNotFoundError, the factory's own exception)."""
    from roboforge.envs.registry import TaskModuleError, load_cfg

    with pytest.raises(TaskModuleError) as err:
        load_cfg(f"broken-{task}", key, play=False)
    assert str(err.value).startswith(f"Task 'broken-{task}': {key} ") and words in str(err.value), err.value


def test_an_env_class_the_module_lacks_is_one_line(broken_tasks):
    from roboforge.envs.registry import TaskModuleError, load_cfg, make_env

    cfg = load_cfg("broken-env-class", play=False)
    with pytest.raises(
        TaskModuleError, match=r"entry_point 'roboforge.envs:NoSuchEnv': .* has no 'NoSuchEnv'"
    ):
        make_env("broken-env-class", cfg)


@pytest.fixture(scope="module")
def broken_tasks(tmp_path_factory):
    """`broken_entry_tasks`, a module registering tasks whose entry points do not resolve, imported here; its
    tasks leave the registry afterwards."""
    import importlib

    import gymnasium as gym

    root = tmp_path_factory.mktemp("broken")
    (root / "broken_entry_tasks.py").write_text(BROKEN_TASKS)
    sys.path.insert(0, str(root))
    try:
        importlib.import_module("broken_entry_tasks")
        yield
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("broken_entry_tasks", None)
        for env_id in [i for i in gym.registry if i.startswith("roboforge/broken-")]:
            del gym.registry[env_id]


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
