"""`--import MODULE`: the user's own task modules, imported before any task lookup.

The processes roboforge starts see the same tasks: `sweep` trials get `--import` (`registry.import_args`), `train --gpus`
re-runs its own command line under torchrun, and the service passes its `--import` to every job. The current
folder is searched like `python -m` does, and put on PYTHONPATH for those processes. A training run records
the modules in `params/args.json` ("imports"), so `eval`, `play`, `export` and `--resume` of the run import
them again without `--import`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from roboforge.utils.errors import UserInputError

RUN_KEY = "imports"
"""The key of `params/args.json` that holds the modules a run was trained with."""


def import_modules(modules: list[str] | None) -> None:
    """Import the `--import` modules; one that cannot be imported is one line naming it and the error."""
    from roboforge.envs.registry import import_task_modules

    if not modules:
        return
    _search_current_folder()
    import_task_modules(modules)


def import_run_modules(task: str, find_run: Callable[[], Path]) -> None:
    """When `task` is not registered, import the modules of the run `find_run()` returns (its folder, looked
    for only then). A run that cannot be found is left to the command's own check, which names it."""
    import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
    from roboforge.envs.registry import TaskModuleError, has_task
    from roboforge.rl.run_dir import saved_args

    if has_task(task):
        return
    try:
        run = find_run()
    except UserInputError:
        return
    recorded = saved_args(run).get(RUN_KEY) or []
    if not isinstance(recorded, list) or not all(isinstance(m, str) for m in recorded):
        raise UserInputError(f"{run}/params/args.json: {RUN_KEY!r} must be a list of module names.")
    try:
        import_modules(recorded)
    except TaskModuleError as err:
        raise TaskModuleError(f"the run {run} imports task modules of its own: {err}") from err


def _search_current_folder() -> None:
    """Find modules in the current folder, here (as `python -m` does) and in the processes started from
    here (PYTHONPATH), whichever folder they run in."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if cwd not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, cwd])
