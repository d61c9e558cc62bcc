"""rsl_rl's PPO as device functions (`rsl_rl_rollout.py`, `rsl_rl_update.py`) against rsl_rl's own code.

The rollout step and the minibatch update are rewritten to run from CUDA graphs on GPU; on the CPU they
run the same code eagerly, so these tests compare them with rsl_rl's `PPO.act`/`process_env_step` and
`PPO.update` on the same weights, batch and seed, check that they make no host call a graph cannot
replay, and that rsl_rl's own `OnPolicyRunner.load` reads the checkpoints.
"""

from __future__ import annotations

import copy

import pytest
import torch
from rsl_rl.runners import OnPolicyRunner

from graph_util import HostCallRecorder
from roboforge.rl.libraries.rsl_rl_update import plain_optimizer_state
from roboforge.rl.session import build_session
from roboforge.utils.config import ConfigError

NUM_ENVS = 32


NORMALIZED = {"actor.obs_normalization": True, "critic.obs_normalization": True}
# One std per action (rsl_rl's GaussianDistribution) and a std the network outputs per state
# (HeteroscedasticGaussianDistribution): the device loop runs both.
STD_KINDS = pytest.mark.parametrize("state_dependent_std", [False, True], ids=["std-param", "std-per-state"])


def cartpole_session(seed: int = 0, state_dependent_std: bool = False):
    """Cart-pole with rsl_rl's observation normalizers on (the update refreshes them)."""
    torch.manual_seed(seed)  # network initialisation
    overrides = {**NORMALIZED, "actor.state_dependent_std": state_dependent_std}
    return build_session("cartpole", num_envs=NUM_ENVS, device="cpu", seed=seed, agent_overrides=overrides)


def rsl_rl_rollout(learner) -> None:
    """rsl_rl's own rollout loop (`_rsl_rl_iteration` without the update)."""
    alg, venv = learner.alg, learner.venv
    obs = venv.get_observations()
    alg.train_mode()
    with torch.inference_mode():
        for _ in range(learner.steps_per_iteration):
            actions = alg.act(obs)
            obs, rewards, dones, extras = venv.step(actions)
            alg.process_env_step(obs, rewards, dones, extras)
        alg.compute_returns(obs)


def device_rollout(learner) -> None:
    from roboforge.rl.libraries.rsl_rl_rollout import RolloutStep

    learner.alg.train_mode()
    rollout = RolloutStep(learner.alg, learner.env, learner.recorder, learner.clip_actions, cuda_graph=False)
    with torch.no_grad():
        rollout.collect()
        learner.alg.compute_returns(rollout.obs)


def storage_tensors(storage) -> dict[str, torch.Tensor]:
    out = {f"obs/{k}": v.clone() for k, v in storage.observations.items()}
    for name in ("actions", "rewards", "dones", "values", "actions_log_prob", "returns", "advantages"):
        out[name] = getattr(storage, name).clone()
    out.update({f"dist/{i}": p.clone() for i, p in enumerate(storage.distribution_params)})
    return out


@STD_KINDS
def test_rollout_matches_rsl_rl(state_dependent_std):
    reference = cartpole_session(state_dependent_std=state_dependent_std).learner
    device = cartpole_session(state_dependent_std=state_dependent_std).learner
    assert device.device_loop
    torch.manual_seed(1)
    rsl_rl_rollout(reference)
    torch.manual_seed(1)
    device_rollout(device)
    expected, got = storage_tensors(reference.alg.storage), storage_tensors(device.alg.storage)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, msg=name)
    assert bool(expected["dones"].any()), "the rollout should cross episode ends (time-out bootstrap, resets)"


def snapshot(alg) -> dict:
    return copy.deepcopy(
        {
            "actor": alg.actor.state_dict(),
            "critic": alg.critic.state_dict(),
            "opt": alg.optimizer.state_dict(),
        }
    )


def restore(alg, state: dict) -> None:
    alg.actor.load_state_dict(state["actor"])
    alg.critic.load_state_dict(state["critic"])
    alg.optimizer.load_state_dict(copy.deepcopy(state["opt"]))


