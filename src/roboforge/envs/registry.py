"""Task registry on top of gymnasium: ids 'roboforge/<task>', config entry points, 'did you mean'."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

import gymnasium as gym

from roboforge.utils.config import closest
from roboforge.utils.errors import UserInputError

NAMESPACE = "roboforge"
CFG_KEYS = (
    "env_cfg_entry_point",
    "rsl_rl_cfg_entry_point",
    "skrl_cfg_entry_point",
    "rl_games_cfg_entry_point",
)


class UnknownTaskError(UserInputError, KeyError):
    """The task id is not registered; the message lists the closest ids."""

    def __str__(self) -> str:
        return str(self.args[0])


def register_task(
    task: str,
    entry_point: str,
    env_cfg_entry_point: str,
    rsl_rl_cfg_entry_point: str,
    skrl_cfg_entry_point: str | None = None,
    rl_games_cfg_entry_point: str | None = None,
    description: str = "",
    cpu_num_envs: int | None = None,
) -> None:
    """Register `task` with gymnasium as 'roboforge/<task>'; cfg entry points are 'module:factory'.

    `cpu_num_envs` is the world count used on a CPU when the user gives none (None: the env config's
    default, which is sized for a GPU)."""
    gym.register(
        id=f"{NAMESPACE}/{task}",
        entry_point=entry_point,
        disable_env_checker=True,
        kwargs={
            "env_cfg_entry_point": env_cfg_entry_point,
            "rsl_rl_cfg_entry_point": rsl_rl_cfg_entry_point,
            "skrl_cfg_entry_point": skrl_cfg_entry_point,
            "rl_games_cfg_entry_point": rl_games_cfg_entry_point,
            "description": description,
            "cpu_num_envs": cpu_num_envs,
        },
    )


TASK_PLUGIN_GROUP = "roboforge.tasks"
"""Entry-point group of packages that register tasks when loaded (roboforge's own `roboforge.tasks`
included, see pyproject.toml); a package of your own tasks can declare one too."""
_plugins_loaded = False


def _ensure_tasks_loaded() -> None:
    """Load the task packages declared as entry points of TASK_PLUGIN_GROUP, once. (Code that runs from
    a source tree without installing imports `roboforge.tasks` itself, as the rl, service and cli layers do.)"""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in importlib.metadata.entry_points(group=TASK_PLUGIN_GROUP):
        entry.load()


def list_tasks() -> dict[str, str]:
    """Registered task ids (without namespace) and their descriptions."""
    _ensure_tasks_loaded()
    prefix = f"{NAMESPACE}/"
    return {
        spec.id[len(prefix) :]: spec.kwargs.get("description", "")
        for spec in gym.registry.values()
        if spec.id.startswith(prefix)
    }


def task_spec(task: str) -> gym.envs.registration.EnvSpec:
    """The gymnasium spec of `task`; unknown ids raise UnknownTaskError with the closest ids."""
    _ensure_tasks_loaded()
    task = task.removeprefix(f"{NAMESPACE}/")
    env_id = f"{NAMESPACE}/{task}"
    if env_id not in gym.registry:
        tasks = list_tasks()
        hint = closest(task, tasks)
        suggestion = f" Did you mean: {', '.join(hint)}?" if hint else ""
        raise UnknownTaskError(f"Unknown task {task!r}.{suggestion} Run `roboforge list` for all tasks.")
    return gym.registry[env_id]


def load_cfg(task: str, key: str = "env_cfg_entry_point", **factory_kwargs: Any) -> Any:
    """Call the factory registered under `key` for `task` (e.g. the env config factory)."""
    entry = task_spec(task).kwargs.get(key)
    if entry is None:
        raise UserInputError(f"Task {task!r} has no {key.removesuffix('_entry_point')} config.")
    module, _, attr = entry.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    return factory(**factory_kwargs) if callable(factory) else factory


def make_env(task: str, cfg: Any) -> Any:
    """Build the env of `task` from `cfg` (the unwrapped roboforge env)."""
    spec = task_spec(task)
    return gym.make(spec.id, cfg=cfg).unwrapped
