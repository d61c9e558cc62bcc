"""Reward-weight schedules: graph-safe curriculum terms that change reward weights after N env steps."""

from __future__ import annotations

import pytest
import torch

from roboforge import mdp
from roboforge.envs import load_cfg, make_env
from roboforge.managers import CurriculumTermCfg, RewardTermCfg
from roboforge.utils.config import ConfigError


def cartpole_alive_only(curriculum: dict[str, CurriculumTermCfg]):
    cfg = load_cfg("cartpole", num_envs=4)
    cfg.sim.backend = "mujoco"
    cfg.rewards = {"alive": RewardTermCfg(func=mdp.is_alive, weight=1.0)}
    cfg.curriculum = curriculum
    return make_env("cartpole", cfg)


def test_reward_weight_changes_after_num_steps():
    schedule = {"term_name": "alive", "weight": 3.0, "num_steps": 3}
    env = cartpole_alive_only(
        {"alive_weight": CurriculumTermCfg(func=mdp.modify_reward_weight, params=schedule)}
    )
    env.reset()
    actions = torch.zeros(env.num_envs, env.num_actions)
    rewards = [env.step(actions)[1][0].item() for _ in range(5)]
    dt = env.step_dt
    # the curriculum runs in the reset phase of a step, after that step's reward
    assert rewards == pytest.approx([dt, dt, dt, 3 * dt, 3 * dt])
    assert env.pop_episode_stats()["Curriculum/alive_weight"] == 3.0


def test_reward_weight_schedule_names_unknown_terms():
    schedule = {"term_name": "alive_bonus", "weight": 3.0, "num_steps": 3}
    with pytest.raises(ConfigError, match=r"No reward term 'alive_bonus'.*Terms: alive"):
        cartpole_alive_only({"w": CurriculumTermCfg(func=mdp.modify_reward_weight, params=schedule)})


def test_reward_weights_after_schedules_each_term():
    env = cartpole_alive_only(mdp.reward_weights_after(2, {"alive": -0.5}))
    env.reset()
    actions = torch.zeros(env.num_envs, env.num_actions)
    rewards = [env.step(actions)[1][0].item() / env.step_dt for _ in range(4)]
    assert rewards == pytest.approx([1.0, 1.0, -0.5, -0.5])


def test_reward_weight_takes_a_later_weight_after_later_steps():
    schedule = {"term_name": "alive", "weight": 3.0, "num_steps": 2, "later_weight": -1.0, "later_steps": 4}
    env = cartpole_alive_only({"w": CurriculumTermCfg(func=mdp.modify_reward_weight, params=schedule)})
    env.reset()
    actions = torch.zeros(env.num_envs, env.num_actions)
    rewards = [env.step(actions)[1][0].item() / env.step_dt for _ in range(6)]
    assert rewards == pytest.approx([1.0, 1.0, 3.0, 3.0, -1.0, -1.0])


def test_a_later_stage_before_the_first_is_one_clear_error():
    schedule = {"term_name": "alive", "weight": 3.0, "num_steps": 5, "later_weight": -1.0, "later_steps": 4}
    with pytest.raises(ConfigError, match="later_steps 4 must not be below num_steps 5"):
        env = cartpole_alive_only({"w": CurriculumTermCfg(func=mdp.modify_reward_weight, params=schedule)})
        env.reset()
        env.step(torch.zeros(env.num_envs, env.num_actions))
