"""stable-baselines3 adapter: agent files, the VecEnv wrapper, PPO and SAC learning on the cart-pole,
checkpoints in sb3's own format, the deterministic policy and its ONNX export."""

from __future__ import annotations

import io
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from conftest import make_task_env
from roboforge.agents.agent_file import agent_cfg_from_dict
from roboforge.agents.sb3_cfg import Sb3PpoCfg, Sb3SacCfg
from roboforge.envs.registry import list_tasks, task_algorithms
from roboforge.envs.wrappers.sb3 import Sb3VecEnvWrapper
from roboforge.rl.libraries import learner_class
from roboforge.rl.libraries.base import StepRecorder
from roboforge.rl.libraries.sb3 import Sb3Learner
from roboforge.utils.config import ConfigError
from roboforge.utils.errors import UserInputError

MAX_LENGTH = 300  # cart-pole: 5 s at 60 Hz
PPO_ENVS = 64
PPO_ITERATIONS = (
    20  # a policy that has moved from its initial weights; learning itself is test_libraries.py's bar
)
PPO_OVERRIDES = {"batch_size": 256}  # 4 mini-batches of a 64-world rollout (the file's 4096 is for 1024)


def cartpole_env(num_envs: int, seed: int = 0):
    return make_task_env("cartpole", num_envs, seed=seed)


def cartpole_learner(num_envs: int, algorithm: str, seed: int = 0, **overrides) -> Sb3Learner:
    env = cartpole_env(num_envs, seed)
    cfg = Sb3Learner.load_cfg("cartpole", algorithm)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return Sb3Learner(env, cfg, algorithm, StepRecorder(num_envs, "cpu"))


def train(learner: Sb3Learner, iterations: int, last: int) -> tuple[float, float, int]:
    """Run `iterations`; (mean return, mean length, episodes) of the episodes ended in the `last` ones."""
    sums = np.zeros(3)
    for i in range(iterations):
        losses = learner.iterate()
        ret, length, n = learner.recorder.episodes.pop()
        assert all(np.isfinite(v) for v in losses.values()), losses
        if i >= iterations - last:
            sums += (ret * n, length * n, n)
    assert learner.recorder.pop_finite()
    n = int(sums[2])
    return sums[0] / max(n, 1), sums[1] / max(n, 1), n


