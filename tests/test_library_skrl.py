"""skrl on roboforge: the typed runner configs of every task, skrl's own wrapper/PPO/trainer on a roboforge env,
the `SkrlLearner` (learning, checkpoints in skrl's format, the exported deterministic policy) and SAC."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from conftest import make_task_env

pytest.importorskip("skrl")

from skrl.agents.torch.ppo import PPO, PPO_CFG
from skrl.agents.torch.sac import SAC_CFG
from skrl.envs.wrappers.torch import wrap_env
from skrl.memories.torch import RandomMemory
from skrl.resources.schedulers.torch import KLAdaptiveLR
from skrl.trainers.torch import SequentialTrainer
from skrl.utils.model_instantiators.torch import deterministic_model, gaussian_model

from roboforge.agents.agent_file import agent_cfg_from_dict
from roboforge.agents.skrl_cfg import SkrlPpoCfg, SkrlSacCfg
from roboforge.envs.registry import list_tasks, task_algorithms
from roboforge.rl.libraries import learner_class
from roboforge.rl.libraries.base import StepRecorder
from roboforge.rl.libraries.skrl import SkrlLearner
from roboforge.utils.config import ConfigError
from roboforge.utils.errors import UserInputError

# skrl's own keys of each section that the runner hands on (plus the few it converts itself).
RUNNER_ONLY = {"class", "rewards_shaper_scale"}
PPO_1X = {
    "lambda",
    "clip_predicted_values",
    "shared_state_preprocessor",
    "shared_state_preprocessor_kwargs",
    "random_timesteps",
    "learning_starts",
}
MODEL_KEYS = {
    "GaussianMixin": set(inspect.signature(gaussian_model).parameters),
    "DeterministicMixin": set(inspect.signature(deterministic_model).parameters),
}
CARTPOLE_MAX_LENGTH = 300
"""Cart-pole episodes time out after 300 steps (5 s)."""


def cartpole(num_envs: int):
    return make_task_env("cartpole", num_envs=num_envs)


def new_learner(env, algorithm: str = "ppo", **overrides) -> SkrlLearner:
    """An SkrlLearner with the task's skrl config of `algorithm`, `overrides` as dotted agent keys."""
    from roboforge.utils.overrides import apply_checked

    cfg = SkrlLearner.load_cfg("cartpole", algorithm)
    apply_checked(cfg, "agent", overrides)
    return SkrlLearner(env, cfg, algorithm, StepRecorder(env.num_envs, env.device))


def mean_action_length(env, act, steps: int = CARTPOLE_MAX_LENGTH) -> float:
    """Mean length of the episodes of a deterministic `act(obs) -> actions` from a fresh reset, episodes
    still running at the end counted at their current length."""
    obs, _ = env.reset(seed=1)
    length = torch.zeros(env.num_envs)
    ended, total = 0, 0.0
    with torch.no_grad():
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(act(obs["policy"]))
            length += 1
            done = terminated | truncated
            ended += int(done.sum())
            total += float(length[done].sum())
            length[done] = 0
    running = length > 0
    return (total + float(length[running].sum())) / max(ended + int(running.sum()), 1)


# --- configs -------------------------------------------------------------------------------------------


def registered_skrl_files() -> list[tuple[str, str]]:
    return [(t, a) for t in sorted(list_tasks()) for a in task_algorithms(t).get("skrl", [])]


def test_every_task_registers_skrl_files():
    found = registered_skrl_files()
    assert ("cartpole", "ppo") in found and ("cartpole", "sac") in found
    assert ("velocity-rough-g1", "ppo") in found and ("stack-cube-panda", "ppo") in found


@pytest.mark.parametrize(("task", "algorithm"), registered_skrl_files())
def test_registered_skrl_file_validates_into_skrl_keys(task, algorithm):
    cfg = SkrlLearner.load_cfg(task, algorithm)
    assert isinstance(cfg, SkrlLearner.cfg_types[algorithm])
    data = cfg.to_skrl()
    agent_fields = {f.name for f in dataclasses.fields(PPO_CFG if algorithm == "ppo" else SAC_CFG)}
    assert set(data["agent"]) - RUNNER_ONLY - PPO_1X <= agent_fields
    models = {k: v for k, v in data["models"].items() if k != "separate"}
    for role, model in models.items():
        assert set(model) - {"class"} <= MODEL_KEYS[model["class"]], role
    if task.startswith("velocity"):  # asymmetric actor-critic: the value reads the critic group
        assert data["models"]["value"]["network"][0]["input"] == "STATES"
        assert data["agent"]["state_preprocessor"] == "RunningStandardScaler"
    assert data["trainer"]["timesteps"] > 0


