"""Every registered task builds and steps on both backends; masked resets, the NaN guard, registry, wrapper."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from tensordict import TensorDict

from conftest import BACKENDS, make_task_env
from roboforge.envs import DirectRLEnv, ManagerBasedRLEnv, UnknownTaskError, list_tasks, load_cfg, make_env
from roboforge.envs.registry import task_spec
from roboforge.envs.wrappers.rsl_rl import RslRlVecEnvWrapper
from roboforge.utils.errors import UserInputError

TASKS = sorted(list_tasks())
CARTPOLE_TASKS = [t for t in TASKS if t.startswith("cartpole")]
N = 4
STEPS = {"mujoco": 10, "mjwarp": 4}
"""Env steps per build test: fewer on MuJoCo Warp, whose CPU steps are slow (navigation-go1: ~1.5 s each)."""


def cart_slider_adr(env) -> int:
    robot = env.scene["robot"]
    return int(robot.joint_qpos_adr[robot.joint_names.index("slider_to_cart")])


def test_builtin_tasks_are_registered():
    assert {"cartpole", "cartpole-direct"} <= set(TASKS)
    assert all(desc for desc in list_tasks().values()), "every task has a description"


@pytest.mark.parametrize("backend", ["mujoco", pytest.param("mjwarp", marks=pytest.mark.slow)])
@pytest.mark.parametrize("task", TASKS)
def test_task_builds_and_steps(task, backend):
    cfg = load_cfg(task, num_envs=N)
    cfg.sim.backend = backend
    env = make_env(task, cfg)
    assert isinstance(env, (ManagerBasedRLEnv, DirectRLEnv))
    assert type(env.sim).__name__ == {"mujoco": "MujocoSimulator", "mjwarp": "MjwarpSimulator"}[backend]
    assert env.num_envs == N and env.num_actions >= 1
    obs, _ = env.reset(seed=1)
    assert set(obs) >= {"policy"}
    g = torch.Generator().manual_seed(0)
    spaces = env.observation_space
    assert isinstance(spaces, gym.spaces.Dict)
    for _ in range(STEPS[backend]):
        obs, reward, terminated, time_outs, extras = env.step(
            torch.rand(N, env.num_actions, generator=g) * 2 - 1
        )
        for name, value in obs.items():
            assert value.shape == spaces[name].shape  # (N, dim); images (N, C, H, W)
            assert torch.isfinite(value).all(), f"{task}/{backend}: non-finite observation {name}"
        assert reward.shape == (N,) and torch.isfinite(reward).all()
        assert terminated.dtype == torch.bool and time_outs.dtype == torch.bool
        assert isinstance(extras, dict)
    assert env.episode_length_buf.max() <= STEPS[backend]
    assert env.action_space.shape == (N, env.num_actions)
    env.close()


def test_backends_give_the_same_env_rollout():
    """Env-level parity: the same task, seed and actions on both backends."""
    g = torch.Generator().manual_seed(3)
    actions = torch.rand(20, N, 1, generator=g) * 2 - 1
    results = {}
    for backend in BACKENDS:
        env = make_task_env("cartpole", N, backend)
        rewards, obs = [], None
        for a in actions:
            obs, reward, *_ = env.step(a)
            rewards.append(reward)
        results[backend] = (obs["policy"], torch.stack(rewards))
    torch.testing.assert_close(results["mujoco"][0], results["mjwarp"][0], atol=1e-4, rtol=0)
    torch.testing.assert_close(results["mujoco"][1], results["mjwarp"][1], atol=1e-5, rtol=0)


def test_direct_and_manager_based_cartpole_are_the_same_task():
    g = torch.Generator().manual_seed(4)
    actions = torch.rand(30, N, 1, generator=g) * 2 - 1
    out = {}
    for task in ("cartpole", "cartpole-direct"):
        env = make_task_env(task, N)
        steps = [env.step(a) for a in actions]
        out[task] = (torch.stack([s[0]["policy"] for s in steps]), torch.stack([s[1] for s in steps]))
    torch.testing.assert_close(out["cartpole"][0], out["cartpole-direct"][0])
    torch.testing.assert_close(out["cartpole"][1], out["cartpole-direct"][1])


@pytest.mark.parametrize("task", CARTPOLE_TASKS)
def test_reset_is_masked_to_the_worlds_that_ended(task):
    env = make_task_env(task, N)
    zero = torch.zeros(N, env.num_actions)
    for _ in range(3):
        env.step(zero)
    assert env.episode_length_buf.tolist() == [3] * N
    adr = cart_slider_adr(env)
    env.sim.qpos[0, adr] = 3.5  # world 0 past the rail bound (3 m): a failure
    env.episode_length_buf[2] = env.max_episode_length - 1  # world 2 times out on the next step
    before = env.sim.qpos.clone()
    _, reward, terminated, time_outs, _ = env.step(zero)
    assert terminated.tolist() == [True, False, False, False]
    assert time_outs.tolist() == [False, False, True, False]
    assert env.episode_length_buf.tolist() == [0, 4, 0, 4]
    assert env.reset_buf.tolist() == [True, False, True, False]
    assert abs(float(env.sim.qpos[0, adr])) <= 1.0, "world 0 was reset into the start range"
    # the worlds that kept running continued from where they were
    assert (env.sim.qpos[[1, 3]] - before[[1, 3]]).abs().max() < 0.1
    assert torch.isfinite(reward).all()
    assert float(reward[0]) < float(reward[1]), "a failure is penalised"


def test_episode_stats_report_terminations_and_lengths():
    env = make_task_env("cartpole", N)
    env.pop_episode_stats()
    zero = torch.zeros(N, 1)
    for _ in range(4):
        env.step(zero)
    env.sim.qpos[:2, cart_slider_adr(env)] = -3.5
    env.step(zero)
    stats = env.pop_episode_stats()
    assert stats["Episode_Termination/cart_out_of_bounds"] == 1.0
    assert stats["Episode_Termination/time_out"] == 0.0
    assert stats["Episode/length"] == 5.0
    assert stats["nan_resets"] == 0.0
    assert "Episode_Reward/alive" in stats
    assert env.pop_episode_stats() == {"nan_resets": 0.0, "sim_overflows": 0.0}  # popped


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", TASKS)
def test_nan_guard_terminates_only_the_bad_world(task, backend):
    env = make_task_env(task, N, backend)
    env.pop_episode_stats()
    zero = torch.zeros(N, env.num_actions)
    env.step(zero)
    env.sim.qvel[1] = float("nan")
    obs, reward, terminated, time_outs, _ = env.step(zero)
    assert terminated.tolist() == [False, True, False, False]
    assert not time_outs[1]
    assert torch.isfinite(reward).all() and float(reward[1]) == 0.0
    for value in obs.values():
        assert torch.isfinite(value).all()
    assert env.episode_length_buf.tolist() == [2, 0, 2, 2]
    assert torch.isfinite(env.sim.qpos).all() and torch.isfinite(env.sim.qvel).all()
    assert env.exploded_buf.tolist() == [False, True, False, False]
    stats = env.pop_episode_stats()
    assert stats["nan_resets"] == 1
    assert "Episode/survived" not in stats  # the exploded episode is no fall-free episode (nor a fall)
    for _ in range(3):  # the world keeps running normally afterwards
        obs, reward, terminated, *_ = env.step(zero)
        assert torch.isfinite(reward).all() and not terminated.any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_randomize_model_field_event_is_per_world(backend):
    from roboforge import mdp
    from roboforge.managers import EventTermCfg

    cfg = load_cfg("cartpole", num_envs=8)
    cfg.sim.backend = backend
    cfg.events["cart_damping"] = EventTermCfg(
        func=mdp.randomize_model_field,
        mode="startup",
        params={"field": "dof_damping", "value_range": (1.0, 5.0), "operation": "abs", "ids": [0]},
    )
    env = make_env("cartpole", cfg)
    damping = env.sim.model_field("dof_damping")  # per world because an event names the field
    assert damping.shape == (8, 2)
    cart, pole = damping[:, 0], damping[:, 1]
    assert ((cart >= 1.0) & (cart <= 5.0)).all() and cart.unique().numel() == 8
    assert (pole == 0.0).all(), "ids=[0] leaves the pole joint's damping alone"
    obs, reward, *_ = env.step(torch.zeros(8, 1))
    assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()


def test_huge_velocity_counts_as_exploded():
    env = make_task_env("cartpole", N, max_joint_vel=100.0)
    env.pop_episode_stats()
    env.sim.qvel[3, 1] = 1.0e5
    _, reward, terminated, _, _ = env.step(torch.zeros(N, 1))
    assert terminated.tolist() == [False, False, False, True]
    assert float(reward[3]) == 0.0 and torch.isfinite(reward).all()
    assert env.pop_episode_stats()["nan_resets"] == 1


def test_same_seed_same_run_and_reset_seed():
    def rollout(seed: int):
        env = make_task_env("cartpole", N, seed=seed)
        g = torch.Generator().manual_seed(0)
        return torch.stack([env.step(torch.rand(N, 1, generator=g))[0]["policy"] for _ in range(5)])

    torch.testing.assert_close(rollout(7), rollout(7), rtol=0, atol=0)
    assert not torch.equal(rollout(7), rollout(8))
    env = make_task_env("cartpole", N)
    first, _ = env.reset(seed=5)
    first = first["policy"].clone()
    env.step(torch.ones(N, 1))
    again, _ = env.reset(seed=5)
    torch.testing.assert_close(again["policy"], first, rtol=0, atol=0)


def test_wrong_action_shape_raises():
    env = make_task_env("cartpole", N)
    with pytest.raises(ValueError, match=r"Expected actions of shape \(4, 1\), got \(4, 2\)"):
        env.step(torch.zeros(N, 2))


# --- registry -------------------------------------------------------------------------------------------------------
def test_gymnasium_ids_are_namespaced():
    for task in TASKS:
        assert f"roboforge/{task}" in gym.registry
        assert task_spec(task).id == f"roboforge/{task}"
        assert task_spec(f"roboforge/{task}").id == f"roboforge/{task}"


def test_gym_make_builds_the_env_from_a_cfg():
    cfg = load_cfg("cartpole", num_envs=2)
    env = gym.make("roboforge/cartpole", cfg=cfg).unwrapped
    assert isinstance(env, ManagerBasedRLEnv) and env.num_envs == 2


def test_unknown_task_suggests_closest():
    with pytest.raises(UnknownTaskError) as err:
        task_spec("cartpol")
    msg = str(err.value)
    assert "'cartpol'" in msg and "Did you mean" in msg and "cartpole" in msg
    assert "roboforge list" in msg
    with pytest.raises(UnknownTaskError):
        load_cfg("cartpol")


def test_load_cfg_passes_factory_arguments_and_rejects_missing_key():
    assert load_cfg("cartpole", num_envs=3).scene.num_envs == 3
    assert load_cfg("cartpole", play=True).scene.num_envs == 32
    assert load_cfg("cartpole", "rsl_rl_cfg_entry_point").num_steps_per_env > 0
    with pytest.raises(UserInputError, match="has no skrl_cfg config"):
        load_cfg("cartpole-lstm", "skrl_cfg_entry_point")


# --- rsl_rl wrapper ------------------------------------------------------------------------------------------------------
def test_rsl_rl_wrapper_returns_tensordicts_and_time_outs():
    env = make_task_env("cartpole", N)
    venv = RslRlVecEnvWrapper(env)
    assert venv.num_envs == N and venv.num_actions == 1 and venv.max_episode_length == env.max_episode_length
    obs = venv.get_observations()
    assert isinstance(obs, TensorDict) and obs.batch_size == torch.Size([N])
    assert obs["policy"].shape == (N, 4)
    obs, _ = venv.reset()
    assert isinstance(obs, TensorDict) and "policy" in obs
    venv.episode_length_buf = torch.tensor([0, 0, env.max_episode_length - 1, 0])
    assert env.episode_length_buf.tolist() == [0, 0, env.max_episode_length - 1, 0]
    obs, reward, dones, extras = venv.step(torch.zeros(N, 1))
    assert isinstance(obs, TensorDict) and obs["policy"].shape == (N, 4)
    assert reward.shape == (N,)
    assert extras["time_outs"].tolist() == [False, False, True, False]
    assert dones.tolist() == [False, False, True, False]


def test_rsl_rl_wrapper_clips_actions():
    clipped = RslRlVecEnvWrapper(make_task_env("cartpole", N), clip_actions=0.5)
    plain = RslRlVecEnvWrapper(make_task_env("cartpole", N))
    obs_clipped, *_ = clipped.step(torch.full((N, 1), 10.0))
    obs_plain, *_ = plain.step(torch.full((N, 1), 0.5))
    torch.testing.assert_close(obs_clipped["policy"], obs_plain["policy"])
    obs_unclipped, *_ = RslRlVecEnvWrapper(make_task_env("cartpole", N)).step(torch.full((N, 1), 10.0))
    assert not torch.allclose(obs_unclipped["policy"], obs_plain["policy"])