def policy_actions(learner: Sb3Learner, obs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return learner.policy()({"policy": torch.as_tensor(obs)}).numpy()


def observations(learner: Sb3Learner, n: int = 256) -> np.ndarray:
    """Observations spread over and beyond the trained range (so the action bounds are exercised)."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, learner.env.obs_dims["policy"])) * 3).astype(np.float32)


# --- agent files ------------------------------------------------------------------------------------
def test_registered_sb3_files_validate():
    seen = []
    for task in list_tasks():
        for algorithm in task_algorithms(task).get("sb3", []):
            cfg = learner_class("sb3").load_cfg(task, algorithm)
            assert isinstance(cfg, Sb3PpoCfg if algorithm == "ppo" else Sb3SacCfg)
            kwargs = cfg.sb3_kwargs(seed=0, num_envs=512)
            assert isinstance(kwargs["policy_kwargs"]["activation_fn"], type)
            seen.append((task, algorithm))
    assert ("cartpole", "ppo") in seen and ("cartpole", "sac") in seen
    assert ("reach-ur5e", "ppo") in seen and ("reach-ur5e", "sac") in seen


def test_cartpole_file_numbers_follow_rsl_rl():
    cfg = Sb3Learner.load_cfg("cartpole", "ppo")
    assert (cfg.n_steps, cfg.n_epochs, cfg.learning_rate, cfg.ent_coef) == (16, 5, 1.0e-3, 0.005)
    assert cfg.policy_kwargs.net_arch == [32, 32] and cfg.policy_kwargs.activation_fn == "elu"
    kwargs = cfg.sb3_kwargs(seed=3, num_envs=64)
    assert kwargs["policy_kwargs"]["activation_fn"] is torch.nn.ELU
    assert kwargs["batch_size"] == 16 * 64  # capped at the rollout
    assert kwargs["seed"] == 3


def test_unknown_field_names_it_and_the_allowed_ones():
    with pytest.raises(ConfigError) as err:
        agent_cfg_from_dict(Sb3PpoCfg, {"n_step": 16}, "sb3_ppo_cfg.yaml")
    assert "sb3_ppo_cfg.yaml" in str(err.value) and "'n_step'" in str(err.value)
    assert "Did you mean 'n_steps'" in str(err.value)
    with pytest.raises(ConfigError, match=r"policy_kwargs.*'net_arc'.*net_arch"):
        agent_cfg_from_dict(Sb3SacCfg, {"policy_kwargs": {"net_arc": [8]}}, "sb3_sac_cfg.yaml")


def test_mistyped_values_name_the_field():
    with pytest.raises(ConfigError, match=r"sb3_ppo_cfg.yaml: n_steps: 'sixteen' is not a valid int"):
        agent_cfg_from_dict(Sb3PpoCfg, {"n_steps": "sixteen"}, "sb3_ppo_cfg.yaml")
    with pytest.raises(ConfigError, match=r"policy_kwargs.net_arch"):
        agent_cfg_from_dict(Sb3PpoCfg, {"policy_kwargs": {"net_arch": "big"}}, "sb3_ppo_cfg.yaml")
    cfg = agent_cfg_from_dict(Sb3PpoCfg, {"policy_kwargs": {"activation_fn": "swish"}}, "f.yaml")
    with pytest.raises(ConfigError, match=r"policy_kwargs.activation_fn: unknown activation 'swish'.*elu"):
        cfg.sb3_kwargs(seed=0, num_envs=1)
    cfg = agent_cfg_from_dict(Sb3SacCfg, {"policy_kwargs": {"net_arch": {"pi": [8], "vf": [8]}}}, "f.yaml")
    with pytest.raises(ConfigError, match=r"net_arch: a mapping needs exactly the keys pi and qf"):
        cfg.sb3_kwargs(seed=0, num_envs=1)
    cfg = agent_cfg_from_dict(Sb3SacCfg, {"ent_coef": "automatic"}, "f.yaml")
    with pytest.raises(ConfigError, match=r"ent_coef: use a number, 'auto'"):
        cfg.sb3_kwargs(seed=0, num_envs=1)


def test_isaac_lab_activation_spelling_is_accepted():
    cfg = agent_cfg_from_dict(Sb3PpoCfg, {"policy_kwargs": {"activation_fn": "nn.ELU"}}, "f.yaml")
    assert cfg.sb3_kwargs(seed=0, num_envs=1)["policy_kwargs"]["activation_fn"] is torch.nn.ELU


# --- the VecEnv -----------------------------------------------------------------------------------------
def test_vec_env_follows_sb3s_contract():
    env = cartpole_env(8)
    recorder = StepRecorder(8, "cpu")
    venv = Sb3VecEnvWrapper(env, recorder, clip_actions=0.5)
    assert isinstance(venv, VecEnv) and venv.num_envs == 8
    assert venv.observation_space.shape == (4,) and venv.observation_space.dtype == np.float32
    assert venv.action_space.shape == (1,)
    assert (venv.action_space.low == -0.5).all() and (venv.action_space.high == 0.5).all()
    obs = venv.reset()
    assert obs.shape == (8, 4) and obs.dtype == np.float32
    before = obs.copy()
    env.episode_length_buf[:3] = env.max_episode_length - 1  # worlds 0-2 time out in the next step
    obs, reward, dones, infos = venv.step(np.full((8, 1), 7.0, dtype=np.float32))  # clipped to 0.5
    assert obs.shape == (8, 4) and obs.dtype == np.float32
    assert reward.shape == (8,) and reward.dtype == np.float32
    assert dones.shape == (8,) and dones.dtype == np.bool_
    assert dones[:3].all() and not dones[3:].any()
    assert len(infos) == 8 and all(info == {} for info in infos[3:])
    for i in range(3):
        assert infos[i]["TimeLimit.truncated"] is True
        np.testing.assert_array_equal(infos[i]["terminal_observation"], before[i])
    assert env.action_manager.action.abs().max() == pytest.approx(0.5)  # the clip reached the env
    assert recorder.episodes.pop()[2] == 3
    assert venv.get_attr("max_episode_length") == [env.max_episode_length] * 8
    assert venv.get_attr("num_envs", indices=[1, 2]) == [8, 8]
    assert venv.env_is_wrapped(gym.wrappers.TimeLimit) == [False] * 8
    with pytest.raises(ValueError, match="all of them"):
        venv.set_attr("render_mode", None, indices=[0])
    assert venv.seed(5) == [5] * 8


def test_vec_env_works_under_sb3s_monitor():
    venv = VecMonitor(Sb3VecEnvWrapper(cartpole_env(4)))
    venv.reset()
    venv.unwrapped.env.episode_length_buf[:] = venv.unwrapped.env.max_episode_length - 2
    for _ in range(2):
        _, _, dones, infos = venv.step(np.zeros((4, 1), dtype=np.float32))
    assert dones.all() and all(info["episode"]["l"] == 2 for info in infos)


# --- PPO ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_ppo():
    learner = cartpole_learner(PPO_ENVS, "ppo", **PPO_OVERRIDES)
    ret, length, episodes = train(learner, PPO_ITERATIONS, last=20)
    return learner, ret, length, episodes


@pytest.mark.slow
def test_ppo_trains_on_the_iteration_plan(trained_ppo):
    """Finite losses and finished episodes over the short run (`train` asserts both), on sb3's rollout size;
    that sb3's PPO learns the cart-pole is test_libraries.py's bar (the task's own agent file, eval >= 95%)."""
    learner, _, _, episodes = trained_ppo
    assert learner.steps_per_iteration == 16 and learner.max_iterations == 2457600 // (16 * PPO_ENVS)
    assert episodes > 0 and learner.model.num_timesteps == PPO_ITERATIONS * 16 * PPO_ENVS


@pytest.mark.slow
def test_ppo_policy_is_predict_deterministic(trained_ppo):
    learner = trained_ppo[0]
    obs = observations(learner)
    expected, _ = learner.model.predict(obs, deterministic=True)
    np.testing.assert_allclose(policy_actions(learner, obs), expected, atol=1e-6)
    assert np.abs(expected).max() == pytest.approx(1.0)  # some observations hit the bound
    policy = learner.policy()
    assert not policy.training and policy.obs_groups == ["policy"] and policy.obs_dim == 4


@pytest.mark.slow
def test_ppo_checkpoint_round_trip(trained_ppo, tmp_path):
    learner = trained_ppo[0]
    file = tmp_path / "model_0.zip"
    with open(file, "wb") as f:
        learner.save(f)
    obs = observations(learner)
    expected = policy_actions(learner, obs)
    loaded = PPO.load(file, device="cpu")  # sb3's own API reads it
    np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], expected, atol=1e-6)
    fresh = cartpole_learner(4, "ppo", seed=1, **PPO_OVERRIDES)
    assert not np.allclose(policy_actions(fresh, obs), expected)
    fresh.load(file, training=True)
    np.testing.assert_allclose(policy_actions(fresh, obs), expected, atol=1e-6)
    assert fresh.model.num_timesteps == learner.model.num_timesteps
    fresh.iterate()  # the optimizer state fits


