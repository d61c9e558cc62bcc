"""Data-parallel training with torch.distributed on the CPU (gloo): the same code path as NCCL on GPUs.

Two real processes train cart-pole; the ranks must hold identical parameters after every iteration while
stepping different worlds, rank 0 alone writes the run, and the policy learns. Every process a test
starts is stopped, also when the test fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from cli_util import flat, invoke
from roboforge.rl import distributed
from roboforge.utils.errors import UserInputError

ITERATIONS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One rank: join the job, build cart-pole, and after each iteration compare its weights with the others'."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from roboforge.rl.session import build_session

    distributed.join("cpu", "rsl_rl")
    try:
        torch.manual_seed(1000 + rank)  # different initial weights: the broadcast must make them equal
        session = build_session("cartpole", num_envs=32, device="cpu")
        learner = session.learner
        first_obs = session.env.obs_buf["policy"].clone()
        report = {"same_params": [], "same_first_obs": None}
        for _ in range(ITERATIONS):
            learner.iterate()
            params = torch.cat([p.detach().flatten() for p in learner.alg.get_policy().parameters()])
            gathered = [torch.zeros_like(params) for _ in range(world_size)]
            torch.distributed.all_gather(gathered, params)
            report["same_params"].append(all(torch.equal(gathered[0], g) for g in gathered))
        obs = [torch.zeros_like(first_obs) for _ in range(world_size)]
        torch.distributed.all_gather(obs, first_obs)
        report["same_first_obs"] = all(torch.equal(obs[0], o) for o in obs)
        report["learning_rate"] = learner.alg.learning_rate
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump(report, f)
    finally:
        distributed.leave()


def test_ranks_hold_identical_parameters_after_every_iteration(tmp_path):
    context = mp.start_processes(
        _rank_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=False, start_method="spawn"
    )
    try:
        while not context.join(timeout=120):
            pass
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for report in reports:
        assert report["same_params"] == [True] * ITERATIONS
        assert report["same_first_obs"] is False, "each rank must step its own worlds (seed + rank)"
    assert reports[0]["learning_rate"] == reports[1]["learning_rate"]


@pytest.mark.slow
def test_torchrun_trains_cartpole_and_rank0_alone_writes_the_run(tmp_path):
    """`torchrun --nproc_per_node=2 -m roboforge train cartpole --distributed`: it learns, one run folder."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "roboforge", "train", "cartpole", "--device", "cpu", "--distributed", "--num-envs", "256",
        "--max-iterations", "60", "--run-dir", str(tmp_path), "--json",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)  # rank 0 alone prints a summary
    assert summary["env_steps"] == 60 * 16 * 256 * 2  # iterations x steps x worlds x processes
    assert summary["mean_episode_length"] >= 250, summary
    runs = list((tmp_path / "cartpole").iterdir())
    assert len(runs) == 1
    args = json.loads((runs[0] / "params" / "args.json").read_text())
    assert args["distributed_processes"] == 2
    assert sorted(p.name for p in runs[0].glob("model_*.pt")) == ["model_49.pt", "model_59.pt"]
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
    with pytest.raises(UserInputError, match="runs on one process"):
        distributed.join("cpu", "skrl")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_gpus_without_a_gpu_is_one_line():
    result = invoke("train", "cartpole", "--gpus", "all", "--max-iterations", "1")
    assert result.exit_code == 2, result.output
    assert "torch sees no GPU" in flat(result.output)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nocartpole", "--gpus", "all"), "nocartpole"),
        (("cartpole", "--gpus", "all", "--library", "skrl"), "--library skrl runs on one process"),
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


def _start_torchrun(run_dir, iterations: int = 500) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "roboforge", "train", "cartpole", "--device", "cpu", "--distributed", "--num-envs", "64",
        "--max-iterations", str(iterations), "--run-dir", str(run_dir), "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _wait_for_iterations(run_dir, count: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        lines = sum(len(p.read_text().splitlines()) for p in run_dir.glob("cartpole/*/metrics.jsonl"))
        if lines >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"training did not reach {count} iterations")


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_sigterm_stops_every_rank_and_leaves_a_checkpoint(tmp_path):
    from roboforge.rl.checkpoints import latest_checkpoint, read_torch_checkpoint

    proc = _start_torchrun(tmp_path)
    try:
        _wait_for_iterations(tmp_path, 3, proc)
        os.kill(proc.pid, signal.SIGTERM)  # torchrun passes it to every rank
        proc.wait(timeout=60)
    finally:
        _stop_group(proc)
    run = next((tmp_path / "cartpole").iterdir())
    checkpoint = latest_checkpoint(run)
    assert checkpoint is not None
    assert "actor_state_dict" in read_torch_checkpoint(checkpoint, "cpu")
    assert json.loads((run / "summary.json").read_text())["interrupted"] is True


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_job_instead_of_hanging(tmp_path):
    proc = _start_torchrun(tmp_path)
    try:
        _wait_for_iterations(tmp_path, 3, proc)
        workers = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(workers) == 2, workers
        os.kill(int(workers[-1]), signal.SIGKILL)
        proc.wait(timeout=120)  # torchrun stops the other rank and fails
    finally:
        _stop_group(proc)
    assert proc.returncode != 0
    assert proc.stdout is not None and "SIGKILL" in proc.stdout.read()
