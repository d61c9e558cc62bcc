"""Check a job request against the task registry and the task's configs before it is queued.

Errors become 422 responses whose `loc` names the field (`["body", "overrides", "env.foo"]`).
Overrides go through roboforge's own config machinery (`apply_overrides` on the task's configs), and
their values are checked against the dataclass field types, so a job never starts with a typo.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError

from roboforge.envs.registry import UnknownTaskError, list_tasks, load_cfg, task_spec
from roboforge.service.schemas import JobRequest, TaskInfo
from roboforge.utils.config import ConfigError, apply_overrides

_MISSING = object()


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
    if req.num_envs is not None and scene is not None:
        scene.num_envs = req.num_envs
    for key, value in req.overrides.items():
        scope, _, path = key.partition(".")
        if scope not in ("env", "agent") or not path:
            raise invalid(("body", "overrides", key), "Use 'env.<path>' or 'agent.<path>' keys.", value)
        _apply_one(env_cfg if scope == "env" else agent_cfg, key, path, value)
    num_envs = getattr(scene, "num_envs", None) if scene is not None else None
    return ResolvedJob(
        task=req.task,
        num_envs=int(num_envs if num_envs is not None else (req.num_envs or 0)),
        default_iterations=getattr(agent_cfg, "max_iterations", None),
    )


def _apply_one(cfg: Any, key: str, path: str, value: Any) -> None:
    hint = _field_hint(cfg, path)
    if hint is not _MISSING and not _matches(hint, value):
        raise invalid(
            ("body", "overrides", key),
            f"Value {value!r} does not fit the field's type {_type_name(hint)}.",
            value,
        )
    try:
        apply_overrides(cfg, {path: value})
    except ConfigError as err:
        raise invalid(("body", "overrides", key), str(err), value) from err


def _field_hint(cfg: Any, path: str) -> Any:
    """The declared type of the dataclass field at `path`, or _MISSING (unknown path, dict entry, no hint)."""
    parts = path.split(".")
    target = cfg
    for part in parts[:-1]:
        target = target.get(part, _MISSING) if isinstance(target, dict) else getattr(target, part, _MISSING)
        if target is _MISSING:
            return _MISSING
    if not dataclasses.is_dataclass(target) or isinstance(target, type):
        return _MISSING
    try:
        return typing.get_type_hints(type(target)).get(parts[-1], _MISSING)
    except Exception:  # unresolvable annotations: apply_overrides still checks the key
        return _MISSING


def _matches(hint: Any, value: Any) -> bool:
    """True if a JSON value fits `hint` (lists stand for tuples; unknown kinds of hints accept)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(a, value) for a in args)
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(hint):
        return False  # set nested fields one by one
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(_matches(a, v) for a, v in zip(args, value, strict=True))
        return not args or all(_matches(args[0], v) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


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
