"""The `roboforge` command line, run in-process with typer's CliRunner."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from roboforge.cli import app, parse_overrides
from roboforge.rl.checkpoints import load_checkpoint
from roboforge.rl.metrics import read_metrics

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def flat(text: str) -> str:
    """Output with line wraps undone (rich wraps long messages)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    """`roboforge train cartpole` for 3 iterations; returns the run folder."""
    root = tmp_path_factory.mktemp("runs")
    result = invoke(
        "train",
        "cartpole",
        "--num-envs",
        64,
        "--max-iterations",
        3,
        "--run-dir",
        root,
        "--device",
        "cpu",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    runs = list((root / "cartpole").iterdir())
    assert len(runs) == 1
    return runs[0]


def test_list_json_includes_cartpole_tasks():
    result = invoke("list", "--json")
    assert result.exit_code == 0
    tasks = json.loads(result.stdout)
    assert "cartpole" in tasks and "cartpole-direct" in tasks
    assert "Balance" in tasks["cartpole"]


def test_list_table():
    result = invoke("list")
    assert result.exit_code == 0
    assert "cartpole-direct" in result.stdout


@pytest.mark.slow
def test_train_writes_configs_metrics_and_checkpoint(cli_run):
    assert (cli_run / "params" / "env.json").is_file()
    env_cfg = json.loads((cli_run / "params" / "env.json").read_text())
    assert env_cfg["scene"]["num_envs"] == 64 and env_cfg["sim"]["device"] == "cpu"
    args = json.loads((cli_run / "params" / "args.json").read_text())
    assert args["task"] == "cartpole" and args["max_iterations"] == 3
    assert json.loads((cli_run / "params" / "agent.json").read_text())["num_steps_per_env"] == 16
    assert [r["iteration"] for r in read_metrics(cli_run)] == [0, 1, 2]
    assert (cli_run / "model_2.pt").is_file()
    assert load_checkpoint(cli_run / "model_2.pt")["iter"] == 2
    summary = json.loads((cli_run / "summary.json").read_text())
    assert summary["iterations"] == 3 and summary["checkpoint"].endswith("model_2.pt")
    assert not list(cli_run.glob("*.tmp")) and not list(cli_run.glob(".*.tmp"))


def test_train_unknown_task_suggests():
    result = invoke("train", "cartpol", "--device", "cpu")
    assert result.exit_code == 2
    out = flat(result.output)
    assert "Did you mean" in out and "cartpole" in out
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_train_bad_override_names_allowed_fields(tmp_path):
    result = invoke(
        "train",
        "cartpole",
        "--num-envs",
        4,
        "--device",
        "cpu",
        "--run-dir",
        tmp_path,
        "--override",
        "env.not_a_field=1",
    )
    assert result.exit_code == 2
    out = flat(result.output)
    assert "'not_a_field'" in out
    for allowed in ("decimation", "episode_length_s", "scene", "sim", "rewards"):
        assert allowed in out
    assert not (tmp_path / "cartpole").exists(), "no run folder for a config that failed"


def test_override_format_errors():
    result = invoke("train", "cartpole", "--device", "cpu", "--override", "decimation=4")
    assert result.exit_code == 2
    assert "env.<path>=<value>" in flat(result.output)
    assert parse_overrides(
        ["env.decimation=4", "agent.algorithm.learning_rate=1e-4", "env.sim.backend=mjwarp"]
    ) == (
        {"decimation": 4, "sim.backend": "mjwarp"},
        {"algorithm.learning_rate": 1e-4},
    )


@pytest.mark.slow
def test_train_applies_overrides_and_json(tmp_path):
    result = invoke(
        "train",
        "cartpole",
        "--num-envs",
        16,
        "--max-iterations",
        1,
        "--run-dir",
        tmp_path,
        "--device",
        "cpu",
        "--json",
        "-o",
        "env.episode_length_s=2.0",
        "-o",
        "agent.num_steps_per_env=8",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["iterations"] == 1 and data["env_steps"] == 16 * 8
    assert data["max_episode_length"] == 120  # 2 s at 60 Hz
    run = Path(data["run_dir"])
    assert json.loads((run / "params" / "env.json").read_text())["episode_length_s"] == 2.0


def test_train_rejects_bad_numbers(tmp_path):
    result = invoke("train", "cartpole", "--num-envs", 0, "--device", "cpu", "--run-dir", tmp_path)
    assert result.exit_code == 2 and "--num-envs must be >= 1" in flat(result.output)
    result = invoke(
        "train", "cartpole", "--num-envs", 4, "--max-iterations", 0, "--device", "cpu", "--run-dir", tmp_path
    )
    assert result.exit_code == 2 and "--max-iterations must be >= 1" in flat(result.output)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_device_without_cuda_is_a_clear_error():
    result = invoke("train", "cartpole", "--device", "cuda", "--num-envs", 4)
    assert result.exit_code == 2
    assert "CUDA is not available" in flat(result.output)


@pytest.mark.slow
def test_eval_json(cli_run):
    result = invoke(
        "eval",
        "cartpole",
        "--checkpoint",
        cli_run,
        "--episodes",
        16,
        "--num-envs",
        16,
        "--device",
        "cpu",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["task"] == "cartpole" and data["checkpoint"].endswith("model_2.pt")
    assert data["episodes"] >= 16
    assert isinstance(data["mean_return"], float)
    assert 0 < data["mean_episode_length"] <= data["max_episode_length"] == 300
    assert "Episode_Reward/alive" in data["metrics"]


def test_eval_missing_checkpoint(tmp_path):
    result = invoke("eval", "cartpole", "--checkpoint", tmp_path / "model_9.pt", "--device", "cpu")
    assert result.exit_code == 2
    assert "Checkpoint not found" in flat(result.output) and "model_9.pt" in flat(result.output)


def test_eval_and_play_use_the_runs_agent_config(tmp_path):
    """A run trained with -o agent.* network overrides evaluates and plays without repeating them."""
    overrides = ["agent.actor.obs_normalization=true", "agent.critic.obs_normalization=true"]
    overrides += ["agent.actor.hidden_dims=[16]", "agent.critic.hidden_dims=[16]"]
    result = invoke(
        "train", "cartpole", "--num-envs", 8, "--max-iterations", 1, "--run-dir", tmp_path, "--device", "cpu",
        "--quiet", *[a for o in overrides for a in ("-o", o)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "cartpole").iterdir())
    common = ("--checkpoint", run, "--num-envs", 4, "--device", "cpu")
    result = invoke("eval", "cartpole", *common, "--episodes", 4, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["episodes"] >= 4
    assert invoke("play", "cartpole", *common, "--steps", 5).exit_code == 0
    (run / "params" / "agent.json").write_text("{not json")
    result = invoke("eval", "cartpole", *common, "--episodes", 4)
    assert result.exit_code == 2 and "is not a saved agent config" in flat(result.output)
    (run / "params" / "agent.json").unlink()  # the task's default networks do not fit the weights
    result = invoke("eval", "cartpole", *common, "--episodes", 4)
    assert result.exit_code == 2
    assert "does not fit the 'cartpole' networks" in flat(result.output)
    assert "params/agent.json" in flat(result.output)


@pytest.mark.slow
def test_play_runs_checkpoint(cli_run):
    result = invoke(
        "play",
        "cartpole",
        "--checkpoint",
        cli_run / "model_2.pt",
        "--steps",
        20,
        "--num-envs",
        4,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert "played" in result.output and "20 steps" in result.output


@pytest.mark.slow
def test_bench_json():
    result = invoke(
        "bench",
        "cartpole",
        "--num-envs",
        64,
        "--steps",
        10,
        "--train-iterations",
        1,
        "--json",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["env_steps_per_s"] > 0 and data["physics_steps_per_s"] > 0
    assert data["ppo_env_steps_per_s"] is not None and data["ppo_env_steps_per_s"] > 0
    assert data["backend"] == "mujoco" and data["num_envs"] == 64 and data["decimation"] == 2
    assert data["physics_only_env_steps_per_s"] == pytest.approx(data["physics_steps_per_s"] / 2)


def test_json_stdout_stays_clean_on_mjwarp():
    """Warp's build messages must not end up in the JSON on stdout."""
    result = invoke(
        "bench", "cartpole", "--sim", "mjwarp", "--num-envs", 4, "--steps", 2, "--train-iterations", 0,
        "--json", "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["backend"] == "mjwarp" and data["ppo_env_steps_per_s"] is None


@pytest.mark.slow
def test_resume_continues_run(cli_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(cli_run, run)
    result = invoke(
        "train",
        "cartpole",
        "--resume",
        "--run-dir",
        run,
        "--max-iterations",
        5,
        "--num-envs",
        64,
        "--device",
        "cpu",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert "from iteration 3" in flat(result.output)
    assert (run / "model_4.pt").is_file()
    assert load_checkpoint(run / "model_4.pt")["iter"] == 4
    assert [r["iteration"] for r in read_metrics(run)] == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_resume_finds_latest_run_under_root(cli_run, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(cli_run, root / "cartpole" / cli_run.name)
    result = invoke(
        "train",
        "cartpole",
        "--resume",
        "--run-dir",
        root,
        "--max-iterations",
        4,
        "--num-envs",
        16,
        "--device",
        "cpu",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert (root / "cartpole" / cli_run.name / "model_3.pt").is_file()
    assert len(list((root / "cartpole").iterdir())) == 1, "no new run folder when resuming"


def test_resume_without_runs_is_a_clear_error(tmp_path):
    result = invoke("train", "cartpole", "--resume", "--run-dir", tmp_path, "--device", "cpu")
    assert result.exit_code == 2
    assert "--resume: no run of 'cartpole'" in flat(result.output)


def command_names() -> list[str]:
    return [c.name or c.callback.__name__ for c in app.registered_commands]


def test_all_commands_are_there():
    assert {"list", "train", "eval", "play", "bench"} <= set(command_names())


@pytest.mark.parametrize("command", command_names())
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and command in result.output
    assert "--help" in result.output


def test_top_level_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for name in command_names():
        assert name in result.output


def test_train_stopped_by_sigterm_prints_json_saves_checkpoint_and_exits_130(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    cmd = [
        sys.executable,
        "-m",
        "roboforge",
        "train",
        "cartpole",
        "--num-envs",
        "64",
        "--max-iterations",
        "100000",
        "--run-dir",
        str(tmp_path),
        "--device",
        "cpu",
        "--json",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    deadline = time.time() + 120
    while _logged_iterations(tmp_path) < 2:  # wait for two finished iterations
        assert time.time() < deadline and proc.poll() is None, "training did not start"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    result = json.loads(out)
    assert result["interrupted"] is True and result["iterations"] >= 2
    state = torch.load(result["checkpoint"], weights_only=False)
    assert state["iter"] == result["iterations"] - 1


def _logged_iterations(run_root: Path) -> int:
    files = list(run_root.glob("cartpole/*/metrics.jsonl"))
    return files[0].read_text().count("\n") if files else 0


def test_json_output_survives_c_level_writes_to_stdout():
    """MuJoCo Warp's kernel warnings are printf to fd 1; `--json` must still print only the JSON."""
    code = (
        "import os\n"
        "from roboforge import cli\n"
        "def body():\n"
        "    os.write(1, b'solver warning from C\\n')\n"
        "    print('python noise')\n"
        "    return {'ok': 1}\n"
        "cli._run(body, as_json=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == {"ok": 1}
    assert "solver warning from C" in result.stderr and "python noise" in result.stderr
