"""Data-parallel training with torch.distributed on the CPU (gloo): the same code path as NCCL on GPUs.

Two real processes train cart-pole; the ranks must hold identical parameters after every iteration while
stepping different worlds, rank 0 alone writes the run, and the policy learns. Every process a test
starts is stopped, also when the test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from cli_util import flat, invoke
from distributed_util import (
    check_ranks_agree,
    run_ranks,
    run_torchrun,
    sigterm_after_iterations,
    start_torchrun,
    stop_group,
    torchrun_failure,
    torchrun_output,
    training_rank,
    wait_for_iterations,
)
from roboforge.rl import distributed
from roboforge.utils.errors import UserInputError

ITERATIONS = 3


def test_ranks_hold_identical_parameters_after_every_iteration(tmp_path):
    run_ranks(training_rank, ("rsl_rl", {}, ITERATIONS, str(tmp_path)))
    check_ranks_agree(tmp_path, ITERATIONS)


@pytest.mark.slow
def test_torchrun_trains_cartpole_and_rank0_alone_writes_the_run(tmp_path):
    """`torchrun --nproc_per_node=2 -m roboforge train cartpole --distributed`: it learns, one run folder."""
    # 40 iterations: mean episode length 300 of 300 already (2-core machine, 2026-12-05)
    args = ["--num-envs", "256", "--max-iterations", "40", "-o", "agent.save_interval=25", "--run-dir", str(tmp_path),
            "--json"]  # fmt: skip
    code, out, err = run_torchrun(args, timeout_s=300)
    assert code == 0, torchrun_failure(err)
    summary = json.loads(out)  # rank 0 alone prints a summary
    assert summary["env_steps"] == 40 * 16 * 256 * 2  # iterations x steps x worlds x processes
    assert summary["mean_episode_length"] >= 250, summary
    runs = list((tmp_path / "cartpole").iterdir())
    assert len(runs) == 1
    args = json.loads((runs[0] / "params" / "args.json").read_text())
    assert args["distributed_processes"] == 2
    assert sorted(p.name for p in runs[0].glob("model_*.pt")) == ["model_24.pt", "model_39.pt"]
    result = invoke("eval", "cartpole", "--checkpoint", str(runs[0]), "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mean_episode_length"] >= 250


def test_distributed_outside_torchrun_is_one_line(monkeypatch):
    for name in distributed.TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    result = invoke("train", "cartpole", "--device", "cpu", "--distributed", "--max-iterations", "1")
    assert result.exit_code == 2, result.output
    assert "--distributed runs under torchrun" in flat(result.output)
    assert "Traceback" not in result.output


def test_distributed_needs_a_library_that_supports_it(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    for name, value in (
        ("WORLD_SIZE", "1"),
        ("LOCAL_RANK", "0"),
        ("MASTER_ADDR", "127.0.0.1"),
        ("MASTER_PORT", "1"),
    ):
        monkeypatch.setenv(name, value)
    with pytest.raises(UserInputError, match="--library sb3 runs on one process"):
        distributed.join("cpu", "sb3")
    with pytest.raises(UserInputError, match="skrl SAC runs on one process"):
        distributed.join("cpu", "skrl", "sac")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_gpus_without_a_gpu_is_one_line():
    result = invoke("train", "cartpole", "--gpus", "all", "--max-iterations", "1")
    assert result.exit_code == 2, result.output
    assert "torch sees no GPU" in flat(result.output)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nocartpole", "--gpus", "all"), "nocartpole"),
        (("cartpole", "--gpus", "all", "--library", "sb3"), "--library sb3 runs on one process"),
        (
            ("cartpole", "--gpus", "all", "--library", "skrl", "--algorithm", "sac"),
            "skrl SAC runs on one process",
        ),
        (("cartpole", "--gpus", "all", "--distributed"), "leave out --distributed"),
        (("cartpole", "--gpus", "all", "--device", "cpu"), "leave out --device cpu"),
    ],
)
def test_gpus_checks_the_command_before_starting_torchrun(args, says):
    """Bad input is one line from this process, not one failure per rank under torchrun's traceback."""
    result = invoke("train", *args)
    assert result.exit_code == 2, result.output
    assert says in flat(result.output) and "Traceback" not in result.output


def test_without_option_drops_the_option_and_its_value():
    argv = ["train", "cartpole", "--gpus", "0,1", "--num-envs", "8", "--gpus=all"]
    assert distributed.without_option(argv, "--gpus") == ["train", "cartpole", "--num-envs", "8"]
    command = distributed.torchrun_command(4, ["train", "cartpole"])
    assert command[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert command[-4:] == ["roboforge", "train", "cartpole", "--distributed"]
    assert "--nproc_per_node=4" in command


@pytest.mark.slow
def test_sigterm_stops_every_rank_and_leaves_a_checkpoint(tmp_path):
    from roboforge.rl.checkpoints import latest_checkpoint, read_torch_checkpoint

    run = sigterm_after_iterations(tmp_path)
    checkpoint = latest_checkpoint(run)
    assert checkpoint is not None, torchrun_output(run)
    assert "actor_state_dict" in read_torch_checkpoint(checkpoint, "cpu")
    assert json.loads((run / "summary.json").read_text())["interrupted"] is True


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_job_instead_of_hanging(tmp_path):
    proc = start_torchrun(tmp_path)
    try:
        wait_for_iterations(tmp_path, 3, proc)
        workers = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(workers) == 2, workers
        os.kill(int(workers[-1]), signal.SIGKILL)
        proc.wait(timeout=120)  # torchrun stops the other rank and fails
    finally:
        stop_group(proc)
    assert proc.returncode != 0
    assert proc.stdout is not None and "SIGKILL" in proc.stdout.read()


def test_gpus_map_through_the_gpus_this_process_was_given(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert distributed.visible_devices([0, 1]) == "2,3" and distributed.visible_devices([1]) == "3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-a1, GPU-b2")
    assert distributed.visible_devices([1, 0]) == "GPU-b2,GPU-a1"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert distributed.visible_devices([0, 2]) == "0,2"


def test_sigterm_to_a_gpus_launch_reaches_torchrun_and_its_exit_code_comes_back(tmp_path):
    """`roboforge train --gpus` under a job supervisor: its SIGTERM must stop the ranks (no orphans)."""
    ready, got = tmp_path / "ready", tmp_path / "got"
    child = (
        "import signal, sys, time, pathlib\n"
        f"signal.signal(signal.SIGTERM, lambda *a: (pathlib.Path({str(got)!r}).write_text('TERM'), sys.exit(130)))\n"
        f"pathlib.Path({str(ready)!r}).write_text('1')\n"
        "time.sleep(60)\n"
    )
    launcher = (
        "import sys\n"
        "from roboforge.rl import distributed as d\n"
        "d.gpu_list = lambda gpus: [0]\n"
        f"d.torchrun_command = lambda n, args: [sys.executable, '-c', {child!r}]\n"
        "sys.exit(d.launch('0', []))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", launcher])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the stand-in for torchrun did not start"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
        assert got.read_text() == "TERM"
    finally:
        if proc.poll() is None:
            proc.kill()
