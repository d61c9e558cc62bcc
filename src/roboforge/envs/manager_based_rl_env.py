"""`ManagerBasedRLEnv`: an RL env assembled from managers, stepped without host syncs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch

from roboforge.envs.base_env import BaseRLEnv
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    ActionManager,
    CommandManager,
    CurriculumManager,
    EventManager,
    ObservationManager,
    RewardManager,
    TerminationManager,
    per_world_model_fields,
)


class ManagerBasedRLEnv(BaseRLEnv):
    """Batched RL env driven by managers.

    `step(action)`: actions -> decimation x (action terms, actuators, physics) -> NaN guard ->
    terminations -> rewards -> masked reset (curriculum, events 'reset') -> commands -> interval
    events -> observations. Resets use boolean masks, so the step has no host sync.
    """

    cfg: ManagerBasedRLEnvCfg

    def __init__(self, cfg: ManagerBasedRLEnvCfg, render_mode: str | None = None, **kwargs: Any):
        super().__init__(cfg, per_world_fields=per_world_model_fields(cfg.events))
        self.render_mode = render_mode
        # The build order of the managers (see TermEnv): a term's __init__ may use the managers built before.
        self.event_manager = EventManager(cfg.events, self)
        self.command_manager = CommandManager(cfg.commands, self)
        self.action_manager = ActionManager(cfg.actions, self)
        self.termination_manager = TerminationManager(cfg.terminations, self)
        self.reward_manager = RewardManager(cfg.rewards, self)
        self.curriculum_manager = CurriculumManager(cfg.curriculum, self)
        self.observation_manager = ObservationManager(cfg.observations, self)
        self.event_manager.apply("startup")
        self._reset(self.all_worlds, log=False)
        self.obs_buf = self.observation_manager.compute()
        self._stat_sum.clear()
        self._stat_count.clear()
        self.action_space = gym.spaces.Box(-float("inf"), float("inf"), (self.num_envs, self.num_actions))
        self.observation_space = gym.spaces.Dict(
            {
                g: gym.spaces.Box(-float("inf"), float("inf"), (self.num_envs, *shape))
                for g, shape in self.observation_manager.group_shapes.items()
            }
        )

    @property
    def num_actions(self) -> int:
        return self.action_manager.total_action_dim

    @property
    def obs_dims(self) -> dict[str, int]:
        return self.observation_manager.group_dims

    def _observe(self) -> dict[str, torch.Tensor]:
        return self.observation_manager.compute()

    def _step_impl(
        self, action: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """One env step without host syncs (the body of the CUDA graph on GPU)."""
        self.action_manager.process_action(action)
        for _ in range(self.cfg.decimation):
            self.action_manager.apply_action()
            self._physics_substep()
        self.episode_length_buf += 1
        self.step_count += 1
        exploded = self._guard_exploded()
        self.scene.update_sensors(self.step_dt)
        dones = self.termination_manager.compute() | exploded
        terminated = self.termination_manager.terminated | exploded
        time_outs = self.termination_manager.time_outs & ~exploded
        reward = self.reward_manager.compute(self.step_dt, void=exploded)
        self.reset_buf[:] = dones
        self._reset(dones)
        self.command_manager.compute(self.step_dt)
        if self.event_manager.has_mode("interval"):
            self.event_manager.apply("interval", dt=self.step_dt)
        self.obs_buf = self.observation_manager.compute()
        return self.obs_buf, reward, terminated, time_outs, {"log": {}}

    def _reset(self, mask: torch.Tensor, log: bool = True) -> None:
        """Masked reset of the selected worlds: curriculum, physics, events, managers, counters."""
        if log and self.scene.terrain is not None:  # on the level the episode ran on, before the curriculum
            survived = ~self.termination_manager.terminated
            self._accumulate(self.scene.terrain.survival_log(mask & ~self.exploded_buf, survived))
        self.curriculum_manager.compute(mask)
        self._reset_physics(mask)
        self.event_manager.apply("reset", mask)
        reward_log = self.reward_manager.reset(mask)
        term_log = self.termination_manager.reset(mask, void=self.exploded_buf)
        if log:
            self._accumulate(reward_log)
            self._accumulate(term_log)
            length = ((self.episode_length_buf * mask).sum().float(), mask.sum())
            self._accumulate({"Episode/length": length})
        self.observation_manager.reset(mask)
        self.action_manager.reset(mask)
        command_log = self.command_manager.reset(mask)
        if log:
            self._accumulate(command_log)
        self.episode_length_buf.masked_fill_(mask, 0)
        self.sim.forward(mask)

    def pop_episode_stats(self) -> dict[str, float]:
        stats = super().pop_episode_stats()
        stats.update({k: float(v) for k, v in self.curriculum_manager.state.items()})
        if self.scene.terrain is not None:
            levels = self.scene.terrain.mean_level_by_kind()
            stats.update({f"Terrain/mean_level/{kind}": level for kind, level in levels.items()})
        return stats
