"""Build a task's env and one RL library's learner on it from the command-line options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
from roboforge.envs.episodes import StepRecorder
from roboforge.envs.registry import load_cfg, make_env, task_algorithms, task_spec
from roboforge.rl import distributed
from roboforge.rl.libraries import DEFAULT_LIBRARY, check_algorithm, learner_class
from roboforge.rl.libraries.base import Learner, no_agent_config_message
from roboforge.rl.options import check_device_name, check_seed
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import apply_checked


@dataclass
class Session:
    """A task ready to train or run: the env, the library's learner on it and the configs."""

    task: str
    env: Any
    env_cfg: Any
    agent_cfg: Any
    """The typed agent config of `library` and `algorithm` (`RslRlPpoRunnerCfg`, `SkrlPpoCfg` ...)."""
    learner: Learner
    device: str
    library: str = DEFAULT_LIBRARY
    algorithm: str = "ppo"


def resolve_device(device: str | None) -> str:
    """'cuda' when available and not told otherwise, else 'cpu'; a missing CUDA device is an error."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    check_device_name(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError(f"Device {device!r} requested but CUDA is not available here. Use --device cpu.")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise UserInputError(
            f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s), cuda:0..."
        )
    return device


def default_num_envs(task: str, device: str) -> int | None:
    """The task's world count for `device`: its CPU default on a CPU (None: the config's own default)."""
    if device != "cpu":
        return None
    return task_spec(task).kwargs.get("cpu_num_envs")


def build_session(
    task: str,
    num_envs: int | None = None,
    device: str | None = None,
    sim: str = "auto",
    seed: int | None = None,
    play: bool = False,
    env_overrides: dict[str, Any] | None = None,
    agent_overrides: dict[str, Any] | None = None,
    library: str = DEFAULT_LIBRARY,
    algorithm: str = "ppo",
    agent_file: Path | None = None,
    env_state: dict | None = None,
    training: bool = False,
) -> Session:
    """Load the task's configs (the agent config from `agent_file` when given, in the library's format),
    apply options and overrides, build the env (restored to `env_state`, a resumed run's
    `env.training_state()`) and the library's learner. `training`: the agent's mini-batches are checked against
    the world count first (`Learner.check_cfg`), before the env is built."""
    check_algorithm(library, algorithm)
    if algorithm not in task_algorithms(task).get(library, []):
        raise UserInputError(no_agent_config_message(task, library, algorithm))
    device = resolve_device(device)
    env_cfg = load_cfg(task, "env_cfg_entry_point", play=play)
    learner_cls = learner_class(library)
    if agent_file is not None:
        agent_cfg = learner_cls.cfg_from_file(Path(agent_file), algorithm)
    else:
        agent_cfg = learner_cls.load_cfg(task, algorithm)
    if num_envs is not None and num_envs < 1:
        raise UserInputError(f"--num-envs must be >= 1, got {num_envs}.")
    if num_envs is None and not play:  # play configs have their own small world count
        num_envs = default_num_envs(task, device)
    if num_envs is not None:
        env_cfg.scene.num_envs = num_envs
    env_cfg.sim.device = device
    env_cfg.sim.backend = sim
    check_seed("--seed", seed)
    if seed is not None:
        env_cfg.seed = seed
    apply_checked(env_cfg, "env", env_overrides or {})
    if "seed" in (env_overrides or {}):
        check_seed("-o env.seed", env_cfg.seed)
    env_cfg.seed += distributed.current().rank  # each rank of a distributed run steps different worlds
    apply_checked(agent_cfg, "agent", agent_overrides or {})
    if training:
        learner_cls.check_cfg(agent_cfg, algorithm, env_cfg.scene.num_envs)
    env = make_env(task, env_cfg)
    if env_state is not None:  # before the learner, which reads the env's first observations
        try:
            env.load_training_state(env_state)
        except ValueError as err:
            raise UserInputError(
                f"--resume: the run's terrain curriculum does not fit this env ({err}); resume with the "
                "run's own world count and terrain (leave out --num-envs and terrain overrides)."
            ) from err
    learner = learner_cls(env, agent_cfg, algorithm, StepRecorder(env.num_envs, env.device))
    return Session(task, env, env_cfg, agent_cfg, learner, device, library, algorithm)
