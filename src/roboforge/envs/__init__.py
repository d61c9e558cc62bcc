"""RL environments: manager-based and direct, gymnasium registration, library wrappers."""

from roboforge.envs.direct_rl_env import DirectRLEnv
from roboforge.envs.env_cfg import BaseEnvCfg, DirectRLEnvCfg, ManagerBasedRLEnvCfg
from roboforge.envs.manager_based_rl_env import ManagerBasedRLEnv
from roboforge.envs.registry import UnknownTaskError, list_tasks, load_cfg, make_env, register_task

__all__ = [
    "BaseEnvCfg",
    "DirectRLEnv",
    "DirectRLEnvCfg",
    "ManagerBasedRLEnv",
    "ManagerBasedRLEnvCfg",
    "UnknownTaskError",
    "list_tasks",
    "load_cfg",
    "make_env",
    "register_task",
]
