"""`DirectRLEnv`: the task class writes actions, observations, rewards, dones and resets itself."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch

from roboforge.envs.base_env import BaseRLEnv
from roboforge.envs.env_cfg import DirectRLEnvCfg


class DirectRLEnv(BaseRLEnv):
    """Batched RL env whose subclass implements the task in plain torch.

    Subclasses implement `_pre_physics_step(actions)`, `_apply_action()`, `_get_observations()`,
    `_get_rewards()`, `_get_dones() -> (terminated, time_outs)` and `_reset_idx(mask)`.
    Every method works on all worlds at once; resets receive a boolean world mask.
    """

    cfg: DirectRLEnvCfg

    def __init__(self, cfg: DirectRLEnvCfg, render_mode: str | None = None, **kwargs: Any):
        super().__init__(cfg)
        self.render_mode = render_mode
        self.num_actions = cfg.action_dim
        self.obs_dims = dict(cfg.observation_dims)
        self.actions = torch.zeros(self.num_envs, cfg.action_dim, device=self.device)
        self._setup()
        self._reset(self.all_worlds, log=False)
        self.obs_buf = self._get_observations()
        self.action_space = gym.spaces.Box(-float("inf"), float("inf"), (self.num_envs, cfg.action_dim))
        self.observation_space = gym.spaces.Dict(
            {
                g: gym.spaces.Box(-float("inf"), float("inf"), (self.num_envs, d))
                for g, d in self.obs_dims.items()
            }
        )

    # --- to implement ------------------------------------------------------------------------
    def _setup(self) -> None:
        """Resolve entities, joints and buffers (called once before the first reset)."""

    def _pre_physics_step(self, actions: torch.Tensor) -> None:
        raise NotImplementedError

    def _apply_action(self) -> None:
        raise NotImplementedError

    def _get_observations(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _get_rewards(self) -> torch.Tensor:
        raise NotImplementedError

    def _get_dones(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _reset_idx(self, mask: torch.Tensor) -> None:
        raise NotImplementedError

    # --- loop ----------------------------------------------------------------------------------
    def _observe(self) -> dict[str, torch.Tensor]:
        return self._get_observations()

    def _step_impl(
        self, action: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """One env step without host syncs (the body of the CUDA graph on GPU)."""
        self.actions[:] = action
        self._pre_physics_step(self.actions)
        for _ in range(self.cfg.decimation):
            self._apply_action()
            self._physics_substep()
        self.episode_length_buf += 1
        self.step_count += 1
        exploded = self._guard_exploded()
        self.scene.update_sensors(self.step_dt)
        terminated, time_outs = self._get_dones()
        terminated = terminated | exploded
        time_outs = time_outs & ~exploded
        reward = torch.where(exploded, 0.0, self._get_rewards())
        self.reset_buf[:] = terminated | time_outs
        self._reset(self.reset_buf)
        self.obs_buf = self._get_observations()
        return self.obs_buf, reward, terminated, time_outs, {"log": {}}

    def _reset(self, mask: torch.Tensor, log: bool = True) -> None:
        if log:
            self._accumulate({"Episode/length": ((self.episode_length_buf * mask).sum().float(), mask.sum())})
        self._reset_physics(mask)
        self._reset_idx(mask)
        self.episode_length_buf.masked_fill_(mask, 0)
        self.sim.forward(mask)
