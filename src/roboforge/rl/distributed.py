"""Data-parallel training with torch.distributed: one process per GPU (or per CPU process), started by torchrun.

This module alone handles ranks: `join` starts the process group (NCCL on GPUs, gloo on the CPU, how the
tests run it) before any library is built, and `current()` is what every library adapter reads to switch on
its own multi-GPU mode (`rl/libraries/`: rsl_rl's `multi_gpu` setting, skrl's `config.torch`, rl_games'
`multi_gpu` fields). Each process (rank) steps its own worlds with its own seed (the env seed plus the
global rank) and its own CUDA graphs on `cuda:LOCAL_RANK`; the library broadcasts the parameters at the
start, all-reduces the gradients of every minibatch and the KL of its adaptive learning rate, and the
normalizer statistics are merged over the ranks (`SharedMoments` where the library does not), so every rank
holds the same policy. Rank 0 alone writes the run folder (configs, metrics, checkpoints).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from roboforge.utils.errors import UserInputError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT_S = 600.0
"""A collective that waits longer than this (a rank died or hangs) ends every rank with an error."""
DISTRIBUTED_LIBRARIES = ("rsl_rl", "skrl", "rl_games")
"""Libraries whose PPO trains data-parallel (each in its own multi-GPU mode)."""
DISTRIBUTED_ALGORITHMS = ("ppo",)
"""skrl's SAC is not: its learned entropy coefficient's gradient is not all-reduced (skrl/agents/torch/sac)."""


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


def check_library(library: str, algorithm: str = "ppo") -> None:
    """Only libraries and algorithms wired to torch.distributed train on several processes."""
    if library not in DISTRIBUTED_LIBRARIES:
        raise UserInputError(
            f"--distributed and --gpus train with {', '.join(DISTRIBUTED_LIBRARIES)}; --library {library} "
            "runs on one process."
        )
    if algorithm not in DISTRIBUTED_ALGORITHMS:
        raise UserInputError(
            f"--distributed and --gpus train {'/'.join(a.upper() for a in DISTRIBUTED_ALGORITHMS)}; "
            f"{library} {algorithm.upper()} runs on one process."
        )


def join(device: str | None, library: str, algorithm: str = "ppo") -> str:
    """Join the torchrun job this process was started in; returns this rank's device (`cuda:LOCAL_RANK`,
    or `cpu` with `--device cpu` or without a GPU)."""
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise UserInputError(
            f"--distributed runs under torchrun, which sets {', '.join(missing)}: "
            "torchrun --nproc_per_node=N -m roboforge train TASK --distributed, or roboforge train TASK --gpus all."
        )
    check_library(library, algorithm)
    local_rank = int(os.environ["LOCAL_RANK"])
    on_gpu = device != "cpu" and torch.cuda.is_available()
    if device is not None and device.startswith("cuda") and not on_gpu:
        raise UserInputError(f"--device {device}: torch sees no GPU on this machine; use --device cpu.")
    if on_gpu:
        torch.cuda.set_device(local_rank)
    _import_before_the_group_exists()
    dist.init_process_group("nccl" if on_gpu else "gloo", timeout=timedelta(seconds=TIMEOUT_S))
    return f"cuda:{local_rank}" if on_gpu else "cpu"


def _import_before_the_group_exists() -> None:
    """Import `torch.distributed.nn` (the RL libraries do, through torch) while no process group exists: its
    functions take `group.WORLD` as a default argument when the module is imported, and imported after
    `init_process_group` they would hold the group past `destroy_process_group`. Its gloo worker threads
    then outlive `leave` and meet the interpreter's exit while freeing the last collective's tensors: the
    process ends with SIGABRT ("terminate called without an active exception") after a finished run."""
    import torch.distributed.nn  # noqa: F401


def leave(finished: bool = False) -> None:
    """Leave the job. `finished`: every rank ran the same collectives to the end, so they first meet at a
    barrier and no rank closes its connections while another still completes its last collective (a rank
    that stopped early or failed leaves at once: the others' next collective ends with an error or the
    timeout). The process group, and with it its worker threads, is gone when this returns (see
    `_import_before_the_group_exists`)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    if finished and dist.get_world_size() > 1:
        dist.barrier()
    dist.destroy_process_group()


