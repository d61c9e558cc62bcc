"""Reward and termination managers on a small fake env."""

from __future__ import annotations

import torch

from conftest import world_mask
from managers_util import N, fake_env
from roboforge.managers import (
    ManagerTermBase,
    RewardManager,
    RewardTermCfg,
    TerminationManager,
    TerminationTermCfg,
)


# --- rewards ---------------------------------------------------------------------------------------------
def per_world(env, values: list[float]) -> torch.Tensor:
    return torch.tensor(values)


def never_called(env) -> torch.Tensor:
    raise AssertionError("a reward term with weight 0 must not be evaluated")


def test_reward_is_weight_times_dt_times_term_and_episode_sums_are_masked():
    env = fake_env()
    cfgs = {
        "a": RewardTermCfg(func=per_world, weight=2.0, params={"values": [1.0, 2.0, 3.0, 4.0]}),
        "b": RewardTermCfg(func=per_world, weight=-0.5, params={"values": [1.0, 1.0, 1.0, 1.0]}),
        "off": RewardTermCfg(func=never_called, weight=0.0),
    }
    mgr = RewardManager(cfgs, env)
    dt = 0.1
    for _ in range(3):
        reward = mgr.compute(dt)
    expected = torch.tensor([2 * 1 - 0.5, 2 * 2 - 0.5, 2 * 3 - 0.5, 2 * 4 - 0.5]) * dt
    torch.testing.assert_close(reward, expected)
    torch.testing.assert_close(mgr.episode_sums["a"], torch.tensor([0.6, 1.2, 1.8, 2.4]))
    assert "off" not in mgr.episode_sums
    log = mgr.reset(world_mask(True, False, True, False))
    total, count = log["Episode_Reward/a"]
    torch.testing.assert_close(total, torch.tensor((0.6 + 1.8) / env.max_episode_length_s))
    assert int(count) == 2
    torch.testing.assert_close(mgr.episode_sums["a"], torch.tensor([0.0, 1.2, 0.0, 2.4]))


# --- terminations --------------------------------------------------------------------------------------
def flags(env, values: list[bool]) -> torch.Tensor:
    return torch.tensor(values)


def test_termination_separates_time_outs_from_failures():
    env = fake_env()
    cfgs = {
        "time_out": TerminationTermCfg(
            func=flags, params={"values": [True, False, True, False]}, time_out=True
        ),
        "fell": TerminationTermCfg(func=flags, params={"values": [False, False, True, True]}),
    }
    mgr = TerminationManager(cfgs, env)
    dones = mgr.compute()
    assert dones.tolist() == [True, False, True, True]
    assert mgr.time_outs.tolist() == [True, False, True, False]
    assert mgr.terminated.tolist() == [False, False, True, True]
    log = mgr.reset(dones)
    assert float(log["Episode_Termination/fell"][0]) == 2.0
    assert float(log["Episode_Termination/time_out"][0]) == 2.0
    assert int(log["Episode_Termination/fell"][1]) == 3
    assert float(log["Episode/survived"][0]) == 1.0  # world 0 timed out; world 2 also fell
    # a world the NaN guard reset (void) counts neither as survived nor as ended for the fall-free fraction
    mgr.compute()
    log = mgr.reset(dones, void=torch.tensor([True, False, False, False]))
    assert (float(log["Episode/survived"][0]), int(log["Episode/survived"][1])) == (0.0, 2)
    assert int(log["Episode_Termination/fell"][1]) == 3


class RecordResets(ManagerTermBase):
    """A class term that gives 1 everywhere and records the masks it is reset with in `env.reset_masks`."""

    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.reset_masks = env.reset_masks

    def __call__(self, env):
        return torch.ones(env.num_envs)

    def reset(self, env_mask):
        self.reset_masks.append(env_mask.clone())


def test_reward_and_termination_managers_reset_their_class_terms():
    env = fake_env(reset_masks=[])
    rewards = RewardManager({"r": RewardTermCfg(func=RecordResets, weight=1.0)}, env)
    dones = TerminationManager({"t": TerminationTermCfg(func=RecordResets)}, env)
    assert rewards.compute(0.5).tolist() == [0.5] * N and dones.compute().all()
    mask = world_mask(True, False, False, True)
    rewards.reset(mask)
    dones.reset(mask)
    assert len(env.reset_masks) == 2 and all(torch.equal(m, mask) for m in env.reset_masks)
