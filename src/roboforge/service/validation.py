"""Check a job request against the task registry and the task's configs before it is queued.

Errors become 422 responses whose `loc` names the field (`["body", "overrides", "env.foo"]`).
The library and policy type must be ones the task has agent configs of and the server has installed
(`agents.py`). Overrides go through the same checks as on the command line (`roboforge.utils.overrides`):
keys, value types and finiteness against the task's env config and its agent config of that library, so a
job never starts with a typo, and every size or rate they set is bounded (`limits.py`, `agent_limits.py`),
so a job never asks for more than the service allows. `num_gpus` must fit the job's device, library and
the service's executor (`resolve_num_gpus`).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError

import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
from roboforge.envs.registry import UnknownTaskError, list_tasks, load_cfg, task_spec
from roboforge.service import agent_limits, agents, limits
from roboforge.service.config import ServiceCfg
from roboforge.service.schemas import AlgorithmInfo, JobRequest, TaskInfo
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import OverrideError, apply_checked, split_scopes


def invalid(loc: tuple[str | int, ...], msg: str, value: Any = None) -> RequestValidationError:
    """A 422 error for the request field at `loc`."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


@dataclass
class ResolvedJob:
    """A checked request with the defaults it leaves to the task filled in."""

    task: str
    num_envs: int
    library: str
    policy_type: str
    steps_per_iteration: int
    """Env steps per world in one iteration of the job's agent config (for the time estimate)."""
    default_iterations: int | None


def validate_job(req: JobRequest) -> ResolvedJob:
    """Raise RequestValidationError (422) for an unknown task, device, library, policy type or override;
    else the resolved job."""
    check_task(req.task)
    video = limits.video_interval_problem(req.num_iterations, req.video_interval)
    if video is not None:
        raise invalid(("body", "video_interval"), video, req.video_interval)
    if req.device and req.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise invalid(("body", "device"), "CUDA is not available on this server; use 'cpu'.", req.device)
    agent_cfg = load_choice(req.task, req.library, req.policy_type)
    env_cfg = load_cfg(req.task, "env_cfg_entry_point", play=False)
    scene = getattr(env_cfg, "scene", None)
    num_envs = req.num_envs if req.num_envs is not None else _device_default_envs(req)
    if num_envs is not None and scene is not None:
        scene.num_envs = num_envs
    try:
        limits.check_payload(req.overrides)
        env_o, agent_o = split_scopes(req.overrides)
        bounds = limits.bounds_for(req.library)
        apply_checked(env_cfg, "env", env_o, bounds)
        apply_checked(agent_cfg, "agent", agent_o, bounds)
        limits.check_bounds(req.overrides, bounds)
        worlds = int(getattr(scene, "num_envs", None) or num_envs or 1)
        plan = agents.iteration_plan(req.library, req.policy_type, agent_cfg, worlds)
        agents.check_cfg(req.library, req.policy_type, agent_cfg, worlds)
        limits.check_resolved(env_cfg, plan.steps_per_iteration, plan.steps_key)
        agent_limits.check_agent(req.library, agent_cfg, worlds)
    except OverrideError as err:
        key, reason = sent_key(req.overrides, err)
        loc = ("body", "overrides", key) if key else ("body", "overrides")
        raise invalid(loc, reason, req.overrides.get(key)) from err
    return ResolvedJob(
        task=req.task,
        num_envs=worlds,
        library=req.library,
        policy_type=req.policy_type,
        steps_per_iteration=plan.steps_per_iteration,
        default_iterations=plan.max_iterations,
    )


def resolve_num_gpus(req: JobRequest, cfg: ServiceCfg, gpus_here: int | None = None) -> int:
    """The GPUs the job trains on: `num_gpus`, or 1 when its device is cuda or it names none and this server
    has a GPU (what the trainer then picks), else 0. A 422 on `num_gpus` when it is more than the service
    allows (`max_job_gpus`), contradicts the device, asks for data-parallel training (more than 1) of a library
    or algorithm that has none, or asks the local executor for more GPUs than this server has
    (`gpus_here`: default, what torch sees)."""
    loc, n, device = ("body", "num_gpus"), req.num_gpus, req.device
    if gpus_here is None:
        gpus_here = _gpus_here()
    if n is None:
        return 0 if device == "cpu" else 1 if device or gpus_here else 0
    if n > cfg.max_job_gpus:
        raise invalid(loc, f"this service gives a job at most {cfg.max_job_gpus} GPUs (--max-job-gpus).", n)
    if device == "cpu" and n:
        raise invalid(loc, "a job on device 'cpu' uses no GPU; set num_gpus to 0, or device to 'cuda'.", n)
    if device and device.startswith("cuda") and not n:
        raise invalid(
            loc, f"device {device!r} trains on a GPU; set num_gpus to 1 or more, or device 'cpu'.", n
        )
    if n > 1:
        _check_data_parallel(req, n)
    if cfg.executor == "local" and n > gpus_here:
        raise invalid(
            loc,
            f"this server has {gpus_here} GPU{'s' if gpus_here != 1 else ''} and runs jobs itself "
            f"(--executor local); ask for at most {gpus_here}, or serve with --executor ray on a cluster "
            "that has them.",
            n,
        )
    return n


