"""Task registry on top of gymnasium: ids 'roboforge/<task>', config entry points, 'did you mean'."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym

from roboforge.utils.config import closest, read_yaml
from roboforge.utils.errors import UserInputError

NAMESPACE = "roboforge"
AGENT_FILES = {"skrl": ("ppo", "sac"), "rl_games": ("ppo",), "sb3": ("ppo", "sac")}
"""The YAML agent files a task family may ship per library and algorithm (rsl_rl's are Python)."""


class UnknownTaskError(UserInputError, KeyError):
    """The task id is not registered; the message lists the closest ids."""

    def __str__(self) -> str:
        return str(self.args[0])


def register_task(
    task: str,
    entry_point: str,
    env_cfg_entry_point: str,
    rsl_rl_cfg_entry_point: str,
    agents: dict[str, str] | None = None,
    description: str = "",
    cpu_num_envs: int | None = None,
) -> None:
    """Register `task` with gymnasium as 'roboforge/<task>'. Config entry points are 'module:factory' (a
    config factory) or 'package:file.yaml' (a library's own agent file in that package); `agents` holds
    the other libraries' entry points by key (`agent_entry_key`), e.g. from `agent_files`.

    `cpu_num_envs` is the world count used on a CPU when the user gives none (None: the env config's
    default, which is sized for a GPU). An id another config factory registered is a TaskModuleError: a user
    task must not silently replace a built-in one."""
    env_id = f"{NAMESPACE}/{task}"
    taken = gym.registry.get(env_id)
    if taken is not None and taken.kwargs.get("env_cfg_entry_point") != env_cfg_entry_point:
        raise TaskModuleError(
            f"Task {task!r} is already registered (env config {taken.kwargs.get('env_cfg_entry_point')}); "
            f"give the task of {env_cfg_entry_point} another name."
        )
    gym.register(
        id=env_id,
        entry_point=entry_point,
        disable_env_checker=True,
        kwargs={
            "env_cfg_entry_point": env_cfg_entry_point,
            "rsl_rl_cfg_entry_point": rsl_rl_cfg_entry_point,
            **(agents or {}),
            "description": description,
            "cpu_num_envs": cpu_num_envs,
        },
    )


def agent_entry_key(library: str, algorithm: str = "ppo") -> str:
    """The registry key of a library's agent config, named as Isaac Lab names them:
    `skrl_cfg_entry_point` for PPO, `skrl_sac_cfg_entry_point` for SAC."""
    return f"{library}_cfg_entry_point" if algorithm == "ppo" else f"{library}_{algorithm}_cfg_entry_point"


def agent_files(package: str, variant: str = "", sac: bool = False, sb3: bool = True) -> dict[str, str]:
    """Entry points of the YAML agent files of the libraries in `package`, named
    `<library>_<variant>_<algorithm>_cfg.yaml` (`skrl_ppo_cfg.yaml`, `rl_games_go1_flat_ppo_cfg.yaml`);
    SAC files only with `sac` (continuous-action tasks that learn with it), sb3 files only with `sb3`
    (tasks that train on a CPU: sb3 steps numpy arrays)."""
    stem = f"{variant}_" if variant else ""
    return {
        agent_entry_key(library, algo): f"{package}:{library}_{stem}{algo}_cfg.yaml"
        for library, algorithms in AGENT_FILES.items()
        for algo in algorithms
        if (algo == "ppo" or sac) and (library != "sb3" or sb3)
    }


def task_algorithms(task: str) -> dict[str, list[str]]:
    """The libraries `task` registers agent configs for, with their algorithms (rsl_rl: ppo)."""
    kwargs = task_spec(task).kwargs
    found: dict[str, list[str]] = {"rsl_rl": ["ppo"]}
    for library, algorithms in AGENT_FILES.items():
        have = [a for a in algorithms if kwargs.get(agent_entry_key(library, a))]
        if have:
            found[library] = have
    return found


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
        try:
            entry.load()
        except (Exception, SystemExit) as err:  # SystemExit: a module calling sys.exit() at import
            _plugins_loaded = False  # every later lookup says it again, never lists a partial registry
            package = entry.dist.name if entry.dist is not None else "an installed package"
            raise TaskModuleError(
                f"The task package {entry.value!r} (entry point {entry.name!r} of group {TASK_PLUGIN_GROUP!r} "
                f"in {package}) cannot be imported: {type(err).__name__}: {err}"
            ) from err


class TaskModuleError(UserInputError):
    """A module that registers tasks (`--import`, or an entry point of TASK_PLUGIN_GROUP) cannot be imported."""


_imported: list[str] = []


def import_task_modules(modules: Iterable[str]) -> None:
    """Import `modules`, which register tasks when imported (the command line's `--import`); a module that
    cannot be imported is a TaskModuleError naming it and the import's error."""
    for name in modules:
        if "/" in name or "\\" in name or name.endswith(".py"):
            module = Path(name).stem or Path(name).name
            raise TaskModuleError(
                f"--import {name}: give a module name (e.g. {module}), not a file path; run roboforge from the "
                "module's folder or put that folder on PYTHONPATH."
            )
        try:
            importlib.import_module(name)
        except (Exception, SystemExit) as err:  # SystemExit: a module calling sys.exit() at import
            raise TaskModuleError(
                f"--import {name}: the module cannot be imported ({type(err).__name__}: {err}); check its name "
                "and that its folder is the current one or on PYTHONPATH."
            ) from err
        if name not in _imported:
            _imported.append(name)


def import_args(modules: Iterable[str]) -> list[str]:
    """`--import M` for each module: the options that give a `roboforge` process started by another (a sweep
    trial, a service job) the same tasks."""
    return [arg for module in modules for arg in ("--import", module)]


def imported_task_modules() -> list[str]:
    """The modules `import_task_modules` imported in this process, in order (a run records them)."""
    return list(_imported)


def has_task(task: str) -> bool:
    """Whether `task` (with or without the namespace) is registered."""
    _ensure_tasks_loaded()
    return f"{NAMESPACE}/{task.removeprefix(f'{NAMESPACE}/')}" in gym.registry


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
    """Call the factory registered under `key` for `task` (e.g. the env config factory); for a
    'package:file.yaml' entry, the parsed YAML file (a dict). An entry that does not resolve, and a factory of
    the user's own module that fails or (for the env) returns no env config, are TaskModuleErrors naming both."""
    entry = task_spec(task).kwargs.get(key)
    if entry is None:
        raise UserInputError(f"Task {task!r} has no {key.removesuffix('_entry_point')} config.")
    module, _, attr = entry.partition(":")
    if attr.endswith((".yaml", ".yml")):
        return read_yaml(importlib.resources.files(_entry_module(task, key, entry)) / attr)
    factory = _entry_object(task, key, entry)
    if not callable(factory):
        return factory
    try:
        cfg = factory(**factory_kwargs)
    except UserInputError:
        raise
    except Exception as err:
        if _own_module(module):
            raise  # a bug of roboforge's own tasks: reported as an internal error
        call = f"{entry}({', '.join(f'{k}={v!r}' for k, v in factory_kwargs.items())})"
        raise TaskModuleError(
            f"Task {task!r}: {key} {call} failed ({type(err).__name__}: {err}); fix it in {module} "
            "(--debug shows the traceback)."
        ) from err
    if key == "env_cfg_entry_point":
        from roboforge.envs.env_cfg import BaseEnvCfg

        if not isinstance(cfg, BaseEnvCfg):
            raise TaskModuleError(
                f"Task {task!r}: {key} {entry} returned {type(cfg).__name__}, not an env config; it must return "
                "a ManagerBasedRLEnvCfg or a DirectRLEnvCfg."
            )
    return cfg


def _own_module(module: str) -> bool:
    return module == NAMESPACE or module.startswith(f"{NAMESPACE}.")


def _entry_module(task: str, key: str, entry: str) -> Any:
    """The module of a registered 'module:name' entry point; one that cannot be imported is a TaskModuleError."""
    module, sep, attr = entry.partition(":")
    if not (module and sep and attr):
        raise TaskModuleError(
            f"Task {task!r}: {key} {entry!r} must be 'module:name' (a factory function or a YAML file of the module); "
            "fix it in the module's register_task call."
        )
    try:
        return importlib.import_module(module)
    except Exception as err:
        raise TaskModuleError(
            f"Task {task!r}: {key} {entry!r}: the module {module!r} cannot be imported ({type(err).__name__}: "
            f"{err}); check the name in its register_task call."
        ) from err


def _entry_object(task: str, key: str, entry: str) -> Any:
    """What a registered 'module:name' entry point names; a module without it is a TaskModuleError."""
    module = _entry_module(task, key, entry)
    name = entry.partition(":")[2]
    try:
        return getattr(module, name)
    except AttributeError:
        raise TaskModuleError(
            f"Task {task!r}: {key} {entry!r}: module {module.__name__!r} has no {name!r}; fix the name in its "
            "register_task call."
        ) from None


def make_env(task: str, cfg: Any) -> Any:
    """Build the env of `task` from `cfg` (the unwrapped roboforge env)."""
    spec = task_spec(task)
    if isinstance(spec.entry_point, str):
        env_class = _entry_object(task, "entry_point", spec.entry_point)
        if not callable(env_class):
            raise TaskModuleError(f"Task {task!r}: entry_point {spec.entry_point!r} is not an env class.")
    return gym.make(spec.id, cfg=cfg).unwrapped
