"""rsl_rl 5.x `VecEnv` adapter: TensorDict observations, done = terminated | time_out, time-outs in extras."""

from __future__ import annotations

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from roboforge.envs.base_env import BaseRLEnv


class RslRlVecEnvWrapper(VecEnv):
    """Wraps a roboforge env for rsl_rl's runners and algorithms."""

    def __init__(self, env: BaseRLEnv, clip_actions: float | None = None):
        self.env = env
        self.unwrapped = env
        self.num_envs = env.num_envs
        self.num_actions = env.num_actions  # type: ignore[attr-defined]
        self.device = env.device
        self.max_episode_length = env.max_episode_length
        self.cfg = env.cfg
        self.clip_actions = clip_actions

    @property
    def episode_length_buf(self) -> torch.Tensor:  # type: ignore[override]
        return self.env.episode_length_buf

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.env.episode_length_buf[:] = value

    def _to_tensordict(self, obs: dict[str, torch.Tensor]) -> TensorDict:
        return TensorDict(obs, batch_size=[self.num_envs], device=self.device)

    def get_observations(self) -> TensorDict:
        # A copy: on GPU `obs_buf` is the CUDA graph's static buffer, which the next step overwrites.
        return self._to_tensordict({k: v.clone() for k, v in self.env.obs_buf.items()})  # type: ignore[attr-defined]

    def reset(self) -> tuple[TensorDict, dict]:
        obs, extras = self.env.reset()
        return self._to_tensordict(obs), extras

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        if self.clip_actions is not None:
            actions = actions.clamp(-self.clip_actions, self.clip_actions)
        obs, reward, terminated, time_outs, extras = self.env.step(actions)
        extras["time_outs"] = time_outs
        return self._to_tensordict(obs), reward, terminated | time_outs, extras

    def close(self) -> None:
        self.env.close()
