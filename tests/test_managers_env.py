"""Managers inside a real cart-pole env with a few worlds."""

from __future__ import annotations

import torch

from conftest import make_task_env, world_mask
from managers_util import RandomTargetCfg
from roboforge.managers import (
    CurriculumTermCfg,
    TermEnv,
)


# --- managers inside a real env -------------------------------------------------------------------------------------
def test_cartpole_reward_equals_weighted_terms_for_running_worlds():
    env = make_task_env("cartpole", num_envs=8)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        _, reward, terminated, time_outs, _ = env.step(torch.rand(8, 1, generator=g) * 2 - 1)
    running = ~(terminated | time_outs)
    assert running.sum() >= 6
    expected = torch.zeros(8)
    for cfg in env.cfg.rewards.values():
        expected += cfg.weight * env.step_dt * cfg.func(env, **cfg.params)
    torch.testing.assert_close(reward[running], expected[running])
    # the episode sums hold the same per-term values summed over the (unreset) episode
    total = sum(env.reward_manager.episode_sums.values())
    assert torch.isfinite(total).all()


def test_cartpole_reset_event_changes_only_masked_worlds():
    env = make_task_env("cartpole", num_envs=6)
    robot = env.scene["robot"]
    for _ in range(3):
        env.step(torch.zeros(6, 1))
    before_pos = robot.data.joint_pos.clone()
    mask = world_mask(True, False, False, True, False, False)
    env.event_manager.apply("reset", mask)
    after_pos = robot.data.joint_pos
    torch.testing.assert_close(after_pos[~mask], before_pos[~mask])
    assert (after_pos[mask] != before_pos[mask]).all()
    assert (after_pos[mask, 0].abs() <= 1.0).all()  # cart position offset range (-1, 1)


def count_resets(env, env_mask: torch.Tensor) -> torch.Tensor:
    """Curriculum term: records the masks it is called with, logs how many worlds were reset in total."""
    env.__dict__.setdefault("curriculum_masks", []).append(env_mask.clone())
    return torch.stack(env.curriculum_masks).sum().float()


def test_curriculum_and_commands_run_on_env_reset_masks():
    from roboforge.envs import load_cfg, make_env

    cfg = load_cfg("cartpole", num_envs=4)
    cfg.curriculum = {"resets": CurriculumTermCfg(func=count_resets)}
    cfg.commands = {"target": RandomTargetCfg(resampling_time_range=(100.0, 100.0))}
    env = make_env("cartpole", cfg)
    term = env.command_manager.terms["target"]
    assert env.curriculum_masks[-1].all(), "the initial reset covers every world"
    resamples = term.resamples.clone()
    env.step(torch.zeros(4, 1))
    assert not env.curriculum_masks[-1].any()
    robot = env.scene["robot"]
    env.sim.qpos[2, int(robot.joint_qpos_adr[0])] = 3.5  # world 2 leaves the rail
    env.step(torch.zeros(4, 1))
    assert env.curriculum_masks[-1].tolist() == [False, False, True, False]
    assert (term.resamples - resamples).tolist() == [0, 0, 1, 0], "only the reset world gets a new command"
    assert env.pop_episode_stats()["Curriculum/resets"] == 5.0  # 4 at start + world 2


def test_env_provides_everything_a_term_may_read():
    env = make_task_env("cartpole", num_envs=2)
    members = [name for name, value in vars(TermEnv).items() if isinstance(value, property)]
    assert {"num_envs", "scene", "sim", "step_dt", "command_manager", "action_manager"} <= set(members)
    missing = [name for name in members if getattr(env, name, None) is None]
    assert not missing, f"ManagerBasedRLEnv lacks TermEnv members {missing}"
