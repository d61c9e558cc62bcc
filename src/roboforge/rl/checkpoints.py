"""Checkpoints: rsl_rl-compatible dicts written atomically as `model_<iteration>.pt`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

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
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise ValueError(
            f"Checkpoint {path} cannot be read ({err}); it may be truncated or not a roboforge file."
        ) from err
    if "actor_state_dict" not in state:
        raise ValueError(f"Checkpoint {path} has no actor weights; is it an rsl_rl/roboforge checkpoint?")
    return state


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The `model_<n>.pt` with the largest n in `run_dir`, or None."""
    found = [
        (int(m.group(1)), p) for p in Path(run_dir).glob("model_*.pt") if (m := _MODEL_RE.search(p.name))
    ]
    return max(found)[1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or the latest checkpoint inside a run folder."""
    path = Path(path)
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"No model_*.pt checkpoint in {path}.")
        return latest
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    return path
