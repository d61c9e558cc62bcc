"""Check a job request against the task registry and the task's configs before it is queued.

Errors become 422 responses whose `loc` names the field (`["body", "overrides", "env.foo"]`).
Overrides go through the same checks as on the command line (`roboforge.utils.overrides`): keys,
value types and finiteness against the task's configs, so a job never starts with a typo, and every
size or rate they set is bounded (`limits.py`), so a job never asks for more than the service allows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError

import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
from roboforge.envs.registry import UnknownTaskError, list_tasks, load_cfg, task_spec
from roboforge.service import limits
from roboforge.service.schemas import JobRequest, TaskInfo
from roboforge.utils.overrides import OverrideError, apply_checked, split_scopes


def invalid(loc: tuple[str | int, ...], msg: str, value: Any = None) -> RequestValidationError:
    """A 422 error for the request field at `loc`."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


@dataclass
class ResolvedJob:
    """A checked request with the defaults it leaves to the task filled in."""

    task: str
    num_envs: int
    default_iterations: int | None


def validate_job(req: JobRequest) -> ResolvedJob:
    """Raise RequestValidationError (422) for an unknown task, device or override; else the resolved job."""
    try:
        task_spec(req.task)
    except UnknownTaskError as err:
        message = str(err).replace("Run `roboforge list` for all tasks.", "GET /tasks lists them.")
        raise invalid(("body", "task"), message, req.task) from err
    if req.device and req.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise invalid(("body", "device"), "CUDA is not available on this server; use 'cpu'.", req.device)
    env_cfg = load_cfg(req.task, "env_cfg_entry_point", play=False)
    agent_cfg = load_cfg(req.task, "rsl_rl_cfg_entry_point")
    scene = getattr(env_cfg, "scene", None)
    num_envs = req.num_envs if req.num_envs is not None else _device_default_envs(req)
    if num_envs is not None and scene is not None:
        scene.num_envs = num_envs
    try:
        limits.check_payload(req.overrides)
        env_o, agent_o = split_scopes(req.overrides)
        apply_each(env_cfg, "env", env_o)
        apply_each(agent_cfg, "agent", agent_o)
        limits.check_bounds(req.overrides)
        limits.check_resolved(env_cfg, agent_cfg)
    except OverrideError as err:
        loc = ("body", "overrides", err.key) if err.key else ("body", "overrides")
        raise invalid(loc, err.reason, req.overrides.get(err.key)) from err
    num_envs = getattr(scene, "num_envs", None) if scene is not None else None
    return ResolvedJob(
        task=req.task,
        num_envs=int(num_envs if num_envs is not None else (req.num_envs or 0)),
        default_iterations=getattr(agent_cfg, "max_iterations", None),
    )


def _device_default_envs(req: JobRequest) -> int | None:
    """The task's world count for the job's device when the request names none (CPU-sized on a CPU)."""
    import torch

    from roboforge.rl.session import default_num_envs

    device = req.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return default_num_envs(req.task, device.split(":")[0])


def apply_each(cfg: Any, scope: str, overrides: dict[str, Any]) -> None:
    """`apply_checked` with the service's bounds (every failure is an OverrideError naming its key)."""
    apply_checked(cfg, scope, overrides, limits.OVERRIDE_BOUNDS)


@functools.lru_cache(maxsize=1)
def task_infos() -> tuple[TaskInfo, ...]:
    """Registered tasks with their default world count and iterations."""
    infos = []
    for task, description in sorted(list_tasks().items()):
        num_envs = iterations = None
        try:
            scene = getattr(load_cfg(task, "env_cfg_entry_point", play=False), "scene", None)
            num_envs = getattr(scene, "num_envs", None)
            iterations = getattr(load_cfg(task, "rsl_rl_cfg_entry_point"), "max_iterations", None)
        except Exception:  # one broken task config must not break the task list
            pass
        infos.append(
            TaskInfo(
                id=task, description=description, default_num_envs=num_envs, default_num_iterations=iterations
            )
        )
    return tuple(infos)