@STD_KINDS
@pytest.mark.parametrize("per_minibatch_advantages", [False, True])
def test_update_matches_rsl_rl(per_minibatch_advantages, state_dependent_std):
    """Same batch, weights and seed: rsl_rl's `PPO.update` and the device update agree (losses, learning
    rate, every parameter and normalizer statistic) to 1e-5."""
    learner = cartpole_session(state_dependent_std=state_dependent_std).learner
    alg = learner.alg
    alg.normalize_advantage_per_mini_batch = per_minibatch_advantages
    alg.desired_kl = 0.001  # small: the adaptive rate changes within the update
    rsl_rl_rollout(learner)
    before, advantages = snapshot(alg), alg.storage.advantages.clone()
    torch.manual_seed(7)
    expected = alg.update()
    expected_lr, expected_params = alg.learning_rate, snapshot(alg)
    restore(alg, before)
    alg.learning_rate = before["opt"]["param_groups"][0]["lr"]
    learner.update.lr.attach()
    alg.storage.advantages = advantages
    torch.manual_seed(7)
    got = learner.update()
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-7), name
    assert expected_lr != before["opt"]["param_groups"][0]["lr"], "the test should exercise the adaptive rate"
    assert alg.learning_rate == pytest.approx(expected_lr, rel=1e-9)
    params = snapshot(alg)
    for model in ("actor", "critic"):
        for key, value in expected_params[model].items():
            torch.testing.assert_close(params[model][key], value, rtol=1e-5, atol=1e-6, msg=f"{model}.{key}")


def test_training_iterations_run_on_the_device_loop(tmp_path):
    """A few iterations through the trainer: the storage is rsl_rl's, reset after each update, and the
    normalizer keeps its buffer tensors (captured graphs read them)."""
    from roboforge.rl.trainer import Trainer

    session = cartpole_session()
    normalizer = session.learner.alg.actor.obs_normalizer
    buffers = {name: buf for name, buf in normalizer.named_buffers()}
    result = Trainer(session, tmp_path, max_iterations=3, quiet=True).train()
    assert result.iterations == 3
    assert session.learner.alg.storage.step == 0
    assert all(getattr(normalizer, name) is buffer for name, buffer in buffers.items())
    assert float(normalizer.count) > 0


def test_a_state_dependent_std_is_learnt_per_state(tmp_path):
    """`actor.state_dependent_std`: the actor is rsl_rl's heteroscedastic Gaussian (no std parameter), and
    after a few iterations its std differs between states, which one std per action cannot."""
    from rsl_rl.modules.distribution import HeteroscedasticGaussianDistribution

    from roboforge.rl.trainer import Trainer

    session = cartpole_session(state_dependent_std=True)
    actor = session.learner.alg.actor
    assert isinstance(actor.distribution, HeteroscedasticGaussianDistribution)
    assert not any("std" in name for name, _ in actor.named_parameters())
    Trainer(session, tmp_path, max_iterations=3, quiet=True).train()
    obs = session.learner.venv.get_observations()
    with torch.no_grad():
        actor(obs, stochastic_output=True)
    std = actor.output_std
    assert std.shape == (NUM_ENVS, 1)
    assert float(std.std()) > 1e-4, "the std should vary across the worlds' states"


def test_noise_std_min_floors_the_sampled_noise_on_the_device_loop(tmp_path):
    """`actor.noise_std_min`: rsl_rl clamps its std parameter from below, and the device rollout samples with the
    clamped std: a 0.05 initial std under a 0.3 floor explores with 0.3 (the actions' spread around the mean)."""
    from roboforge.rl.libraries.rsl_rl_rollout import sample_actions
    from roboforge.rl.trainer import Trainer

    torch.manual_seed(0)
    overrides = {**NORMALIZED, "actor.init_noise_std": 0.05, "actor.noise_std_min": 0.3}
    session = build_session("cartpole", num_envs=NUM_ENVS, device="cpu", seed=0, agent_overrides=overrides)
    actor = session.learner.alg.actor
    assert float(actor.distribution.std_param.min()) == pytest.approx(0.05)
    obs = session.learner.venv.get_observations()
    with torch.no_grad():
        spread = torch.stack([sample_actions(actor, obs) - actor.output_mean for _ in range(200)]).std()
    assert float(spread) == pytest.approx(0.3, rel=0.1)
    assert Trainer(session, tmp_path, max_iterations=2, quiet=True).train().iterations == 2
    with pytest.raises(ConfigError, match=r"noise_std_min -0\.1 must be >= 0"):
        build_session("cartpole", num_envs=2, device="cpu", agent_overrides={"actor.noise_std_min": -0.1})


