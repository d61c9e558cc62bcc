"""stable-baselines3 `VecEnv` adapter: numpy observations of the `policy` group, bounded actions, sb3's
time-out infos.

sb3 steps numpy arrays, so every env step copies the observations to the host and the actions back: fine
for the few hundred CPU worlds sb3 is made for, a host sync per step on a GPU. Use it on CPU envs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from roboforge.envs.episodes import StepRecorder

OBS_GROUP = "policy"
"""The observation group sb3's policies (actor and critic alike) see; sb3 has no asymmetric critic."""


class Sb3VecEnvWrapper(VecEnv):
    """A roboforge env as an sb3 `VecEnv` of `env.num_envs` worlds.

    - Observations: the `policy` group, float32 `(num_envs, obs_dim)`.
    - Actions: the action space is `[-clip_actions, clip_actions]` (sb3 needs finite bounds: PPO clips its
      samples to them, SAC squashes into them); actions outside are clipped here too.
    - Dones are `terminated | time_outs`; the env resets done worlds inside its step, so the returned
      observation of a done world is already its next episode's first one.
    - `infos[i]["terminal_observation"]` of a done world is the observation it had *before* this step:
      the env resets inside its step and never shows the final state, so this one-step-old observation
      stands in for it. sb3 uses it only for time-outs (`infos[i]["TimeLimit.truncated"]`), to bootstrap
      the value there (PPO) or as the next state of the stored transition (SAC): V(s_T-1) for V(s_T), a
      far smaller error than the reset observation of another episode.
    - Every step reports the actions sent, the reward and the dones (torch tensors) to `recorder`.
    """

    def __init__(self, env: Any, recorder: StepRecorder | None = None, clip_actions: float = 1.0):
        if not clip_actions > 0:
            raise ValueError(f"clip_actions must be > 0, got {clip_actions}")
        self.env = env
        self.recorder = recorder
        self.clip_actions = float(clip_actions)
        self.device = env.device
        obs_dim = env.obs_dims[OBS_GROUP]
        observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        action_space = gym.spaces.Box(-self.clip_actions, self.clip_actions, (env.num_actions,), np.float32)
        self._actions: torch.Tensor | None = None
        self._obs = self._to_numpy(env.obs_buf[OBS_GROUP])
        super().__init__(env.num_envs, observation_space, action_space)

    # --- observations ---------------------------------------------------------------------------
    @staticmethod
    def _to_numpy(x: torch.Tensor) -> np.ndarray:
        """A float32 host copy (never a view of an env buffer that a later step could overwrite)."""
        return x.detach().to("cpu", torch.float32, copy=True).numpy()

    def current_observations(self) -> np.ndarray:
        """The observations of the env's current state (the last step's or reset's), without resetting."""
        return self._obs

    def reset(self) -> np.ndarray:
        """Reset every world (seeded by the last `seed()` call, if any) and return the first observations."""
        obs, _ = self.env.reset()
        self._obs = self._to_numpy(obs[OBS_GROUP])
        self._reset_seeds()
        self._reset_options()
        return self._obs

    # --- stepping --------------------------------------------------------------------------------
    def step_async(self, actions: np.ndarray) -> None:
        acts = torch.as_tensor(actions, dtype=torch.float32).reshape(self.num_envs, -1).to(self.device)
        self._actions = acts.clamp(-self.clip_actions, self.clip_actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async(actions)")
        actions, self._actions = self._actions, None
        obs, reward, terminated, time_outs, _ = self.env.step(actions)
        dones = terminated | time_outs
        if self.recorder is not None:
            self.recorder.step(actions, reward, dones)
        before = self._obs
        self._obs = self._to_numpy(obs[OBS_GROUP])
        dones_np = dones.cpu().numpy()
        truncated_np = (time_outs & ~terminated).cpu().numpy()
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones_np):
            infos[i] = {"terminal_observation": before[i], "TimeLimit.truncated": bool(truncated_np[i])}
        return self._obs, self._to_numpy(reward), dones_np, infos

    # --- seeding, attributes, methods: one batched env behind every index -------------------------
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Re-seed the env's random numbers now (one generator for all worlds); None does nothing."""
        if seed is not None:
            self.env.seed(seed)
        return [seed] * self.num_envs

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The env's attribute, once per index (all worlds share the batched env)."""
        value = getattr(self.env, attr_name)
        return [value] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the batched env; only for all worlds at once."""
        self._require_all(indices, f"set_attr({attr_name!r})")
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
    ) -> list[Any]:
        """Call a method of the batched env once (only for all worlds at once); its result for each world."""
        self._require_all(indices, f"env_method({method_name!r})")
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result] * self.num_envs

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        wrapped = is_wrapped(self.env, wrapper_class)
        return [wrapped] * len(list(self._get_indices(indices)))

    def _require_all(self, indices: VecEnvIndices, what: str) -> None:
        if sorted(self._get_indices(indices)) != list(range(self.num_envs)):
            raise ValueError(
                f"{what}: the worlds share one batched env; it applies to all of them (indices=None)."
            )
