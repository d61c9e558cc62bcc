"""Run folders `runs/<task>/<timestamp>/` holding configs, logs, metrics and checkpoints."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from roboforge.rl.libraries import DEFAULT_LIBRARY
from roboforge.utils.config import dotted_fields, to_dict
from roboforge.utils.errors import UserInputError
from roboforge.utils.files import atomic_write_json

_MODEL_RE = re.compile(r"model_(\d+)\.(pt|pth|zip)$")
"""A checkpoint's file name: `model_<iteration>` and each library's suffix."""


def new_run_dir(root: str | Path, task: str) -> Path:
    """A fresh `root/<task>/<YYYY-mm-dd_HH-MM-SS>` folder (suffixed if it already exists; creating it is the
    claim, so two runs started in the same second never share a folder)."""
    base = Path(root) / task / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    base.parent.mkdir(parents=True, exist_ok=True)
    path, k = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            path, k = base.with_name(f"{base.name}_{k}"), k + 1


def checkpoint_iteration(path: str | Path) -> int:
    """The iteration in a checkpoint's name (`model_41.pt` -> 41); -1 for other names."""
    m = _MODEL_RE.search(Path(path).name)
    return int(m.group(1)) if m else -1


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The `model_<n>.<pt|pth|zip>` with the largest n in `run_dir`, or None."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("model_*") if (m := _MODEL_RE.search(p.name))]
    return max(found)[1] if found else None


def last_trained(run: Path) -> float:
    """When `run` last trained (seconds since the epoch): the time of its metrics.jsonl or newest checkpoint,
    whichever is later; the folder's own time only when it has neither. "The newest run" is the one that
    trained last: eval, play, export and plot write into a run folder, and must not make an old run newest."""
    written = [f for f in (run / "metrics.jsonl", latest_checkpoint(run)) if f is not None and f.is_file()]
    return max(f.stat().st_mtime for f in written) if written else run.stat().st_mtime


def newest_first(runs: Iterable[Path]) -> list[Path]:
    """Run folders ordered by `last_trained`, the run that trained last first."""
    return sorted(runs, key=last_trained, reverse=True)


def latest_run_dir(root: str | Path, task: str) -> Path | None:
    """The newest run folder of `task` under `root` that has a checkpoint, or None."""
    runs = newest_first(
        p for p in (Path(root) / task).glob("*") if p.is_dir() and latest_checkpoint(p) is not None
    )
    return runs[0] if runs else None


def save_configs(run_dir: Path, task: str, env_cfg: Any, agent_cfg: Any, args: dict[str, Any]) -> None:
    """Write the resolved env and agent configs and the command arguments under `params/`."""
    atomic_write_json(run_dir / "params" / "env.json", to_dict(env_cfg))
    atomic_write_json(run_dir / "params" / "agent.json", to_dict(agent_cfg))
    atomic_write_json(run_dir / "params" / "args.json", {"task": task, **args})


def saved_args(run_dir: str | Path) -> dict[str, Any]:
    """The command arguments a run was trained with (`params/args.json`); empty when absent."""
    path = Path(run_dir) / "params" / "args.json"
    if not path.is_file():
        return {}
    try:
        args = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path} is not a saved argument file ({err}); delete it or fix it.") from err
    if not isinstance(args, dict):
        raise UserInputError(f"{path} is not a saved argument file (not a JSON object); delete it or fix it.")
    return args


_PASS_IT = " (params/args.json of its run); pass {} as the task."
"""The end of a message about a run of another task: where it says so, and the fix."""


def check_run_task(run: str | Path, task: str, subject: str) -> None:
    """Raise UserInputError when run folder `run` says (params/args.json) that a task other than `task` trained
    it (`--resume`: the run continues as the task it is). `subject` names what the user gave."""
    trained = _trained_task(run)
    if trained is not None and trained != task:
        raise UserInputError(
            f"{subject} was trained on task {trained!r}, not {task!r}{_PASS_IT.format(trained)}"
        )


def _trained_task(run: str | Path) -> str | None:
    trained = saved_args(run).get("task")
    return trained if isinstance(trained, str) else None


@contextlib.contextmanager
def naming_the_trained_task(checkpoint: Path, task: str) -> Iterator[None]:
    """A checkpoint that fails to load into `task`'s networks says which task trained it, when its run says
    another. One that loads is used: eval, play and export may run a policy on a variant task with the same
    observation and action sizes (a harder terrain, a task of your own)."""
    try:
        yield
    except UserInputError as err:  # the load's own words: the layer that does not fit
        trained = _trained_task(checkpoint.parent)
        if trained is None or trained == task:
            raise
        raise UserInputError(
            f"Checkpoint {checkpoint} was trained on task {trained!r}, not {task!r}, and its networks do not fit "
            f"this task's observations and actions{_PASS_IT.format(trained)}"
        ) from err


def saved_env_overrides(run: str | Path) -> dict[str, Any]:
    """The `env.*` overrides run folder `run` was trained with (`params/args.json`), as dotted keys;
    the world count is left out (eval, play and resume choose their own)."""
    saved = saved_args(run).get("overrides") or {}
    if not isinstance(saved, dict):
        return {}
    return {k: v for k, v in saved.items() if k.startswith("env.") and k != "env.scene.num_envs"}


def saved_library(run: str | Path) -> tuple[str, str] | None:
    """The (library, algorithm) run folder `run` trained with (`params/args.json`); None when it has no
    saved arguments (a checkpoint copied on its own)."""
    args = saved_args(run)
    if not args:
        return None
    return str(args.get("library") or DEFAULT_LIBRARY), str(args.get("algorithm") or "ppo")


def saved_agent_overrides(run: str | Path, cfg_type: type) -> dict[str, Any]:
    """Dotted overrides that turn the task's agent config (a `cfg_type`) into the one run folder `run`
    was trained with (its `params/agent.json`); empty when the run has no saved config."""
    saved = Path(run) / "params" / "agent.json"
    if not saved.is_file():
        return {}
    try:
        data = json.loads(saved.read_text())
        if not isinstance(data, dict):
            raise AttributeError("not a JSON object")
        return dotted_fields(cfg_type, data, known_only=True)
    except (json.JSONDecodeError, AttributeError) as err:
        raise UserInputError(f"{saved} is not a saved agent config ({err}); delete it or fix it.") from err
