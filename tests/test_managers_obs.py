"""Observation manager on a small fake env: noise, clip, scale, history, class terms."""

from __future__ import annotations

import pytest
import torch

from conftest import world_mask
from managers_util import CountingObs, N, fake_env, scaled_value_obs, value_obs
from roboforge.managers import (
    GaussianNoiseCfg,
    ObservationGroupCfg,
    ObservationManager,
    ObservationTermCfg,
    UniformNoiseCfg,
)


# --- observations -----------------------------------------------------------------------------------
def obs_manager(env, corruption: bool, **term_kwargs) -> ObservationManager:
    group = ObservationGroupCfg(
        terms={"v": ObservationTermCfg(func=value_obs, **term_kwargs)}, enable_corruption=corruption
    )
    return ObservationManager({"policy": group}, env)


@pytest.mark.parametrize(
    "noise",
    [UniformNoiseCfg(n_min=-0.5, n_max=0.5), GaussianNoiseCfg(mean=0.0, std=0.5)],
    ids=["uniform", "gauss"],
)
def test_noise_only_applied_with_corruption(noise):
    env = fake_env(num_envs=256)
    env.value[:] = torch.arange(512.0).reshape(256, 2)
    clean = obs_manager(env, corruption=False, noise=noise).compute()["policy"]
    torch.testing.assert_close(clean, env.value)
    noisy = obs_manager(env, corruption=True, noise=noise).compute()["policy"]
    diff = noisy - env.value
    assert (diff != 0).float().mean() > 0.99
    if isinstance(noise, UniformNoiseCfg):
        assert diff.min() >= -0.5 and diff.max() <= 0.5
        assert diff.min() < -0.4 and diff.max() > 0.4
    else:
        assert 0.4 < diff.std() < 0.6 and abs(diff.mean()) < 0.1


def test_noise_scale_operation_multiplies():
    env = fake_env()
    env.value[:] = 2.0
    obs = obs_manager(env, True, noise=UniformNoiseCfg(n_min=3.0, n_max=3.0, operation="scale")).compute()[
        "policy"
    ]
    torch.testing.assert_close(obs, torch.full((N, 2), 6.0))


def test_clip_then_scale():
    env = fake_env()
    env.value[:] = torch.tensor([[5.0, -5.0], [0.5, -0.5], [0.0, 1.0], [2.0, -2.0]])
    obs = obs_manager(env, False, clip=(-1.0, 1.0), scale=2.0).compute()["policy"]
    expected = torch.tensor([[2.0, -2.0], [1.0, -1.0], [0.0, 2.0], [2.0, -2.0]])
    torch.testing.assert_close(obs, expected)


def test_history_is_oldest_first_and_refilled_after_reset():
    env = fake_env()
    mgr = obs_manager(env, False, history_length=3)
    assert mgr.group_dims == {"policy": 6}
    frames = []
    for k in range(4):
        env.value[:] = float(k)
        frames.append(mgr.compute()["policy"])
    assert frames[0].shape == (N, 6)
    torch.testing.assert_close(frames[0], torch.zeros(N, 6))  # first value fills the history
    torch.testing.assert_close(frames[2][0], torch.tensor([0.0, 0.0, 1.0, 1.0, 2.0, 2.0]))
    torch.testing.assert_close(frames[3][0], torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0]))
    mgr.reset(world_mask(False, True, False, False))
    env.value[:] = 9.0
    obs = mgr.compute()["policy"]
    torch.testing.assert_close(obs[1], torch.full((6,), 9.0))  # refilled with the first new value
    torch.testing.assert_close(obs[0], torch.tensor([2.0, 2.0, 3.0, 3.0, 9.0, 9.0]))


def test_group_history_length_overrides_terms_and_dims_add_up():
    env = fake_env()
    group = ObservationGroupCfg(
        terms={
            "a": ObservationTermCfg(func=value_obs, history_length=5),
            "b": ObservationTermCfg(func=scaled_value_obs, params={"factor": 2.0}),
        },
        history_length=2,
    )
    mgr = ObservationManager(
        {"policy": group, "critic": ObservationGroupCfg(terms={"a": ObservationTermCfg(func=value_obs)})}, env
    )
    assert mgr.term_dims == {"policy": {"a": 4, "b": 4}, "critic": {"a": 2}}
    obs = mgr.compute()
    assert obs["policy"].shape == (N, 8) and obs["critic"].shape == (N, 2)


def test_class_observation_term_is_built_with_params_and_reset_by_mask():
    env = fake_env()
    group = ObservationGroupCfg(terms={"c": ObservationTermCfg(func=CountingObs, params={"start": 10.0})})
    mgr = ObservationManager({"policy": group}, env)  # the build calls the term once to get its size
    obs = mgr.compute()["policy"]
    torch.testing.assert_close(obs[:, 0], torch.full((N,), 12.0))
    mgr.reset(world_mask(True, False, False, True))
    obs = mgr.compute()["policy"]
    torch.testing.assert_close(obs[:, 0], torch.tensor([1.0, 13.0, 13.0, 1.0]))