def test_unknown_field_names_the_allowed_ones():
    with pytest.raises(ConfigError, match="learning_rat") as err:
        agent_cfg_from_dict(SkrlPpoCfg, {"agent": {"learning_rat": 1e-3}}, "skrl_ppo_cfg.yaml")
    assert "learning_rate" in str(err.value) and "skrl_ppo_cfg.yaml" in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_mistyped_value_names_the_field():
    with pytest.raises(ConfigError, match=r"agent\.rollouts") as err:
        agent_cfg_from_dict(SkrlPpoCfg, {"agent": {"rollouts": "many"}}, "skrl_ppo_cfg.yaml")
    assert "'many'" in str(err.value) and "int" in str(err.value)
    with pytest.raises(ConfigError, match=r"models\.policy\.class"):
        agent_cfg_from_dict(SkrlSacCfg, {"models": {"policy": {"class": "DeterministicMixin"}}}, "sac.yaml")


def test_skrl_1x_keys_carry_over_to_the_runner():
    cfg = agent_cfg_from_dict(
        SkrlPpoCfg, {"agent": {"lambda": 0.9, "state_preprocessor": "RunningStandardScaler"}}, "isaaclab.yaml"
    )
    assert cfg.agent.lambda_ == 0.9
    agent = cfg.to_skrl()["agent"]
    assert agent["lambda"] == 0.9 and agent["class"] == "PPO"
    assert "observation_preprocessor" not in agent  # the Runner makes the 1.x state preprocessor this one
    assert "clip_predicted_values" not in SkrlPpoCfg().to_skrl()["agent"]


# --- skrl's own PPO and trainer on a roboforge env -------------------------------------------------------


@pytest.mark.slow
def test_skrl_own_ppo_and_trainer_learn_cartpole():
    """skrl's wrapper, model instantiators, PPO and SequentialTrainer train a roboforge env unchanged."""
    env = cartpole(256)
    wrapped = wrap_env(env, wrapper="isaaclab")
    assert wrapped.num_envs == 256 and wrapped.state_space is None
    spaces = dict(
        observation_space=wrapped.observation_space, action_space=wrapped.action_space, device="cpu"
    )
    mlp = [{"name": "net", "input": "OBSERVATIONS", "layers": [32, 32], "activations": "elu"}]
    models = {
        "policy": gaussian_model(**spaces, network=mlp, output="ACTIONS"),
        "value": deterministic_model(**spaces, network=mlp, output="ONE"),
    }
    for role, model in models.items():
        model.init_state_dict(role=role)
    cfg = PPO_CFG(
        rollouts=16,
        learning_epochs=5,
        mini_batches=4,
        learning_rate=1e-3,
        entropy_loss_scale=0.005,
        learning_rate_scheduler=KLAdaptiveLR,
        learning_rate_scheduler_kwargs={"kl_threshold": 0.01},
        value_loss_scale=1.0,
        grad_norm_clip=1.0,
    )
    cfg.experiment.write_interval = 0
    cfg.experiment.checkpoint_interval = 0
    agent = PPO(
        models=models,
        memory=RandomMemory(memory_size=16, num_envs=256),
        cfg=cfg,
        observation_space=wrapped.observation_space,
        action_space=wrapped.action_space,
    )

    def deterministic(obs):
        return agent.act(obs, None, timestep=0, timesteps=1)[1]["mean_actions"]

    before = mean_action_length(env, deterministic)
    trainer = SequentialTrainer(
        env=wrapped,
        agents=agent,
        cfg={
            "timesteps": 70 * 16,
            "headless": True,
            "disable_progressbar": True,
            "close_environment_at_exit": False,
        },
    )
    trainer.train()
    after = mean_action_length(env, deterministic)
    assert before < 150, before
    assert after > 200, f"mean episode length {before:.0f} -> {after:.0f} after 70 iterations"


# --- SkrlLearner ----------------------------------------------------------------------------------------


def test_library_table_finds_the_learner():
    assert learner_class("skrl") is SkrlLearner and SkrlLearner.library == "skrl"


@pytest.fixture(scope="module")
def trained():
    """An SkrlLearner that learned cart-pole (256 worlds): (learner, mean episode length per iteration)."""
    learner = new_learner(cartpole(256))
    lengths = []
    for _ in range(70):
        losses = learner.iterate()
        lengths.append(learner.recorder.episodes.pop()[1])
    return learner, lengths, losses


@pytest.mark.slow
def test_learner_learns_cartpole(trained):
    learner, lengths, losses = trained
    assert (learner.steps_per_iteration, learner.max_iterations, learner.save_interval) == (16, 150, 50)
    assert max(lengths[:5]) < 120
    assert sum(lengths[-5:]) / 5 > 200, lengths[-10:]
    for tag in (
        "Loss/surrogate",
        "Loss/value",
        "Loss/entropy",
        "Loss/learning_rate",
        "Policy/mean_std",
    ):
        assert tag in losses and torch.isfinite(torch.tensor(losses[tag])), tag
    assert learner.recorder.pop_finite()


