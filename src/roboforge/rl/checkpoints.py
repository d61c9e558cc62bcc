"""Checkpoints `model_<iteration><suffix>` in each library's own format, written atomically; finding them
in run folders and telling which library wrote one."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from roboforge.rl.run_dir import checkpoint_iteration, latest_checkpoint, newest_first
from roboforge.utils.errors import NotFoundError, UserInputError
from roboforge.utils.files import atomic_write


def save_checkpoint(run_dir: Path, learner: Any, iteration: int, suffix: str) -> Path:
    """Write the learner's checkpoint as `model_<iteration><suffix>` atomically; returns its path."""
    return atomic_write(Path(run_dir) / f"model_{iteration}{suffix}", learner.save)


def env_state_path(checkpoint: Path) -> Path:
    """The env state written with checkpoint `model_<n><suffix>`: `env_<n>.pt` beside it."""
    return checkpoint.with_name(f"env_{checkpoint_iteration(checkpoint)}.pt")


def save_env_state(run_dir: Path, env: Any, iteration: int) -> Path:
    """Write the env's training state (`env.training_state()`) as `env_<iteration>.pt` atomically."""
    return atomic_write(Path(run_dir) / f"env_{iteration}.pt", lambda f: torch.save(env.training_state(), f))


def read_env_state(checkpoint: Path) -> dict | None:
    """The env state saved with `checkpoint`, or None when there is none (a run of an older roboforge) or
    it is not one (a crash mid-write leaves no such file: writes are atomic)."""
    path = env_state_path(checkpoint)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None
    return state if isinstance(state, dict) and {"step_count", "terrain"} <= state.keys() else None


def read_torch_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """A torch checkpoint dict; a missing, corrupt or non-dict file raises a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"Checkpoint not found: {path}")
    if zipfile.is_zipfile(path) and _is_sb3_zip(path):
        raise UserInputError(f"{path} is a checkpoint of sb3 (Stable-Baselines3); {_library_hint('sb3')}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise UserInputError(
            f"Checkpoint {path} cannot be read ({str(err).splitlines()[0]}); it may be truncated or not a "
            "roboforge file."
        ) from err
    if not isinstance(state, dict):
        raise UserInputError(f"Checkpoint {path} is not a checkpoint dict ({type(state).__name__}).")
    return state


def checkpoint_library(path: str | Path) -> str | None:
    """Which library wrote checkpoint `path`, from its content: 'rsl_rl', 'skrl', 'rl_games', 'sb3';
    None when it is none of them (or unreadable)."""
    path = Path(path)
    if zipfile.is_zipfile(path) and _is_sb3_zip(path):  # torch.save writes zip files too
        return "sb3"
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:
        return None
    if not isinstance(state, dict):
        return None
    if "actor_state_dict" in state:
        return "rsl_rl"
    if "model" in state and ("epoch" in state or "frame" in state):
        return "rl_games"
    if "policy" in state:
        return "skrl"
    return None


def check_checkpoint_library(path: Path, library: str) -> None:
    """Raise UserInputError when `path` was written by another library than `library`."""
    found = checkpoint_library(path)
    if found is not None and found != library:
        raise UserInputError(
            f"{path} is a checkpoint of {found}, but its run trained with {library} (params/args.json); "
            f"{_library_hint(found)}"
        )


def _library_hint(library: str) -> str:
    return (
        f"evaluate and export it from the {library} run folder it was written in, whose params/args.json "
        f"says library {library}."
    )


def _is_sb3_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "data" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def resolve_checkpoint(path: str | Path, task: str | None = None) -> Path:
    """A checkpoint file; the latest checkpoint of a run folder; or of the newest run in a task folder
    (`runs/cartpole`) or in a runs root holding `<task>/` (`runs`)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise NotFoundError(f"Checkpoint not found: {path}")
    for folder in (path, *_newest_runs(path, task)):
        latest = latest_checkpoint(folder)
        if latest is not None:
            return latest
    raise NotFoundError(
        f"No model_<n> checkpoint in {path} or in the run folders under it; pass a checkpoint file or "
        "a run folder such as runs/<task>/<timestamp>."
    )


def _newest_runs(folder: Path, task: str | None) -> list[Path]:
    """Run folders under a task folder (or under `<folder>/<task>`), newest first."""
    roots = [folder / task, folder] if task and (folder / task).is_dir() else [folder]
    return newest_first(p for root in roots for p in root.iterdir() if p.is_dir())
