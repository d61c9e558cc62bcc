"""rl_games adapter: the agent files of every task, the `IVecEnv` wrapper, learning cart-pole with rl_games'
own PPO, checkpoints that rl_games' own `restore` reads, and the exported deterministic actor."""

from __future__ import annotations

import io
import zipfile

import pytest
import torch
import yaml

from conftest import make_task_env, requires_go1
from roboforge.agents.agent_file import agent_cfg_from_dict
from roboforge.agents.rl_games_cfg import RlGamesPpoCfg
from roboforge.envs.registry import list_tasks, load_cfg, make_env, task_algorithms
from roboforge.envs.wrappers.rl_games import RlGamesVecEnvWrapper
from roboforge.rl.libraries import learner_class
from roboforge.rl.libraries.base import StepRecorder
from roboforge.rl.libraries.rl_games import RlGamesLearner
from roboforge.utils.config import ConfigError
from roboforge.utils.errors import UserInputError
from roboforge.utils.overrides import apply_checked

TRAIN_ENVS = 128
MAX_TRAIN_ITERATIONS = 200
"""Upper bound; with seed 42 the pole balances for whole episodes after 65 iterations (~21 s on 2 cores;
64 worlds: 77 iterations, 20 s; 256 worlds: 77 iterations, 41 s)."""
BALANCED_LENGTH = 280.0
"""Mean episode length of a balancing policy (the episode is 300 steps)."""
LONGER_RSL_RL_REACH = {"reach-panda": 1400, "reach-panda-ik-rel": 1400, "reach-ur5e-effort": 1500}
"""The reach tasks share one rl_games file with 1000 iterations; rsl_rl gives these tasks more."""


def make_cartpole(num_envs: int = 64, seed: int = 42):
    return make_task_env("cartpole", num_envs, seed=seed)


def make_learner(num_envs: int = 64, task: str = "cartpole", overrides: dict | None = None) -> RlGamesLearner:
    """A learner on the task's rl_games file with `overrides` (dotted keys, as `-o agent.KEY=VALUE`)."""
    cfg = RlGamesLearner.load_cfg(task, "ppo")
    apply_checked(cfg, "agent", overrides or {})
    if task == "cartpole":
        env = make_cartpole(num_envs)
    else:
        env_cfg = load_cfg(task, "env_cfg_entry_point")
        env_cfg.scene.num_envs, env_cfg.sim.device, env_cfg.sim.backend = num_envs, "cpu", "mujoco"
        env = make_env(task, env_cfg)
    return RlGamesLearner(env, cfg, "ppo", StepRecorder(env.num_envs, env.device))


def flat_weights(learner: RlGamesLearner) -> torch.Tensor:
    return torch.cat([v.flatten().float() for v in learner.agent.model.state_dict().values()])


# --- agent files -----------------------------------------------------------------------------------
def rl_games_tasks() -> list[str]:
    return [t for t in list_tasks() if "rl_games" in task_algorithms(t)]


def test_learner_is_registered():
    assert learner_class("rl_games") is RlGamesLearner
    assert RlGamesLearner.cfg_types == {"ppo": RlGamesPpoCfg}


@pytest.mark.parametrize("task", rl_games_tasks())
def test_every_agent_file_validates_and_matches_rsl_rl(task):
    """Each task's rl_games file loads as a typed config, converts to Runner.load's dict, and trains the same
    problem as the task's rsl_rl config (rollout, networks, rates, normalization, asymmetric critic)."""
    cfg = RlGamesLearner.load_cfg(task, "ppo")
    rsl = load_cfg(task, "rsl_rl_cfg_entry_point")
    c = cfg.params.config
    assert c.horizon_length == rsl.num_steps_per_env
    assert (
        c.minibatch_size is None and c.minibatch_size_per_env is not None
    )  # mini-batches at any world count
    assert c.horizon_length // c.minibatch_size_per_env == rsl.algorithm.num_mini_batches
    assert c.mini_epochs == rsl.algorithm.num_learning_epochs
    assert cfg.params.network.mlp.units == rsl.actor.hidden_dims
    assert (c.learning_rate, c.gamma, c.tau) == (
        rsl.algorithm.learning_rate,
        rsl.algorithm.gamma,
        rsl.algorithm.lam,
    )
    assert c.normalize_input == rsl.actor.obs_normalization
    assert c.save_frequency == rsl.save_interval
    if task in LONGER_RSL_RL_REACH:
        assert (c.max_epochs, rsl.max_iterations) == (1000, LONGER_RSL_RL_REACH[task])
    else:
        assert c.max_epochs == rsl.max_iterations
    assert (c.central_value_config is not None) == (rsl.obs_groups["critic"] == ["critic"])
    if c.central_value_config is not None:
        assert c.central_value_config.network.mlp.units == rsl.critic.hidden_dims
    if rsl.clip_actions is not None:
        assert cfg.params.env.clip_actions == rsl.clip_actions
    params = cfg.to_rl_games(num_actors=64, device="cpu", seed=3)["params"]
    assert params["seed"] == 3
    assert params["config"]["num_actors"] == 64 and params["config"]["device"] == "cpu"
    assert "minibatch_size" not in params["config"]  # rl_games would prefer it over minibatch_size_per_env