@pytest.mark.slow
def test_checkpoint_round_trip_and_skrl_own_load(trained, tmp_path):
    learner, _, _ = trained
    path = tmp_path / "model_69.pt"
    with path.open("wb") as file:
        learner.save(file)
    obs = torch.randn(64, 4)
    expected = learner.policy()({"policy": obs})

    other = new_learner(learner.env)
    assert not torch.allclose(other.policy()({"policy": obs}), expected)
    other.load(path, training=True)
    assert torch.allclose(other.policy()({"policy": obs}), expected)
    assert other.agent.optimizer.state_dict()["state"], "the optimizer state is restored for training"

    fresh = new_learner(learner.env)
    fresh.agent.load(str(path))  # skrl's own loader
    assert torch.allclose(fresh.policy()({"policy": obs}), expected)


@pytest.mark.slow
def test_policy_is_skrl_deterministic_action_and_exports(trained, tmp_path):
    import onnxruntime

    from roboforge.export.onnx_export import export_onnx, policy_io

    learner, _, _ = trained
    policy = learner.policy()
    assert not policy.training and policy.obs_groups == ["policy"] and policy.obs_dim == 4
    obs = torch.randn(128, 4) * 2
    with torch.no_grad():
        mean = learner.agent.act(obs, None, timestep=0, timesteps=1)[1]["mean_actions"]
    assert torch.allclose(policy({"policy": obs}), mean, atol=1e-6)
    path = export_onnx(policy, policy_io(policy, 4, 1), {"task": "cartpole"}, tmp_path / "policy.onnx")
    session = onnxruntime.InferenceSession(str(path))
    onnx_actions = session.run(None, {"obs": obs.numpy()})[0]
    assert torch.allclose(torch.from_numpy(onnx_actions), mean, atol=1e-5)


def test_policy_bakes_in_the_observation_normalizer():
    learner = new_learner(
        cartpole(16), **{"agent.observation_preprocessor": "RunningStandardScaler", "agent.rollouts": 4}
    )
    learner.iterate()  # one update fits the running statistics
    scaler = learner.agent.checkpoint_modules["observation_preprocessor"]
    assert not torch.allclose(scaler.running_mean, torch.zeros(4, dtype=torch.float64))
    policy = learner.policy()
    assert policy.obs_normalization
    obs = torch.randn(64, 4) * 3
    with torch.no_grad():
        mean = learner.agent.act(obs, None, timestep=0, timesteps=1)[1]["mean_actions"]
    assert torch.allclose(policy({"policy": obs}), mean, atol=1e-5)


def test_load_refuses_other_checkpoints(tmp_path):
    learner = new_learner(cartpole(8))
    rsl = tmp_path / "model_1.pt"
    torch.save({"actor_state_dict": {}, "critic_state_dict": {}, "optimizer_state_dict": {}, "iter": 1}, rsl)
    with pytest.raises(UserInputError, match="rsl_rl checkpoint") as err:
        learner.load(rsl, training=False)
    assert len(str(err.value).splitlines()) == 1
    games = tmp_path / "model_2.pt"
    torch.save({"model": {}, "epoch": 3}, games)
    with pytest.raises(UserInputError, match="rl_games"):
        learner.load(games, training=False)

    wider = new_learner(
        learner.env,
        **{
            "models.policy.network": [
                {"name": "net", "input": "OBSERVATIONS", "layers": [64, 64], "activations": "elu"}
            ]
        },
    )
    path = tmp_path / "model_3.pt"
    with path.open("wb") as file:
        wider.save(file)
    with pytest.raises(UserInputError, match="does not fit the task's skrl networks"):
        learner.load(path, training=False)
    sac = new_learner(learner.env, "sac")
    with path.open("wb") as file:
        sac.save(file)
    with pytest.raises(UserInputError, match="another algorithm"):
        learner.load(path, training=False)


def test_bad_model_setting_is_a_user_error():
    with pytest.raises(UserInputError, match="skrl cannot build the agent"):
        new_learner(
            cartpole(4), **{"models.policy.network": [{"name": "net", "input": "NOPE", "layers": [8]}]}
        )


# --- SAC ------------------------------------------------------------------------------------------------


def test_sac_acts_in_bounds_and_policy_matches():
    learner = new_learner(cartpole(8), "sac")
    assert learner.wrapped.action_space.high.tolist() == [1.0]
    learner.iterate()
    obs = torch.randn(32, 4) * 3
    policy = learner.policy()
    with torch.no_grad():
        mean = learner.agent.act(obs, None, timestep=10**6, timesteps=10**6)[1]["mean_actions"]
        actions = policy({"policy": obs})
    assert torch.allclose(actions, mean.clamp(-1, 1), atol=1e-6)
    assert actions.abs().max() <= 1.0
