"""A ceiling on the host memory of a command: an allocation past what the machine has free fails with a
MemoryError (which the command line reports as one line) instead of the kernel's OOM killer ending the
process without a word, or the machine swapping to a halt.

Linux overcommits: numpy and torch get address space for any size at once and fill it page by page, so
`--num-envs 100000000` used to run for half a minute, take every byte of a 24 GiB machine, and die from
SIGKILL with nothing printed. The ceiling is an address-space limit (RLIMIT_AS): what the process maps now
plus 90% of the memory available now (`MemAvailable`). It applies on Linux machines without an NVIDIA driver only: CUDA maps far more
address space than it uses, so on a GPU machine the device's own out-of-memory errors have to do.

Commands that start several trainings at once give each its share (`MEMORY_SHARE_ENV` in the child's
environment: `roboforge sweep --parallel N` 1/N of its own, the job service 1/max_concurrent), so N ceilings
together stay under the machine's memory rather than each claiming 90% of it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from roboforge.utils.errors import UserInputError

try:
    import resource
except ImportError:  # Windows: no ceiling
    resource = None

__all__ = ["MEMORY_SHARE_ENV", "ceiling_bytes", "memory_ceiling", "memory_share", "shared_by"]

MEMINFO = Path("/proc/meminfo")
STATUS = Path("/proc/self/status")
NVIDIA_DRIVER = Path("/proc/driver/nvidia")
AVAILABLE_SHARE = 0.9
"""The share of the memory available now that the command may fill: the rest covers what was counted as
available but cannot be reclaimed in time (page cache in use), so the ceiling comes before the OOM killer."""
MEMORY_SHARE_ENV = "ROBOFORGE_MEMORY_SHARE"
"""The part (0 < share <= 1) of the available memory this process may fill, set by a parent that runs it
beside siblings; 1 when unset."""


def memory_share() -> float:
    """This process's part of the available memory (`MEMORY_SHARE_ENV`, default 1)."""
    text = os.environ.get(MEMORY_SHARE_ENV, "").strip()
    if not text:
        return 1.0
    try:
        share = float(text)
    except ValueError:
        share = float("nan")
    if not 0.0 < share <= 1.0:
        raise UserInputError(
            f"{MEMORY_SHARE_ENV}={text!r}: give a number above 0 and at most 1, or unset it."
        )
    return share


def shared_by(count: int) -> dict[str, str]:
    """The environment entry that gives each of `count` processes started side by side an equal part of this
    process's share."""
    return {MEMORY_SHARE_ENV: repr(memory_share() / max(count, 1))}


def _kib_field(path: Path, name: str) -> int | None:
    """A `Name:  123 kB` field of a /proc file in bytes (None when the file or field is missing)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return None


def ceiling_bytes() -> int | None:
    """The address space this process may grow to: what it maps now plus AVAILABLE_SHARE of its `memory_share()`
    of the memory available now; None where no ceiling applies (not Linux, or an NVIDIA driver is loaded). Address space a thread
    reserves without filling it (its stack, a malloc arena) counts against it, a few hundred MB in practice."""
    if resource is None or NVIDIA_DRIVER.exists():
        return None
    mapped, available = _kib_field(STATUS, "VmSize"), _kib_field(MEMINFO, "MemAvailable")
    if mapped is None or available is None:
        return None
    return mapped + int(AVAILABLE_SHARE * memory_share() * available)


@contextlib.contextmanager
def memory_ceiling() -> Iterator[None]:
    """Hold the process's address space under `ceiling_bytes()` while the block runs, then restore the
    limit it had (a tighter limit already set stays)."""
    ceiling = ceiling_bytes()
    if (
        ceiling is None or resource is None
    ):  # (ceiling_bytes is None without `resource`; this says so to pyright)
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    unlimited = resource.RLIM_INFINITY
    if soft != unlimited and soft <= ceiling:
        yield
        return
    if hard != unlimited:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