def test_unknown_field_names_the_field_and_the_allowed_ones():
    data = {"params": {"config": {"horizon_lenght": 16}}}
    with pytest.raises(ConfigError) as err:
        agent_cfg_from_dict(RlGamesPpoCfg, data, "rl_games_ppo_cfg.yaml")
    message = str(err.value)
    assert "\n" not in message
    assert "params.config.horizon_lenght" in message and "Did you mean 'horizon_length'" in message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"params": {"config": {"gamma": "high"}}}, "params.config.gamma"),
        ({"params": {"network": {"mlp": {"units": "64"}}}}, "params.network.mlp.units"),
        ({"params": {"network": {"space": {"continuous": {"mu_activation": "relux"}}}}}, "mu_activation"),
        ({"params": {"config": {"central_value_config": {"mini_epochs": 2.5}}}}, "mini_epochs"),
        ({"params": {"config": {"central_value_config": {"minibatch_siz": 4}}}}, "minibatch_siz"),
    ],
)
def test_mistyped_value_names_the_field(data, field):
    with pytest.raises(ConfigError) as err:
        agent_cfg_from_dict(RlGamesPpoCfg, data, "rl_games_ppo_cfg.yaml")
    assert field in str(err.value) and "\n" not in str(err.value)


ISAAC_LAB_FILE = """
params:
  seed: 42
  env: {clip_observations: 5.0, clip_actions: 1.0}
  algo: {name: a2c_continuous}
  model: {name: continuous_a2c_logstd}
  network:
    name: actor_critic
    separate: False
    space: {continuous: {mu_activation: None, sigma_activation: None, mu_init: {name: default},
            sigma_init: {name: const_initializer, val: 0}, fixed_sigma: True}}
    mlp: {units: [32, 32], activation: elu, d2rl: False, initializer: {name: default}, regularizer: {name: None}}
  load_checkpoint: False
  load_path: ''
  config: {name: cartpole, env_name: rlgpu, learning_rate: 3e-4, lr_schedule: adaptive, minibatch_size: 8192}
"""


def test_isaac_lab_style_file_carries_over(tmp_path):
    """Isaac Lab's files write `learning_rate: 3e-4` (a string to PyYAML) and say `env_name: rlgpu`."""
    assert isinstance(yaml.safe_load(ISAAC_LAB_FILE)["params"]["config"]["learning_rate"], str)
    path = tmp_path / "rl_games_ppo_cfg.yaml"
    path.write_text(ISAAC_LAB_FILE)
    cfg = RlGamesLearner.cfg_from_file(path, "ppo")
    assert cfg.params.config.learning_rate == pytest.approx(3e-4)
    assert cfg.params.network.space.continuous.sigma_init.val == 0
    params = cfg.to_rl_games(num_actors=512, device="cpu", seed=1)["params"]
    assert params["config"]["env_name"] == "roboforge" and params["config"]["minibatch_size"] == 8192


def test_minibatch_that_does_not_split_the_rollout_is_refused():
    """Isaac Lab's fixed minibatch_size (8192) does not split 64 worlds x 16 steps: one clear line."""
    with pytest.raises(UserInputError) as err:
        make_learner(64, overrides={"params.config.minibatch_size": 8192})
    assert "minibatch_size_per_env" in str(err.value) and "\n" not in str(err.value)