def test_normalizer_statistics_travel_in_the_zip(tmp_path):
    learner = cartpole_learner(8, "ppo", normalize_input=True, batch_size=64)
    for _ in range(2):
        learner.iterate()
    (normalizer,) = {id(m): m for m in learner._normalizers()}.values()  # PPO shares one extractor
    assert float(normalizer.count) > 100 and normalizer.mean.abs().sum() > 0
    buffer = io.BytesIO()
    learner.save(buffer)
    buffer.seek(0)
    obs = observations(learner)
    np.testing.assert_allclose(
        PPO.load(buffer, device="cpu").predict(obs, deterministic=True)[0],
        policy_actions(learner, obs),
        atol=1e-6,
    )
    assert learner.policy().obs_normalization


def test_policy_exports_to_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    learner = cartpole_learner(4, "sac", normalize_input=True)
    module = learner.policy().as_onnx().eval()
    obs = observations(learner, 5)
    path = tmp_path / "policy.onnx"
    batch = torch.export.Dim("batch", min=1, max=1024)
    with torch.no_grad():
        program = torch.onnx.export(module, (torch.zeros(2, 4),), dynamo=True, dynamic_shapes=({0: batch},))
    assert program is not None
    program.save(str(path))
    session = ort.InferenceSession(str(path))
    (out,) = session.run(None, {session.get_inputs()[0].name: obs})
    np.testing.assert_allclose(out, policy_actions(learner, obs), atol=1e-5)


