"""Helpers of the distributed-training tests: gloo ranks started with torch.multiprocessing, torchrun runs of
`roboforge train`, and stopping every process a test starts, also when it fails."""

from __future__ import annotations

import faulthandler
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import torch
import torch.multiprocessing as mp

from roboforge.rl import distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(
    worker: Callable[..., None], args: tuple, world_size: int = 2, timeout_s: float = 120.0
) -> None:
    """Run `worker(rank, world_size, port, *args)` on `world_size` spawned processes; kills them if they fail
    or take longer than `timeout_s` (a worker's error is re-raised here)."""
    context = mp.start_processes(
        worker, args=(world_size, free_port(), *args), nprocs=world_size, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + timeout_s
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                raise AssertionError(f"the ranks did not finish within {timeout_s:.0f} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()


def join_as_rank(rank: int, world_size: int, port: int, library: str) -> None:
    """Join a gloo job of `world_size` processes on this machine as `rank` (what torchrun's variables say)."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    faulthandler.enable()  # a native crash of a rank prints its Python stack into the test's output
    distributed.join("cpu", library)


def state_tensors(state) -> torch.Tensor:
    """Every tensor of a checkpoint's content (weights, normalizers, optimizer state), flat, in key order."""
    leaves: list[torch.Tensor] = []

    def walk(value) -> None:
        if isinstance(value, torch.Tensor):
            leaves.append(value.detach().flatten().double())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                walk(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(state)
    return torch.cat(leaves)


def checkpoint_tensors(learner) -> torch.Tensor:
    """`state_tensors` of the checkpoint `learner.save` writes."""
    buffer = io.BytesIO()
    learner.save(buffer)
    buffer.seek(0)
    return state_tensors(torch.load(buffer, weights_only=False))


def same_on_every_rank(value: torch.Tensor) -> bool:
    world_size = torch.distributed.get_world_size()
    gathered = [torch.zeros_like(value) for _ in range(world_size)]
    torch.distributed.all_gather(gathered, value)
    return all(torch.equal(gathered[0], g) for g in gathered)


def training_rank(
    rank: int, world_size: int, port: int, library: str, agent_overrides: dict, iterations: int, out_dir: str
) -> None:
    """One rank: join the job, build cart-pole with `library`, and after each iteration compare its checkpoint
    (weights, normalizers, optimizer state) and learning rate with the other ranks'; leave the job; writes
    rank<r>.json."""
    from roboforge.rl.session import build_session

    join_as_rank(rank, world_size, port, library)
    group = weakref.ref(torch.distributed.group.WORLD)
    finished = False
    try:
        torch.manual_seed(1000 + rank)  # different initial weights: the broadcast must make them equal
        session = build_session(
            "cartpole", num_envs=32, device="cpu", library=library, agent_overrides=agent_overrides
        )
        learner = session.learner
        first_obs = session.env.obs_buf["policy"].clone()
        report: dict = {"same_checkpoint": [], "same_learning_rate": []}
        for _ in range(iterations):
            losses = learner.iterate()
            report["same_checkpoint"].append(same_on_every_rank(checkpoint_tensors(learner)))
            rate = torch.tensor([losses["Loss/learning_rate"]], dtype=torch.float64)
            report["same_learning_rate"].append(same_on_every_rank(rate))
        report["same_first_obs"] = same_on_every_rank(first_obs)
        finished = True
    finally:
        distributed.leave(finished)
    # Its gloo threads end with the group; alive, they would meet the interpreter's exit (a SIGABRT, 1 run in 60).
    report["group_released"] = group() is None
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(report))


def check_ranks_agree(out_dir: Path, iterations: int, world_size: int = 2) -> None:
    """The reports of `training_rank`: the same agent and rate on every rank after every iteration, each rank
    stepping its own worlds."""
    for rank in range(world_size):
        report = json.loads((out_dir / f"rank{rank}.json").read_text())
        assert report["same_checkpoint"] == [True] * iterations, report
        assert report["same_learning_rate"] == [True] * iterations, report
        assert report["same_first_obs"] is False, "each rank must step its own worlds (seed + rank)"
        assert report["group_released"], "the process group outlived distributed.leave"


def torchrun_train(args: list[str], processes: int = 2) -> list[str]:
    """`torchrun --standalone --nproc_per_node=<processes> -m roboforge train cartpole --device cpu
    --distributed <args>`."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
        "-m", "roboforge", "train", "cartpole", "--device", "cpu", "--distributed", *args,
    ]  # fmt: skip


def run_torchrun(args: list[str], cwd: Path | None = None, timeout_s: float = 180.0) -> tuple[int, str, str]:
    """Run `torchrun_train(args)` to its end: (exit code, stdout, stderr); killed if it takes longer."""
    proc = subprocess.Popen(
        torchrun_train(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout_s)
    finally:
        stop_group(proc)
    return proc.returncode, out, err


def torchrun_failure(err: str) -> str:
    """What a failed torchrun's ranks printed last before torchrun's own report (which alone is 2000
    characters and hides the cause, e.g. the message of a rank that aborted), then the report's end."""
    report = err.find("torch/distributed/elastic/multiprocessing/api.py")
    ranks = err[: err.rfind("\n", 0, report)] if report > 0 else err
    return f"{ranks[-3000:]}\n[torchrun's report, end]\n{err[-800:]}"


def start_torchrun(
    run_dir: Path, iterations: int = 500, library: str = "rsl_rl", num_envs: int = 64
) -> subprocess.Popen:
    """torchrun training cart-pole in the background (its own process group: `stop_group` ends it)."""
    cmd = torchrun_train(
        ["--library", library, "--num-envs", str(num_envs), "--max-iterations", str(iterations),
         "--run-dir", str(run_dir), "--quiet"]
    )  # fmt: skip
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def wait_for_iterations(run_dir: Path, count: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        lines = sum(len(p.read_text().splitlines()) for p in run_dir.glob("cartpole/*/metrics.jsonl"))
        if lines >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"training did not reach {count} iterations")


def stop_group(proc: subprocess.Popen) -> None:
    """Kill torchrun and its ranks (its process group) unless they ended."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def sigterm_after_iterations(run_dir: Path, count: int = 3, **train) -> Path:
    """Train under torchrun until `count` iterations are logged, SIGTERM torchrun (it passes the signal to
    every rank) and wait for the job to end; returns the run folder rank 0 wrote."""
    proc = start_torchrun(run_dir, **train)
    try:
        wait_for_iterations(run_dir, count, proc)
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        stop_group(proc)
        assert proc.stdout is not None
        (run_dir / TORCHRUN_OUTPUT).write_text(proc.stdout.read())  # what the ranks said, for a failure
    return next((run_dir / "cartpole").iterdir())


TORCHRUN_OUTPUT = "torchrun.out"
"""Beside the task folder: the output of `sigterm_after_iterations`'s torchrun job."""


def torchrun_output(run: Path) -> str:
    """The last lines of the torchrun job that wrote `run` (runs/<task>/<time>), for an assertion message."""
    path = run.parent.parent / TORCHRUN_OUTPUT
    return path.read_text()[-3000:] if path.is_file() else ""
