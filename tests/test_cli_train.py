"""`roboforge train`: run folders, overrides, bad input, resume, SIGTERM."""

# ruff: noqa: F811  (`cli_run` is a pytest fixture imported from cli_util)
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cli_util import ENV, cli_run, flat, invoke, runner  # noqa: F401  (cli_run is a fixture)
from roboforge.rl.checkpoints import read_torch_checkpoint
from roboforge.rl.metrics import read_metrics


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
    assert read_torch_checkpoint(cli_run / "model_2.pt")["iter"] == 2
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
    assert "from iteration 3 with its step count" in flat(result.output)
    assert "terrain" not in result.output  # cart-pole has no terrain levels to continue from
    assert (run / "model_4.pt").is_file()
    assert read_torch_checkpoint(run / "model_4.pt")["iter"] == 4
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


def test_summary_of_a_run_without_ended_episodes_is_in_words():
    """Was 'done: 1 iterations, ..., mean episode length n/a/1000, mean return n/a (no episode ended)'."""
    from roboforge.cli.train import _summary_line
    from roboforge.rl.trainer import TrainResult

    result = TrainResult(
        run_dir=Path("run"), iterations=1, env_steps=96, wall_s=3.0, env_steps_per_s=32.0,
        mean_episode_length=None, max_episode_length=1000, mean_return=None, checkpoint=Path("run/model_0.pt"),
    )  # fmt: skip
    line = flat(_summary_line(result))
    assert "done:[/] 1 iteration, 32 env-steps/s, no episode ended in the last iteration" in line
    assert "n/a" not in line and "(episodes last up to 1000 steps)" in line


def test_resume_without_runs_is_a_clear_error(tmp_path):
    result = invoke("train", "cartpole", "--resume", "--run-dir", tmp_path, "--device", "cpu")
    assert result.exit_code == 2
    assert "--resume: no run of 'cartpole'" in flat(result.output)


def test_train_stopped_by_sigterm_prints_json_saves_checkpoint_and_exits_130(tmp_path):
    import os
    import signal
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
