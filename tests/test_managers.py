"""Managers on a small fake env (SimpleNamespace) and on a real cart-pole env with a few worlds."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch

from conftest import make_task_env, world_mask
from roboforge import mdp
from roboforge.managers import (
    ActionManager,
    ActionTerm,
    ActionTermCfg,
    CommandManager,
    CommandTerm,
    CommandTermCfg,
    CurriculumManager,
    CurriculumTermCfg,
    EventManager,
    EventTermCfg,
    GaussianNoiseCfg,
    ObservationGroupCfg,
    ObservationManager,
    ObservationTermCfg,
    RewardManager,
    RewardTermCfg,
    TerminationManager,
    TerminationTermCfg,
    UniformNoiseCfg,
)
from roboforge.utils.config import ConfigError

N = 4


def fake_env(num_envs: int = N, seed: int = 0, **extra) -> SimpleNamespace:
    """What managers read from an env: num_envs, device, rng, plus test state."""
    return SimpleNamespace(
        num_envs=num_envs,
        device=torch.device("cpu"),
        rng=torch.Generator().manual_seed(seed),
        max_episode_length_s=10.0,
        value=torch.zeros(num_envs, 2),
        **extra,
    )


def value_obs(env) -> torch.Tensor:
    """The fake env's `value` tensor (num_envs, 2)."""
    return env.value.clone()


def scaled_value_obs(env, factor: float, offset: float = 0.0) -> torch.Tensor:
    return env.value * factor + offset


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


class CountingObs:
    """A stateful observation term: counts calls per world, cleared by reset(mask)."""

    def __init__(self, env, start: float = 0.0):
        self.count = torch.full((env.num_envs, 1), start)

    def __call__(self, env):
        self.count += 1
        return self.count.clone()

    def reset(self, mask):
        self.count[mask] = 0.0


def test_class_observation_term_is_built_with_params_and_reset_by_mask():
    env = fake_env()
    group = ObservationGroupCfg(terms={"c": ObservationTermCfg(func=CountingObs, params={"start": 10.0})})
    mgr = ObservationManager({"policy": group}, env)  # the build calls the term once to get its size
    obs = mgr.compute()["policy"]
    torch.testing.assert_close(obs[:, 0], torch.full((N,), 12.0))
    mgr.reset(world_mask(True, False, False, True))
    obs = mgr.compute()["policy"]
    torch.testing.assert_close(obs[:, 0], torch.tensor([1.0, 13.0, 13.0, 1.0]))


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


# --- events ------------------------------------------------------------------------------------------------
def bump(env, env_mask: torch.Tensor, amount: float = 1.0) -> None:
    """Add `amount` to the counter of the selected worlds only."""
    env.counter[:] = torch.where(env_mask, env.counter + amount, env.counter)


def test_event_startup_and_reset_modes():
    env = fake_env(counter=torch.zeros(N))
    mgr = EventManager(
        {
            "once": EventTermCfg(func=bump, mode="startup", params={"amount": 100.0}),
            "on_reset": EventTermCfg(func=bump, mode="reset"),
        },
        env,
    )
    mgr.apply("startup")
    assert env.counter.tolist() == [100.0] * N
    mgr.apply("reset", world_mask(False, True, False, True))
    assert env.counter.tolist() == [100.0, 101.0, 100.0, 101.0]
    assert mgr.has_mode("reset") and not mgr.has_mode("interval")


def test_interval_event_fires_on_per_world_timers():
    n, dt, steps = 16, 0.05, 60  # 3 s
    env = fake_env(num_envs=n, counter=torch.zeros(n))
    mgr = EventManager({"push": EventTermCfg(func=bump, mode="interval", interval_range_s=(0.2, 0.6))}, env)
    fired_at = []
    for _ in range(steps):
        before = env.counter.clone()
        mgr.apply("interval", dt=dt)
        fired_at.append(env.counter != before)
    fired = torch.stack(fired_at)  # (steps, n)
    counts = fired.sum(0)
    # every world fires between 3 s / 0.6 s and 3 s / 0.2 s times (one step of slack either way)
    assert counts.min() >= 4 and counts.max() <= 15
    # timers are per world: worlds do not all fire at the same steps
    assert not (fired == fired[:, :1]).all()
    assert len({tuple(col.tolist()) for col in fired.T}) > 1
    # nothing fires before the shortest interval has passed
    assert not fired[:3].any()


