"""Build a task's env, rsl_rl wrapper and PPO algorithm from the command-line options."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

import torch
from rsl_rl.algorithms import PPO

import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
from roboforge.agents.rsl_rl_cfg import RslRlPpoRunnerCfg
from roboforge.envs.registry import load_cfg, make_env, task_spec
from roboforge.envs.wrappers.rsl_rl import RslRlVecEnvWrapper
from roboforge.rl.options import check_device_name
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import apply_checked


@dataclass
class Session:
    """A task ready to train or run: env, its rsl_rl view, the PPO algorithm and the configs."""

    task: str
    env: Any
    venv: RslRlVecEnvWrapper
    env_cfg: Any
    agent_cfg: RslRlPpoRunnerCfg
    alg: PPO
    device: str


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
) -> Session:
    """Load the task's configs, apply options and overrides, build env and PPO."""
    device = resolve_device(device)
    env_cfg = load_cfg(task, "env_cfg_entry_point", play=play)
    agent_cfg: RslRlPpoRunnerCfg = load_cfg(task, "rsl_rl_cfg_entry_point")
    if num_envs is not None and num_envs < 1:
        raise UserInputError(f"--num-envs must be >= 1, got {num_envs}.")
    if num_envs is None and not play:  # play configs have their own small world count
        num_envs = default_num_envs(task, device)
    if num_envs is not None:
        env_cfg.scene.num_envs = num_envs
    env_cfg.sim.device = device
    env_cfg.sim.backend = sim
    if seed is not None:
        env_cfg.seed = seed
    apply_checked(env_cfg, "env", env_overrides or {})
    apply_checked(agent_cfg, "agent", agent_overrides or {})
    env = make_env(task, env_cfg)
    venv = RslRlVecEnvWrapper(env, clip_actions=agent_cfg.clip_actions)
    train_cfg = agent_cfg.to_rsl_rl()
    with contextlib.redirect_stdout(io.StringIO()):  # rsl_rl prints the models; keep stdout clean for --json
        alg = PPO.construct_algorithm(venv.get_observations(), venv, train_cfg, device)  # type: ignore[arg-type]
    return Session(task, env, venv, env_cfg, agent_cfg, alg, device)
