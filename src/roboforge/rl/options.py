"""Checks of command-line options that need no torch, so bad input fails before the heavy imports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from roboforge.utils.config import MAX_NUM_ENVS
from roboforge.utils.errors import UserInputError
from roboforge.utils.files import check_folder

DEVICE_RE = re.compile(r"cpu|cuda(:\d{1,2})?")
"""Device names: cpu, cuda or cuda:N (a GPU index of at most two digits); the job API's `device` too."""
DEVICE_PROBLEM: Final = "must be cpu, cuda or cuda:N (N a GPU index), got {device}"
"""What is wrong with a device name DEVICE_RE does not match (`device`: its repr), in the words of the command
line's --device and the job API's `device` both."""
SIMS = ("auto", "mjwarp", "mujoco")
MAX_SEED = 2**31 - 1
"""Largest seed: numpy (sb3, skrl, the deploy runtime) takes 0..2**32-1, torch at most 2**64-1; a distributed
run adds each rank to it."""


def check_device_name(device: str | None) -> None:
    """Raise UserInputError unless `device` is None, 'cpu', 'cuda' or 'cuda:N'."""
    if device is not None and not DEVICE_RE.fullmatch(device):
        raise UserInputError(f"--device {DEVICE_PROBLEM.format(device=repr(device))}.")


def check_sim(sim: str) -> None:
    """Raise UserInputError unless `sim` names a physics backend."""
    if sim not in SIMS:
        raise UserInputError(f"--sim must be one of {', '.join(SIMS)}, got {sim!r}.")


def check_run_root(run_dir: Path) -> None:
    """Raise UserInputError when `run_dir`, or the nearest part of it that exists, is not a folder."""
    check_folder("--run-dir", run_dir)


def check_seed(name: str, value: int | None) -> None:
    """Raise UserInputError when a seed is given and outside 0..MAX_SEED."""
    if value is not None and not 0 <= value <= MAX_SEED:
        raise UserInputError(f"{name} must be 0 to {MAX_SEED}, got {value}.")


def check_positive(name: str, value: int | None) -> None:
    """Raise UserInputError when an integer option is given and below 1."""
    if value is not None and value < 1:
        raise UserInputError(f"{name} must be >= 1, got {value}.")


def check_num_envs(value: int | None) -> None:
    """Raise UserInputError when `--num-envs` is given and above the most worlds a scene may have."""
    if value is not None and value > MAX_NUM_ENVS:
        raise UserInputError(f"--num-envs must be at most {MAX_NUM_ENVS:,}, got {value:,}.")


def check_not_negative(name: str, value: int, zero: str) -> None:
    """Raise UserInputError when an integer option is below 0 (`zero`: what 0 means)."""
    if value < 0:
        raise UserInputError(f"{name} must be >= 0 ({zero}), got {value}.")