# --- the env wrapper -------------------------------------------------------------------------------
def test_wrapper_spaces_observations_and_time_outs():
    env = make_cartpole(8)
    recorder = StepRecorder(env.num_envs, env.device)
    venv = RlGamesVecEnvWrapper(env, recorder, clip_actions=2.0, clip_observations=0.5)
    info = venv.get_env_info()
    d = env.obs_dims["policy"]
    assert info["observation_space"].shape == (d,) and "state_space" not in info
    assert info["action_space"].shape == (env.num_actions,)
    assert float(info["action_space"].high.max()) == 2.0 and float(info["action_space"].low.min()) == -2.0
    sent = []
    env_step = env.step
    env.step = lambda a: sent.append(a.clone()) or env_step(a)
    env.episode_length_buf[:] = int(env.max_episode_length) - 1  # every world times out on this step
    obs, reward, dones, infos = venv.step(torch.full((8, env.num_actions), 50.0))
    assert set(obs) == {"obs"} and obs["obs"].shape == (8, d)
    assert float(obs["obs"].abs().max()) <= 0.5
    assert reward.shape == (8,) and dones.dtype == torch.bool and bool(dones.all())
    assert bool(infos["time_outs"].all())
    assert float(sent[0].max()) == 2.0  # clipped to the action bounds before the env
    _, mean_len, episodes = recorder.episodes.pop()
    assert episodes == 8 and mean_len == 1.0  # the recorder counts from its own start


def test_wrapper_states_concatenate_the_state_groups():
    env = make_cartpole(4)
    venv = RlGamesVecEnvWrapper(env, StepRecorder(4, env.device), 1.0, state_groups=["policy", "policy"])
    d = env.obs_dims["policy"]
    assert venv.get_env_info()["state_space"].shape == (2 * d,)
    obs = venv.reset()
    assert obs["states"].shape == (4, 2 * d)
    torch.testing.assert_close(obs["states"][:, :d], obs["obs"])


@requires_go1
def test_asymmetric_critic_on_the_critic_group():
    """Locomotion: "states" are the 'critic' observations; rl_games' central value trains on them."""
    learner = make_learner(4, task="velocity-flat-go1")
    dims = learner.env.obs_dims
    assert learner.venv.state_groups == ["critic"]
    assert learner.venv.get_env_info()["state_space"].shape == (dims["critic"],)
    metrics = learner.iterate()
    assert learner.agent.has_central_value
    assert {"Loss/value_head", "Loss/value", "Loss/surrogate", "Policy/mean_std"} <= set(metrics)
    assert metrics["Loss/value"] == learner.central_value_loss
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())


# --- learning --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    """Cart-pole trained with rl_games' PPO until the pole balances: (learner, iterations, mean lengths)."""
    learner = make_learner(TRAIN_ENVS)
    env = learner.env
    env.episode_length_buf[:] = torch.randint_like(env.episode_length_buf, high=int(env.max_episode_length))
    lengths: list[float] = []
    for _ in range(MAX_TRAIN_ITERATIONS):
        learner.iterate()
        lengths.append(learner.recorder.episodes.pop()[1])
        if len(lengths) >= 3 and min(lengths[-3:]) >= BALANCED_LENGTH:
            break
    return learner, lengths


@pytest.mark.slow
def test_learns_to_balance(trained):
    learner, lengths = trained
    assert min(lengths[-3:]) >= BALANCED_LENGTH, (
        f"mean episode lengths of the last iterations: {lengths[-3:]}"
    )
    assert max(lengths[:3]) < 150, "the first iterations should be far from balancing"
    assert learner.recorder.pop_finite()
    assert learner.agent.epoch_num == len(lengths)


def test_iterate_reports_losses_under_rsl_rl_tags_and_keeps_the_env_state():
    learner = make_learner(16)
    learner.env.episode_length_buf[:] = 100  # a reset at the start would undo the trainer's spread
    metrics = learner.iterate()
    continued = learner.env.episode_length_buf == 100 + learner.steps_per_iteration  # not reset first
    assert int(continued.sum()) >= learner.env.num_envs // 2, learner.env.episode_length_buf
    tags = {"Loss/surrogate", "Loss/value", "Loss/entropy", "Loss/learning_rate", "Policy/mean_std"}
    assert tags | {"Loss/bounds", "Loss/kl"} == set(metrics)
    assert metrics["Policy/mean_std"] == pytest.approx(1.0, abs=0.1)  # sigma_init 0: std 1, one update
    assert (learner.steps_per_iteration, learner.max_iterations, learner.save_interval) == (16, 150, 50)


@pytest.mark.slow
def test_checkpoint_round_trip_and_rl_games_restore(trained, tmp_path):
    learner, _ = trained
    path = tmp_path / "model_9.pth"
    buffer = io.BytesIO()
    learner.save(buffer)
    path.write_bytes(buffer.getvalue())
    fresh = make_learner(TRAIN_ENVS)
    assert not torch.equal(flat_weights(fresh), flat_weights(learner))
    fresh.load(path, training=True)
    assert torch.equal(flat_weights(fresh), flat_weights(learner))
    assert fresh.agent.epoch_num == learner.agent.epoch_num
    assert fresh.agent.last_lr == learner.agent.optimizer.param_groups[0]["lr"]
    assert (
        fresh.agent.optimizer.state_dict()["state"].keys()
        == learner.agent.optimizer.state_dict()["state"].keys()
    )
    other = make_learner(TRAIN_ENVS)
    other.agent.restore(str(path))  # rl_games' own loader
    assert torch.equal(flat_weights(other), flat_weights(learner))
    obs = learner.env.obs_buf
    torch.testing.assert_close(other.policy()(obs), learner.policy()(obs), rtol=0, atol=0)
    evaluating = make_learner(8)
    evaluating.load(path, training=False)
    torch.testing.assert_close(evaluating.policy()(obs), learner.policy()(obs), rtol=0, atol=0)


