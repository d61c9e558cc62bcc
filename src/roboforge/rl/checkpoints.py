"""Checkpoints: rsl_rl-compatible dicts written atomically as `model_<iteration>.pt`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from roboforge.utils.errors import NotFoundError, UserInputError
from roboforge.utils.files import atomic_write

_MODEL_RE = re.compile(r"model_(\d+)\.pt$")


def save_checkpoint(run_dir: Path, alg: Any, iteration: int, infos: dict | None = None) -> Path:
    """Write `model_<iteration>.pt` (actor, critic, optimizer, iteration) atomically; returns its path."""
    state = alg.save()
    state["iter"] = iteration
    state["infos"] = infos or {}
    return atomic_write(Path(run_dir) / f"model_{iteration}.pt", lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint; a missing or corrupt file raises FileNotFoundError/ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"Checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise UserInputError(
            f"Checkpoint {path} cannot be read ({err}); it may be truncated or not a roboforge file."
        ) from err
    if "actor_state_dict" not in state:
        raise UserInputError(f"Checkpoint {path} has no actor weights; is it an rsl_rl/roboforge checkpoint?")
    return state


def checkpoint_iteration(path: str | Path) -> int:
    """The iteration in a checkpoint's name (`model_41.pt` -> 41); -1 for other names."""
    m = _MODEL_RE.search(Path(path).name)
    return int(m.group(1)) if m else -1


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The `model_<n>.pt` with the largest n in `run_dir`, or None."""
    found = [
        (int(m.group(1)), p) for p in Path(run_dir).glob("model_*.pt") if (m := _MODEL_RE.search(p.name))
    ]
    return max(found)[1] if found else None


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
        f"No model_*.pt checkpoint in {path} or in the run folders under it; pass a model_<n>.pt file or "
        "a run folder such as runs/<task>/<timestamp>."
    )


def _newest_runs(folder: Path, task: str | None) -> list[Path]:
    """Run folders under a task folder (or under `<folder>/<task>`), newest first."""
    roots = [folder / task, folder] if task and (folder / task).is_dir() else [folder]
    runs = [p for root in roots for p in root.iterdir() if p.is_dir()]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)