def test_event_bad_mode_and_missing_interval_raise():
    env = fake_env(counter=torch.zeros(N))
    with pytest.raises(ConfigError, match=r"'bad'.*'startup', 'reset' or 'interval'.*'sometimes'"):
        EventManager({"bad": EventTermCfg(func=bump, mode="sometimes")}, env)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="interval_range_s"):
        EventManager({"push": EventTermCfg(func=bump, mode="interval")}, env)


# --- commands ------------------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class RandomTargetCfg(CommandTermCfg):
    """A 2-d random target."""

    low: float = -1.0
    high: float = 1.0

    def build(self, env) -> CommandTerm:
        return RandomTarget(self, env)


class RandomTarget(CommandTerm):
    """Uniform 2-d target; counts how often each world was resampled."""

    def __init__(self, cfg: RandomTargetCfg, env):
        super().__init__(cfg, env)
        self.target = torch.zeros(env.num_envs, 2)
        self.resamples = torch.zeros(env.num_envs, dtype=torch.long)
        self.updates = 0

    @property
    def command(self) -> torch.Tensor:
        return self.target

    def _resample(self, mask: torch.Tensor) -> None:
        new = (
            torch.rand(self.num_envs, 2, generator=self.env.rng) * (self.cfg.high - self.cfg.low)
            + self.cfg.low
        )
        self.target[:] = torch.where(mask[:, None], new, self.target)
        self.resamples += mask.long()

    def _update(self) -> None:
        self.updates += 1


def test_command_term_resamples_on_timer_and_on_reset():
    env = fake_env()
    mgr = CommandManager({"target": RandomTargetCfg(resampling_time_range=(0.5, 0.5))}, env)
    term = mgr.terms["target"]
    dt = 0.125  # exact in binary: the 0.5 s timer runs out after exactly 4 steps
    mgr.compute(dt)  # timers start at 0: every world samples at once
    assert term.resamples.tolist() == [1] * N
    first = mgr.get_command("target").clone()
    assert (first.abs() <= 1.0).all() and not torch.equal(first[0], first[1])
    for _ in range(3):
        mgr.compute(dt)
    assert term.resamples.tolist() == [1] * N
    torch.testing.assert_close(mgr.get_command("target"), first)
    mgr.compute(dt)
    assert term.resamples.tolist() == [2] * N
    assert term.updates == 5
    second = mgr.get_command("target").clone()
    mask = world_mask(True, False, False, True)
    mgr.reset(mask)
    assert term.resamples.tolist() == [3, 2, 2, 3]
    after = mgr.get_command("target")
    torch.testing.assert_close(after[~mask], second[~mask])
    assert not torch.equal(after[mask], second[mask])
    torch.testing.assert_close(term.time_left[mask], torch.full((2,), 0.5))


def test_unknown_command_name_lists_commands():
    mgr = CommandManager({"target": RandomTargetCfg()}, fake_env())
    with pytest.raises(ConfigError, match=r"'velocity'.*Commands: target"):
        mgr.get_command("velocity")


def test_command_cfg_without_build_says_what_to_implement():
    with pytest.raises(NotImplementedError, match="CommandTermCfg must implement build"):
        CommandManager({"x": CommandTermCfg()}, fake_env())


# --- curriculum -------------------------------------------------------------------------------------------------
def record_mask(env, env_mask: torch.Tensor, level_step: float) -> torch.Tensor:
    env.levels[:] = torch.where(env_mask, env.levels + level_step, env.levels)
    env.seen_masks.append(env_mask.clone())
    return env.levels.mean()


def test_curriculum_term_gets_mask_and_logs_value():
    env = fake_env(levels=torch.zeros(N), seen_masks=[])
    mgr = CurriculumManager({"terrain": CurriculumTermCfg(func=record_mask, params={"level_step": 1.0})}, env)
    mask = world_mask(True, True, False, False)
    mgr.compute(mask)
    assert len(env.seen_masks) == 1 and torch.equal(env.seen_masks[0], mask)
    assert env.levels.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert float(mgr.state["Curriculum/terrain"]) == 0.5