def test_recurrent_agents_keep_rsl_rls_loop(tmp_path):
    from roboforge.rl.trainer import Trainer

    torch.manual_seed(0)
    session = build_session("cartpole-lstm", num_envs=8, device="cpu")
    assert not session.learner.device_loop and session.learner.update is None
    assert Trainer(session, tmp_path, max_iterations=2, quiet=True).train().iterations == 2


@STD_KINDS
def test_rollout_step_and_minibatch_make_no_host_calls(monkeypatch, state_dependent_std):
    learner = cartpole_session(state_dependent_std=state_dependent_std).learner
    from roboforge.rl.libraries.rsl_rl_rollout import RolloutStep

    learner.alg.train_mode()
    rollout = RolloutStep(learner.alg, learner.env, learner.recorder, learner.clip_actions, cuda_graph=False)
    with torch.no_grad():
        rollout._step()  # first call allocates the distribution buffers, as rsl_rl's first transition does
        recorder = HostCallRecorder()
        with recorder:
            for _ in range(learner.steps_per_iteration - 1):
                rollout._step()
        learner.alg.compute_returns(rollout.obs)
    assert not recorder.calls, f"the rollout step makes host calls {sorted(set(recorder.calls))}"

    update = learner.update
    update.lr.capturable = (
        True  # the GPU setting: the rate stays a device tensor (no float for the CPU optimizer)
    )
    monkeypatch.setattr(learner.alg.optimizer, "step", lambda: None)  # a capturable fused Adam on GPU
    from roboforge.rl.libraries.rsl_rl_update import _flat_views

    update.flat = _flat_views(learner.alg.storage, update.advantages)
    update.advantages.copy_(learner.alg.storage.advantages)
    recorder = HostCallRecorder()
    with recorder:
        update._minibatch()
    assert not recorder.calls, f"the minibatch update makes host calls {sorted(set(recorder.calls))}"


def test_rsl_rls_runner_loads_a_checkpoint_of_a_capturable_optimizer(tmp_path):
    """Checkpoints hold a plain optimizer state (float rate, steps on the CPU) even when training used a
    capturable Adam with a device learning rate; rsl_rl's own `OnPolicyRunner.load` reads them."""
    session = cartpole_session()
    learner = session.learner
    alg = learner.alg
    rsl_rl_rollout(learner)
    alg.update()  # optimizer state exists
    params = alg.optimizer.param_groups[0]["params"]
    lr = torch.tensor(alg.learning_rate)
    capturable = torch.optim.Adam(params, lr=lr, capturable=True)  # as on GPU (constructible on the CPU)
    capturable.load_state_dict(alg.optimizer.state_dict())
    capturable.param_groups[0]["lr"] = lr
    state = plain_optimizer_state(capturable.state_dict())
    assert isinstance(state["param_groups"][0]["lr"], float)
    assert not state["param_groups"][0]["capturable"]
    alg.optimizer = capturable
    path = tmp_path / "model_0.pt"
    with open(path, "wb") as f:
        learner.save(f)
    runner = OnPolicyRunner(learner.venv, session.agent_cfg.to_rsl_rl(), log_dir=None, device="cpu")
    runner.load(str(path))
    loaded = runner.alg.optimizer.param_groups[0]
    assert loaded["lr"] == pytest.approx(float(lr)) and not loaded["capturable"]
    for key, value in alg.actor.state_dict().items():
        torch.testing.assert_close(runner.alg.actor.state_dict()[key], value)


def test_a_failed_graph_capture_is_not_reported_as_divergence(tmp_path, monkeypatch):
    """A capture failure leaves the CUDA state unusable for the divergence check; the trainer passes the
    capture error (which names `-o env.sim.cuda_graph=false`) through instead of calling it a NaN stop."""
    from roboforge.rl.trainer import Trainer
    from roboforge.utils.errors import GraphCaptureError

    session = cartpole_session()

    def fail():
        raise GraphCaptureError(
            "CUDA graph capture of the rsl_rl rollout step failed: ... -o env.sim.cuda_graph=false."
        )

    monkeypatch.setattr(session.learner, "iterate", fail)
    monkeypatch.setattr(session.learner, "diverged", lambda: True)
    with pytest.raises(GraphCaptureError, match="cuda_graph=false"):
        Trainer(session, tmp_path, max_iterations=2, quiet=True).train()
