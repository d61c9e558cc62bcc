"""rl_games `IVecEnv` adapter: observations as `{"obs", "states"}`, bounded actions, time-outs in the infos.

rl_games builds its agent from an env name (`config.env_name`): `register_env` enters the already-built
wrapper in rl_games' `env_configurations` and `vecenv` registries under that name, so `Runner`'s algo
factory creates the agent on it (Isaac Lab registers its env as `rlgpu` the same way).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from rl_games.common import env_configurations, vecenv
from rl_games.common.ivecenv import IVecEnv

from roboforge.envs.base_env import BaseRLEnv
from roboforge.envs.episodes import StepRecorder

VECENV_TYPE = "ROBOFORGE"
"""rl_games' vecenv type of roboforge envs: its factory returns the registered wrapper itself."""


class RlGamesVecEnvWrapper(IVecEnv):
    """Wraps a roboforge env for rl_games' agents.

    `step(actions)` clips the actions to `[-clip_actions, clip_actions]` (the bounds rl_games rescales its
    actions into), steps the env, reports the step to `recorder`, and returns `(obs, reward, dones, infos)`:
    `obs = {"obs": policy group, "states": state groups}` (states only with `state_groups`), `dones =
    terminated | time_outs`, `infos["time_outs"]` for rl_games' value bootstrap of cut episodes. All tensors
    stay on the env's device; nothing syncs with the host."""

    def __init__(
        self,
        env: BaseRLEnv,
        recorder: StepRecorder,
        clip_actions: float,
        clip_observations: float | None = None,
        state_groups: list[str] | None = None,
    ):
        if not clip_actions > 0:
            raise ValueError(f"clip_actions must be a positive bound, got {clip_actions}")
        self.env = env
        self.recorder = recorder
        self.num_envs = env.num_envs
        self.device = env.device
        self.clip_actions = float(clip_actions)
        self.clip_observations = clip_observations
        dims: dict[str, int] = env.obs_dims  # type: ignore[attr-defined]
        if state_groups is None:
            state_groups = ["critic"] if "critic" in dims else []
        self.state_groups = list(state_groups)
        self.obs_dim = dims["policy"]
        self.state_dim = sum(dims[g] for g in self.state_groups)
        self.num_actions: int = env.num_actions  # type: ignore[attr-defined]

    # --- spaces of one world, as rl_games reads them -------------------------------------------
    @property
    def observation_space(self) -> gym.spaces.Box:
        """The policy observations of one world (within the observation clip)."""
        return self._box(self.obs_dim, self.clip_observations)

    @property
    def state_space(self) -> gym.spaces.Box | None:
        """The critic's observations ("states") of one world; None without state groups."""
        return self._box(self.state_dim, self.clip_observations) if self.state_groups else None

    @property
    def action_space(self) -> gym.spaces.Box:
        """`Box(-clip_actions, clip_actions)`: rl_games rescales its clamped actions into these bounds."""
        return gym.spaces.Box(-self.clip_actions, self.clip_actions, (self.num_actions,))

    def get_env_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "observation_space": self.observation_space,
            "action_space": self.action_space,
            "agents": 1,
            "value_size": 1,
        }
        if self.state_groups:
            info["state_space"] = self.state_space
        return info

    # --- stepping ------------------------------------------------------------------------------
    def observations(self) -> dict[str, torch.Tensor]:
        """The current observations without a reset (a copy: on GPU `obs_buf` is the CUDA graph's buffer)."""
        return self._rl_games_obs({k: v.clone() for k, v in self.env.obs_buf.items()})  # type: ignore[attr-defined]

    def reset(self) -> dict[str, torch.Tensor]:
        obs, _ = self.env.reset()
        return self._rl_games_obs({k: v.clone() for k, v in obs.items()})

    def step(
        self, actions: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict[str, Any]]:
        actions = actions.clamp(-self.clip_actions, self.clip_actions)
        obs, reward, terminated, time_outs, extras = self.env.step(actions)
        dones = terminated | time_outs
        self.recorder.step(actions, reward, dones)
        extras["time_outs"] = time_outs
        return self._rl_games_obs(obs), reward, dones, extras

    def seed(self, seed: int) -> None:
        self.env.seed(seed)

    def close(self) -> None:
        self.env.close()

    # --- helpers -------------------------------------------------------------------------------
    def _rl_games_obs(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {"obs": self._clip(obs["policy"])}
        if self.state_groups:
            states = [obs[g] for g in self.state_groups]
            out["states"] = self._clip(states[0] if len(states) == 1 else torch.cat(states, dim=-1))
        return out

    def _clip(self, x: torch.Tensor) -> torch.Tensor:
        c = self.clip_observations
        return x if c is None else x.clamp(-c, c)

    @staticmethod
    def _box(dim: int, clip: float | None) -> gym.spaces.Box:
        bound = float("inf") if clip is None else float(clip)
        return gym.spaces.Box(-bound, bound, (dim,))


def register_env(wrapper: RlGamesVecEnvWrapper, env_name: str) -> None:
    """Make `env_name` in an rl_games config create the agent on `wrapper` (replacing an earlier one)."""
    vecenv.register(VECENV_TYPE, _registered_wrapper)
    env_configurations.register(env_name, {"vecenv_type": VECENV_TYPE, "env_creator": lambda **_: wrapper})


def _registered_wrapper(config_name: str, num_actors: int, **kwargs: Any) -> RlGamesVecEnvWrapper:
    """rl_games' vecenv factory for VECENV_TYPE: the wrapper registered under `config_name`."""
    wrapper = env_configurations.configurations[config_name]["env_creator"](**kwargs)
    if wrapper.num_envs != num_actors:
        raise ValueError(
            f"rl_games asks for {num_actors} actors; the env {config_name!r} has {wrapper.num_envs}"
        )
    return wrapper
