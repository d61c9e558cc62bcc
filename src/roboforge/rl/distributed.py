"""Data-parallel training with torch.distributed: one process per GPU (or per CPU process), started by torchrun.

Each process (rank) steps its own worlds with its own seed (the env seed plus the global rank) and its
own CUDA graphs on `cuda:LOCAL_RANK`; rsl_rl's PPO in its multi-GPU mode broadcasts the parameters at
the start, all-reduces the gradients of every minibatch, the KL-adapted learning rate and the normalizer
statistics, so every rank holds the same policy. Rank 0 alone writes the run folder (configs, metrics,
checkpoints). NCCL on GPUs, gloo on the CPU (how the tests run it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from roboforge.utils.errors import UserInputError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT_S = 600.0
"""A collective that waits longer than this (a rank died or hangs) ends every rank with an error."""
DISTRIBUTED_LIBRARIES = ("rsl_rl",)


@dataclass(frozen=True)
class Rank:
    """This process's place in the job."""

    rank: int = 0
    """Global rank (0 .. world_size - 1): offsets the seed; rank 0 writes the run folder."""
    world_size: int = 1
    local_rank: int = 0
    """Rank on this machine: the GPU index."""

    @property
    def writes(self) -> bool:
        """Whether this process writes the run folder, metrics and checkpoints."""
        return self.rank == 0


def current() -> Rank:
    """This process's rank; a single process when torch.distributed is not initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        return Rank()
    return Rank(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def check_library(library: str) -> None:
    """Only libraries wired to torch.distributed train on several processes."""
    if library not in DISTRIBUTED_LIBRARIES:
        raise UserInputError(
            f"--distributed and --gpus train with {', '.join(DISTRIBUTED_LIBRARIES)}; --library {library} "
            "runs on one process."
        )


def join(device: str | None, library: str) -> str:
    """Join the torchrun job this process was started in; returns this rank's device (`cuda:LOCAL_RANK`,
    or `cpu` with `--device cpu` or without a GPU)."""
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise UserInputError(
            f"--distributed runs under torchrun, which sets {', '.join(missing)}: "
            "torchrun --nproc_per_node=N -m roboforge train TASK --distributed, or roboforge train TASK --gpus all."
        )
    check_library(library)
    local_rank = int(os.environ["LOCAL_RANK"])
    on_gpu = device != "cpu" and torch.cuda.is_available()
    if device is not None and device.startswith("cuda") and not on_gpu:
        raise UserInputError(f"--device {device}: torch sees no GPU on this machine; use --device cpu.")
    if on_gpu:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if on_gpu else "gloo", timeout=timedelta(seconds=TIMEOUT_S))
    return f"cuda:{local_rank}" if on_gpu else "cpu"


def leave() -> None:
    """Leave the job (after training, or on an error)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def from_rank0(value: Any) -> Any:
    """Rank 0's `value` on every rank (e.g. the run folder rank 0 created); unchanged on a single process."""
    if current().world_size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def multi_gpu_cfg() -> dict[str, int] | None:
    """rsl_rl's `multi_gpu` setting for this process, None on a single process."""
    rank = current()
    if rank.world_size == 1:
        return None
    return {"global_rank": rank.rank, "local_rank": rank.local_rank, "world_size": rank.world_size}


def gpu_list(gpus: str) -> list[int]:
    """The GPU indices of `--gpus` ('all' or '0,1,3'), checked against this machine's GPUs."""
    count = torch.cuda.device_count()
    if count == 0:
        raise UserInputError(
            "--gpus: torch sees no GPU on this machine (on a CPU use torchrun ... --distributed)."
        )
    if gpus.strip() == "all":
        return list(range(count))
    try:
        ids = [int(part) for part in gpus.split(",") if part.strip()]
    except ValueError:
        raise UserInputError(f"--gpus {gpus!r}: give 'all' or GPU indices such as 0,1.") from None
    bad = [i for i in ids if not 0 <= i < count]
    if not ids or bad or len(set(ids)) != len(ids):
        raise UserInputError(
            f"--gpus {gpus!r}: this machine has GPUs 0..{count - 1}; give each at most once."
        )
    return ids


def torchrun_command(num_processes: int, roboforge_args: list[str]) -> list[str]:
    """torchrun on this machine (one process per GPU) running `roboforge <args> --distributed`."""
    import sys

    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={num_processes}",
        "-m", "roboforge", *roboforge_args, "--distributed",
    ]  # fmt: skip


def launch(gpus: str, roboforge_args: list[str]) -> int:
    """Run `roboforge <args>` on the GPUs of `--gpus` through torchrun; returns its exit code. Ctrl-C reaches
    every rank (same process group); torchrun stops the others when one fails."""
    import subprocess

    ids = gpu_list(gpus)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in ids)}
    proc = subprocess.Popen(torchrun_command(len(ids), roboforge_args), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:  # the ranks got the same SIGINT: they checkpoint and stop
        return proc.wait()


def without_option(argv: list[str], option: str) -> list[str]:
    """`argv` without `option VALUE` / `option=VALUE`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out