def from_rank0(value: Any) -> Any:
    """Rank 0's `value` on every rank (e.g. the run folder rank 0 created); unchanged on a single process."""
    if current().world_size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def world_size_hidden() -> Iterator[None]:
    """Hide torchrun's WORLD_SIZE from a library that joins the job by itself when it sees one (skrl does, with
    NCCL, when it is imported); the library's adapter sets the library's rank fields from `current()`."""
    saved = os.environ.pop("WORLD_SIZE", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["WORLD_SIZE"] = saved


def multi_gpu_cfg() -> dict[str, int] | None:
    """rsl_rl's `multi_gpu` setting for this process, None on a single process."""
    rank = current()
    if rank.world_size == 1:
        return None
    return {"global_rank": rank.rank, "local_rank": rank.local_rank, "world_size": rank.world_size}


@dataclass(frozen=True)
class RunningMoments:
    """A running mean/variance normalizer: the module and the names of its buffers (float64 mean and
    variance per feature, a scalar sample count), as its library names them."""

    module: nn.Module
    mean: str
    var: str
    count: str

    def read(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, var, count = (getattr(self.module, name).detach() for name in (self.mean, self.var, self.count))
        return mean.clone(), var.clone(), count.clone()

    @torch.no_grad()
    def write(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> None:
        for name, value in ((self.mean, mean), (self.var, var), (self.count, count)):
            buffer = getattr(self.module, name)
            buffer.copy_(value.to(buffer.dtype))


class SharedMoments:
    """Keeps running mean/variance normalizers the same on every rank, as if one process had seen the samples
    of all ranks: skrl's `RunningStandardScaler` and rl_games' `RunningMeanStd` update from the rank's own
    samples and have no multi-GPU reduction of their own (rsl_rl's normalizer has one). `mark()` before the
    ranks update their normalizers (from identical statistics), `share()` after: one all-reduce of what each
    rank added (sample count, sum and squared sum of deviations from the common mean before; the
    parallel-variance update both libraries use is exactly this sum). Does nothing on a single process."""

    def __init__(self, normalizers: list[RunningMoments]):
        self.normalizers = normalizers if current().world_size > 1 else []
        self.before: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def mark(self) -> None:
        self.before = [n.read() for n in self.normalizers]

    def share(self) -> None:
        if not self.normalizers:
            return
        if len(self.before) != len(self.normalizers):
            raise RuntimeError("SharedMoments.share() without mark()")
        parts = []
        for normalizer, (mean0, var0, count0) in zip(self.normalizers, self.before, strict=True):
            mean, var, count = normalizer.read()
            shift = mean.double() - mean0.double()
            added_sq = count * (var.double() + shift.square()) - count0 * var0.double()
            parts += [(count - count0).double().reshape(1), (count * shift).flatten(), added_sq.flatten()]
        packed = torch.cat(parts)
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)
        offset = 0
        for normalizer, (mean0, var0, count0) in zip(self.normalizers, self.before, strict=True):
            size = mean0.numel()
            added = packed[offset]
            shift_sum = packed[offset + 1 : offset + 1 + size].view_as(mean0)
            sq_sum = packed[offset + 1 + size : offset + 1 + 2 * size].view_as(var0)
            offset += 1 + 2 * size
            count = count0.double() + added
            shift = shift_sum / count
            var = (count0 * var0.double() + sq_sum) / count - shift.square()
            normalizer.write(mean0.double() + shift, var.clamp(min=0.0), count)
        self.before = []


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
    every rank (same process group); a SIGTERM to this process is passed on to torchrun, which passes it to
    the ranks (they checkpoint and stop); torchrun stops the others when one fails."""
    import signal
    import subprocess

    ids = gpu_list(gpus)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": visible_devices(ids)}
    proc = subprocess.Popen(torchrun_command(len(ids), roboforge_args), env=env)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signal.SIGTERM))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # the ranks got the same SIGINT: they checkpoint and stop
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def visible_devices(ids: list[int]) -> str:
    """CUDA_VISIBLE_DEVICES for the torch device indices `ids`: through the CUDA_VISIBLE_DEVICES this process
    was given (a scheduler's GPUs 2,3 are torch's 0,1), else the indices themselves."""
    given = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return ",".join(given[i] if i < len(given) else str(i) for i in ids)


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