@pytest.mark.parametrize(("clip_actions", "separate"), [(True, False), (False, True)])
def test_policy_is_rl_games_deterministic_action(tmp_path, clip_actions, separate):
    """policy() equals rl_games' own player with is_deterministic=True, followed by the wrapper's clip:
    observation clip, input normalizer, actor MLP, mean head, and the action preprocessing."""
    overrides = {
        "params.config.normalize_input": True,
        "params.env.clip_observations": 3.0,
        "params.env.clip_actions": 0.7,
        "params.config.clip_actions": clip_actions,
        "params.network.separate": separate,
    }
    learner = make_learner(32, overrides=overrides)
    for _ in range(2):  # moves the normalizer's statistics and the weights away from their start
        learner.iterate()
    path = tmp_path / "model_1.pth"
    with path.open("wb") as f:
        learner.save(f)
    from rl_games.torch_runner import Runner

    runner = Runner()
    runner.load(learner.cfg.to_rl_games(num_actors=32, device="cpu", seed=0))
    player = runner.create_player()
    player.restore(str(path))
    player.has_batch_dimension = True
    raw = {k: v * 4.0 for k, v in learner.env.obs_buf.items()}  # some beyond the observation clip
    rl_games_obs = raw["policy"].clamp(-3.0, 3.0)  # what the wrapper gives rl_games
    expected = player.get_action(rl_games_obs, is_deterministic=True).clamp(-0.7, 0.7)
    policy = learner.policy()
    assert not policy.training and policy.obs_normalization
    torch.testing.assert_close(policy(raw), expected, rtol=0, atol=0)
    torch.testing.assert_close(policy.as_onnx()(raw["policy"]), expected, rtol=0, atol=0)
    assert float(expected.abs().max()) <= 0.7


def test_policy_exports_to_onnx_and_torchscript(tmp_path):
    overrides = {"params.config.normalize_input": True, "params.env.clip_observations": 5.0}
    policy = make_learner(8, overrides=overrides).policy()
    example = torch.randn(4, policy.obs_dim)
    torch.onnx.export(policy.as_onnx().eval(), (example,), str(tmp_path / "policy.onnx"), dynamo=True)
    assert (tmp_path / "policy.onnx").stat().st_size > 0
    # TorchScript without the normalizer: base.Standardize's class-level buffer annotations do not script
    overrides = {"params.env.clip_observations": 5.0, "params.config.clip_actions": True}
    policy = make_learner(8, overrides=overrides).policy()
    scripted = torch.jit.script(policy.as_jit())
    torch.testing.assert_close(scripted(example), policy(example), rtol=0, atol=0)


def test_foreign_checkpoints_are_refused_with_one_line(tmp_path):
    learner = make_learner(8)
    rsl = tmp_path / "model_3.pt"
    torch.save({"actor_state_dict": {}, "critic_state_dict": {}, "iter": 3}, rsl)
    skrl = tmp_path / "agent_3.pt"
    torch.save({"policy": {}, "value": {}}, skrl)
    sb3 = tmp_path / "model_3.zip"
    with zipfile.ZipFile(sb3, "w") as z:
        z.writestr("data", "{}")
        z.writestr("policy.pth", b"")
    other = tmp_path / "other.pth"
    torch.save({"weights": 1}, other)
    for path, words in [
        (rsl, "rsl_rl"),
        (skrl, "skrl"),
        (sb3, "Stable-Baselines3"),
        (other, "not an rl_games"),
    ]:
        with pytest.raises(UserInputError) as err:
            learner.load(path, training=False)
        assert words in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_checkpoint_of_other_networks_is_refused(tmp_path):
    small = make_learner(8, overrides={"params.network.mlp.units": [16]})
    path = tmp_path / "model_0.pth"
    with path.open("wb") as f:
        small.save(f)
    with pytest.raises(UserInputError) as err:
        make_learner(8).load(path, training=True)
    assert "does not fit" in str(err.value) and "\n" not in str(err.value)