# --- SAC ------------------------------------------------------------------------------------------------


def test_sac_policy_is_predict_deterministic_and_round_trips(tmp_path):
    from stable_baselines3 import SAC

    learner = cartpole_learner(8, "sac", learning_starts=64, clip_actions=0.7)
    for _ in range(2):
        learner.iterate()
    losses = learner.iterate()
    assert {"Loss/actor", "Loss/critic", "Loss/entropy_coef"} <= set(losses)
    obs = observations(learner)
    expected, _ = learner.model.predict(obs, deterministic=True)
    np.testing.assert_allclose(policy_actions(learner, obs), expected, atol=1e-6)
    assert np.abs(expected).max() <= 0.7 + 1e-6
    file = tmp_path / "model_2.zip"
    with open(file, "wb") as f:
        learner.save(f)
    np.testing.assert_allclose(
        SAC.load(file, device="cpu").predict(obs, deterministic=True)[0], expected, atol=1e-6
    )
    fresh = cartpole_learner(8, "sac", seed=1, learning_starts=64, clip_actions=0.7)
    fresh.load(file, training=True)
    np.testing.assert_allclose(policy_actions(fresh, obs), expected, atol=1e-6)
    assert fresh.model.log_ent_coef is not None and learner.model.log_ent_coef is not None
    assert fresh.model.log_ent_coef.item() == pytest.approx(learner.model.log_ent_coef.item())


# --- foreign checkpoints --------------------------------------------------------------------------------
def test_foreign_checkpoints_are_refused(tmp_path):
    learner = cartpole_learner(4, "ppo")
    pt = tmp_path / "model_5.pt"
    torch.save({"actor_state_dict": {}, "iter": 5}, pt)
    with pytest.raises(
        UserInputError, match=r"PyTorch checkpoint.*not a stable-baselines3 checkpoint.*--library"
    ):
        learner.load(pt, training=False)
    legacy = tmp_path / "model_5.pth"
    torch.save({"model": {}}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(UserInputError, match="not a stable-baselines3 checkpoint"):
        learner.load(legacy, training=True)
    sac_zip = tmp_path / "model_1.zip"
    with open(sac_zip, "wb") as f:
        cartpole_learner(4, "sac").save(f)
    with pytest.raises(UserInputError, match=r"holds an sb3 SAC agent, not PPO; use --algorithm sac"):
        learner.load(sac_zip, training=True)
    wide = tmp_path / "model_2.zip"
    with open(wide, "wb") as f:
        cartpole_learner(4, "ppo", policy_kwargs=_wider_policy()).save(f)
    with pytest.raises(
        UserInputError, match=r"does not fit this sb3 PPO agent \(its layer .* where this task.s network has"
    ):
        learner.load(wide, training=False)


def _wider_policy():
    from roboforge.agents.sb3_cfg import Sb3PpoPolicyKwargsCfg

    return Sb3PpoPolicyKwargsCfg(net_arch=[48, 48], activation_fn="elu")


def test_missing_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        cartpole_learner(2, "ppo").load(Path(tmp_path / "nope.zip"), training=False)