# --- actions ------------------------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class RecordCfg(ActionTermCfg):
    dim: int = 2

    def build(self, env):
        return RecordTerm(self.dim)


class RecordTerm(ActionTerm):
    def __init__(self, dim: int):
        self.action_dim = dim
        self.seen: list[torch.Tensor] = []
        self.reset_masks: list[torch.Tensor] = []

    def process(self, actions):
        self.seen.append(actions.clone())

    def apply(self):
        pass

    def reset(self, mask):
        self.reset_masks.append(mask.clone())


def test_action_manager_splits_tracks_previous_and_resets_masked():
    env = fake_env()
    mgr = ActionManager({"a": RecordCfg(dim=2), "b": RecordCfg(dim=1)}, env)
    assert mgr.total_action_dim == 3
    first = torch.arange(12.0).reshape(N, 3)
    mgr.process_action(first)
    mgr.process_action(first + 100)
    torch.testing.assert_close(mgr.prev_action, first)
    torch.testing.assert_close(mgr.terms["a"].seen[-1], (first + 100)[:, :2])
    torch.testing.assert_close(mgr.terms["b"].seen[-1], (first + 100)[:, 2:])
    mask = world_mask(False, True, False, False)
    mgr.reset(mask)
    assert (mgr.action[1] == 0).all() and (mgr.prev_action[1] == 0).all()
    torch.testing.assert_close(mgr.action[0], first[0] + 100)
    assert torch.equal(mgr.terms["b"].reset_masks[-1], mask)
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        mgr.process_action(torch.zeros(N, 2))


def test_action_manager_needs_terms():
    with pytest.raises(ConfigError, match="no action terms"):
        ActionManager({}, fake_env())


# --- parameter checks ---------------------------------------------------------------------------------------------
def test_unknown_term_parameter_names_it_and_lists_allowed():
    env = fake_env()
    cfg = RewardTermCfg(func=mdp.joint_pos_target_l2, weight=1.0, params={"targt": 0.0})
    with pytest.raises(ConfigError) as err:
        RewardManager({"pose": cfg}, env)
    msg = str(err.value)
    assert "'targt'" in msg and "'pose'" in msg and "joint_pos_target_l2" in msg
    assert "Did you mean 'target'" in msg
    assert "Allowed: asset_name, joint_names, target" in msg


def test_missing_required_parameter_raises():
    env = fake_env()
    cfg = ObservationTermCfg(func=scaled_value_obs, params={"offset": 1.0})
    with pytest.raises(ConfigError, match=r"observation term 'policy.v'.*missing parameters: factor"):
        ObservationManager({"policy": ObservationGroupCfg(terms={"v": cfg})}, env)


def test_event_term_params_exclude_env_mask():
    env = fake_env(counter=torch.zeros(N))
    with pytest.raises(ConfigError, match=r"'env_mask'.*Allowed: amount"):
        EventManager({"x": EventTermCfg(func=bump, mode="reset", params={"env_mask": None})}, env)


def test_class_term_params_are_checked_against_init():
    env = fake_env()
    cfg = ObservationTermCfg(func=CountingObs, params={"begin": 1.0})
    with pytest.raises(ConfigError, match=r"'begin'.*Allowed: start"):
        ObservationManager({"policy": ObservationGroupCfg(terms={"c": cfg})}, env)


def test_non_callable_term_raises():
    with pytest.raises(ConfigError, match="must be callable"):
        TerminationManager({"t": TerminationTermCfg(func="time_out")}, fake_env())  # type: ignore[arg-type]


def test_task_config_with_bad_term_param_fails_at_build():
    from roboforge.envs import load_cfg, make_env

    cfg = load_cfg("cartpole", num_envs=2)
    cfg.rewards["pole_pos"].params["tolerance"] = 0.1
    with pytest.raises(
        ConfigError, match=r"reward term 'pole_pos'.*'tolerance'.*Allowed: asset_name, joint_names, target"
    ):
        make_env("cartpole", cfg)


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
