"""RL environments: manager-based and direct, gymnasium registration, library wrappers.

Names are imported on first use, so `roboforge.envs.registry` (the task list) loads without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roboforge.utils.lazy import lazy_getattr

if TYPE_CHECKING:
    from roboforge.envs.direct_rl_env import DirectRLEnv
    from roboforge.envs.env_cfg import BaseEnvCfg, DirectRLEnvCfg, ManagerBasedRLEnvCfg
    from roboforge.envs.manager_based_rl_env import ManagerBasedRLEnv
    from roboforge.envs.registry import UnknownTaskError, list_tasks, load_cfg, make_env, register_task

_EXPORTS = {
    "BaseEnvCfg": "roboforge.envs.env_cfg",
    "DirectRLEnv": "roboforge.envs.direct_rl_env",
    "DirectRLEnvCfg": "roboforge.envs.env_cfg",
    "ManagerBasedRLEnv": "roboforge.envs.manager_based_rl_env",
    "ManagerBasedRLEnvCfg": "roboforge.envs.env_cfg",
    "UnknownTaskError": "roboforge.envs.registry",
    "list_tasks": "roboforge.envs.registry",
    "load_cfg": "roboforge.envs.registry",
    "make_env": "roboforge.envs.registry",
    "register_task": "roboforge.envs.registry",
}
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


__getattr__ = lazy_getattr(__name__, _EXPORTS)