def _check_data_parallel(req: JobRequest, n: int) -> None:
    """422 on `num_gpus` unless `n` GPUs can train the job data-parallel (torchrun, one rank per GPU)."""
    from roboforge.rl.distributed import check_library

    loc = ("body", "num_gpus")
    if req.device and req.device != "cuda":
        raise invalid(
            loc,
            f"{n} GPUs train on cuda:0..{n - 1} of the job's machine; set device to 'cuda' or leave it out.",
            n,
        )
    try:
        check_library(req.library, req.policy_type.lower())
    except UserInputError as err:  # the command line's words: `train --gpus` is what the job would run
        reason = str(err).rstrip(".")
        raise invalid(
            loc, f"{n} GPUs train data-parallel under torchrun ({reason}); ask for num_gpus 1.", n
        ) from err


def _gpus_here() -> int:
    import torch

    return torch.cuda.device_count()


def sent_key(overrides: dict[str, Any], err: OverrideError) -> tuple[str, str]:
    """The override key the request sent that holds the field `err` names (`agent.a.b` of a sent `agent.a`
    object value), and the reason prefixed with the field's path inside it."""
    inside = [k for k in overrides if err.key.startswith(k + ".")]
    if err.key in overrides or not inside:
        return err.key, err.reason
    key = max(inside, key=len)
    return key, f"{err.key[len(key) + 1 :]}: {err.reason}"


def check_task(task: str) -> None:
    """422 on `task` for a task that is not registered (naming the closest ones)."""
    try:
        task_spec(task)
    except UnknownTaskError as err:
        message = str(err).replace("Run `roboforge list` for all tasks.", "GET /tasks lists them.")
        raise invalid(("body", "task"), message, task) from err


def load_choice(task: str, library: str, policy_type: str) -> Any:
    """The task's agent config of `library` and `policy_type`; 422 on `library` or `policy_type` when the
    task lacks it, the library lacks the algorithm or the server lacks the library."""
    try:
        agents.check_choice(task, library, policy_type)
        return agents.load_agent_cfg(task, library, policy_type)
    except agents.ChoiceError as err:
        raise invalid(
            ("body", err.field), str(err), library if err.field == "library" else policy_type
        ) from err


def _device_default_envs(req: JobRequest) -> int | None:
    """The task's world count for the job's device when the request names none (CPU-sized on a CPU)."""
    import torch

    from roboforge.rl.session import default_num_envs

    device = req.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return default_num_envs(req.task, device.split(":")[0])


def task_infos() -> tuple[TaskInfo, ...]:
    """Registered tasks with their default world count, and the iterations of each library's configs
    (read once: it imports every RL library, seconds; `warm_task_infos` starts it with the service)."""
    with _TASK_INFOS_LOCK:
        return _task_infos()


def warm_task_infos() -> threading.Thread:
    """Read the task list in a background thread, so the first GET /tasks need not wait for it."""
    thread = threading.Thread(target=task_infos, name="roboforge-task-list", daemon=True)
    thread.start()
    return thread


_TASK_INFOS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _task_infos() -> tuple[TaskInfo, ...]:
    return tuple(task_info(task, description) for task, description in sorted(list_tasks().items()))


def task_info(task: str, description: str) -> TaskInfo:
    """One task's defaults and libraries (a broken config leaves its defaults null, never the list)."""
    num_envs = default_num_envs(task)
    libraries = {
        library: [
            AlgorithmInfo(
                policy_type=p, default_num_iterations=default_iterations(task, library, p, num_envs)
            )
            for p in types
        ]
        for library, types in agents.policy_types(task).items()
    }
    rsl_rl = libraries.get(agents.DEFAULT_LIBRARY, [])
    return TaskInfo(
        id=task,
        description=description,
        default_num_envs=num_envs,
        default_num_iterations=rsl_rl[0].default_num_iterations if rsl_rl else None,
        libraries=libraries,
    )


def default_num_envs(task: str) -> int | None:
    """The world count of the task's env config; None when it cannot be read."""
    try:
        scene = getattr(load_cfg(task, "env_cfg_entry_point", play=False), "scene", None)
    except Exception:  # one broken task config must not break the task list
        return None
    return getattr(scene, "num_envs", None)


def default_iterations(task: str, library: str, policy_type: str, num_envs: int | None) -> int | None:
    """The iterations the task's agent config of `library` asks for with `num_envs` worlds; None when the
    library is not installed here or its config cannot be read."""
    try:
        cfg = agents.load_agent_cfg(task, library, policy_type)
        return agents.iteration_plan(library, policy_type, cfg, num_envs or 1).max_iterations
    except Exception:  # a library missing here or one broken config must not break the task list
        return None
