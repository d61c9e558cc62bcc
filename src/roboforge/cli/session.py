"""What the training commands share: option checks that need no torch, and building a task's session
with the overrides of the run it continues or evaluates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from roboforge.cli.imports import import_run_modules
from roboforge.cli.run import console, parse_overrides
from roboforge.utils.errors import UserInputError
from roboforge.utils.files import dumps_json
from roboforge.utils.overrides import parse_items


def check_options(
    task: str, device: str | None, sim: str, overrides: list[str] | None, **positive: int | None
) -> None:
    """The checks that need no torch: override syntax, task id, device name, backend, positive counts."""
    import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
    from roboforge.envs.registry import task_spec
    from roboforge.rl.options import check_device_name, check_num_envs, check_positive, check_sim

    parse_overrides(overrides)
    task_spec(task)
    check_device_name(device)
    check_sim(sim)
    for name, value in positive.items():
        check_positive(f"--{name.replace('_', '-')}", value)
    check_num_envs(positive.get("num_envs"))


def check_library_options(task: str, library: str, algorithm: str) -> None:
    """The library checks that need no torch: a known library with `algorithm`, registered for `task`
    by an agent config, and installed (else the pip extra to install)."""
    from roboforge.envs.registry import task_algorithms
    from roboforge.rl.libraries import check_algorithm, check_installed
    from roboforge.rl.libraries.base import no_agent_config_message

    check_algorithm(library, algorithm)
    if algorithm not in task_algorithms(task).get(library, []):
        raise UserInputError(no_agent_config_message(task, library, algorithm))
    check_installed(library)


def set_torch_threads(threads: int | None, device: str | None) -> None:
    """torch's intra-op threads: `threads` when given, else 1 for a CPU session. Measured on the 2-core
    machine (cart-pole PPO, 20 iterations): idle 45.6 K env-steps/s with 1 thread against 42.5 K with 2;
    beside one busy process 38.3 K against 16.1 K, as torch's threads spin against the MuJoCo ones."""
    import torch

    cores = os.cpu_count() or 1
    if threads is not None and threads > 4 * cores:
        raise UserInputError(
            f"--threads {threads}: this machine has {cores} cores; give at most {4 * cores}."
        )
    if threads is not None:
        torch.set_num_threads(threads)
    elif device == "cpu" or (device is None and not torch.cuda.is_available()):
        torch.set_num_threads(1)


def open_policy_session(
    task, checkpoint: Path, num_envs, device, sim, seed, overrides, threads=None, play=True, **positive
):
    """Check the options, find the checkpoint (file, run or task folder) and build the task's play
    config (`play`; else its training config) in the env its run was trained in, with the run's library
    (and the task modules it imported); returns (checkpoint file, session, overrides applied)."""
    from roboforge.rl.checkpoints import check_checkpoint_library, checkpoint_library, resolve_checkpoint
    from roboforge.rl.run_dir import saved_library

    import_run_modules(task, lambda: resolve_checkpoint(checkpoint, task).parent)
    check_options(task, device, sim, overrides, num_envs=num_envs, threads=threads, **positive)
    set_torch_threads(threads, device)
    path = resolve_checkpoint(checkpoint, task)
    library, algorithm = saved_library(path.parent) or (checkpoint_library(path) or "rsl_rl", "ppo")
    check_checkpoint_library(path, library)
    s, applied = open_session(
        task, num_envs, device, sim, seed, overrides, play=play, run=path.parent, library=library,
        algorithm=algorithm,
    )  # fmt: skip
    return path, s, applied


def building_status(task: str, num_envs: int | None, device: str | None, sim: str) -> str:
    """The spinner's text while the worlds are built; on MuJoCo Warp it says that the first build compiles."""
    from roboforge.rl.session import resolve_device
    from roboforge.sim.factory import resolve_backend

    text = f"building {task} ({num_envs or 'default'} worlds)"
    if resolve_backend(sim, resolve_device(device)) == "mjwarp":
        text += ": a machine's first run of a task compiles MuJoCo Warp's kernels (minutes on a GPU; cached after)"
    return text + "..."


def open_session(
    task, num_envs, device, sim, seed, overrides=None, play=False, run: Path | None = None,
    library: str = "rsl_rl", algorithm: str = "ppo", agent_file: Path | None = None,
    env_state: dict | None = None, training: bool = False,
):  # fmt: skip
    """Build the task's session with `library`'s `algorithm`. With `run` (the run folder of a checkpoint,
    or the run resumed), its agent config and env overrides apply first (its weights fit, its env is the
    one it was trained in), then `overrides`; `env_state` restores a resumed run's env; `training` checks the
    agent's mini-batches against the world count before the env is built. Returns the session and the
    overrides applied, as dotted keys."""
    from roboforge.rl.libraries import learner_class
    from roboforge.rl.run_dir import saved_agent_overrides, saved_env_overrides
    from roboforge.rl.session import build_session

    env_o, agent_o = parse_overrides(overrides)
    run_env: dict[str, Any] = {}
    if run is not None:
        run_env = {k.removeprefix("env."): v for k, v in saved_env_overrides(run).items()}
        cfg_type = learner_class(library).cfg_types[algorithm]
        agent_o = {**saved_agent_overrides(run, cfg_type), **agent_o}
    env_o = {**run_env, **env_o}
    with console.status(building_status(task, num_envs, device, sim)):
        s = build_session(
            task, num_envs, device, sim, seed, play, env_o, agent_o, library, algorithm, agent_file, env_state,
            training=training,
        )  # fmt: skip
    if run_env:
        shown = " ".join(f"env.{k}={dumps_json(v, None)}" for k, v in run_env.items())
        console.print(f"env overrides of the run: {shown}", highlight=False, markup=False)
    return s, {**{f"env.{k}": v for k, v in env_o.items()}, **parse_items(overrides)}
