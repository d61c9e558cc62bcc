"""Navigation on legs (issue 19, `navigation-go1`): frozen velocity policies (one made here from the velocity
task's agent config, saved as an rsl_rl checkpoint and a TorchScript export; the shipped ONNX) drive the Go1;
the high-level action reaches their command input, the step is graph-safe, bad policy files are one-line
errors, success and rewards follow the goal distance."""

from __future__ import annotations

import json
import math

import pytest
import torch
from tensordict import TensorDict

from graph_util import HostCallRecorder
from roboforge.envs import load_cfg, make_env
from roboforge.export.jit_export import export_jit
from roboforge.mdp.actions.frozen_policy import load_frozen_policy
from roboforge.mdp.actions.pre_trained_policy_action import GROUP, PreTrainedPolicyAction
from roboforge.mdp.commands.pose2d_goal_command import Pose2dGoalCommand
from roboforge.mdp.pose2d_rewards import pose2d_heading_error_abs, pose2d_position_error_tanh
from roboforge.tasks.navigation.navigation_go1_env_cfg import DEFAULT_POLICY
from roboforge.utils.errors import UserInputError

TASK = "navigation-go1"
ACTION = "velocity_command"
COMMAND = "pose_command"
GO1_OBS, GO1_JOINTS = 48, 12  # the velocity task's policy group: 3 + 3 + 3 + 3 (command) + 12 + 12 + 12


def actor(obs_dim: int = GO1_OBS, action_dim: int = GO1_JOINTS):
    """rsl_rl's actor as `velocity-flat-go1`'s agent config builds it, with a non-trivial normalizer."""
    from rsl_rl.models.mlp_model import MLPModel

    spec = load_cfg("velocity-flat-go1", "rsl_rl_cfg_entry_point").actor.to_rsl_rl(stochastic=True)
    spec.pop("class_name")
    obs = TensorDict({"policy": torch.zeros(2, obs_dim)}, batch_size=[2])
    torch.manual_seed(0)
    model = MLPModel(obs, {"actor": ["policy"]}, "actor", action_dim, **spec)
    normalizer = model.obs_normalizer.state_dict()
    normalizer["_mean"].normal_()
    normalizer["_std"].uniform_(0.5, 2.0)
    return model.eval()


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    """The same actor as an rsl_rl checkpoint (in a run folder) and a TorchScript export; the shipped ONNX."""
    model, root = actor(), tmp_path_factory.mktemp("policies")
    (root / "run" / "params").mkdir(parents=True)
    torch.save({"actor_state_dict": model.state_dict(), "iter": 0}, root / "run" / "model_0.pt")
    (root / "run" / "params" / "agent.json").write_text(json.dumps({"actor": {"activation": "elu"}}))
    jit = export_jit(model, {"task": "velocity-flat-go1"}, root / "policy.pt")
    return {"model": model, "checkpoint": root / "run" / "model_0.pt", "jit": jit, "onnx": DEFAULT_POLICY}


def nav_env(policy_path, num_envs: int = 4, backend: str = "mujoco"):
    cfg = load_cfg(TASK, num_envs=num_envs)
    cfg.sim.backend = backend
    cfg.actions[ACTION].policy_path = str(policy_path)
    return make_env(TASK, cfg)


@pytest.fixture(scope="module")
def env(policies):
    return nav_env(policies["checkpoint"])


def term_of(env) -> PreTrainedPolicyAction:
    term = env.action_manager.terms[ACTION]
    assert isinstance(term, PreTrainedPolicyAction)
    return term


def test_checkpoint_and_torchscript_run_the_actor_they_were_made_from(policies):
    model = policies["model"]
    obs = torch.randn(64, GO1_OBS) * 2.0
    with torch.no_grad():
        expected = model(TensorDict({"policy": obs}, batch_size=[64]))
        for kind in ("checkpoint", "jit"):
            got = load_frozen_policy(policies[kind], "cpu")(obs)
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5, msg=kind)


def test_onnx_graph_in_torch_matches_onnx_runtime():
    import onnxruntime as ort

    obs = torch.randn(64, GO1_OBS) * 3.0  # beyond the export's +-5 clip of normalized inputs too
    session = ort.InferenceSession(str(DEFAULT_POLICY), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: obs.numpy()})[0]
    with torch.no_grad():
        got = load_frozen_policy(DEFAULT_POLICY, "cpu")(obs)
    torch.testing.assert_close(got, torch.from_numpy(expected), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("backend", "kind"), [("mujoco", "onnx"), ("mjwarp", "checkpoint")])
def test_builds_and_steps_on_both_backends(policies, backend, kind):
    env = nav_env(policies[kind], num_envs=4, backend=backend)
    assert env.cfg.decimation == 40 and env.num_actions == 3 and env.obs_dims["policy"] == 10
    assert term_of(env).observations.group_dims[GROUP] == GO1_OBS
    env.reset(seed=1)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        obs, reward, *_ = env.step(torch.rand(4, 3, generator=g) * 4 - 2)
        assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
    env.close()


class Recorder(torch.nn.Module):
    """Calls the frozen policy and keeps every observation it was given and every action it returned."""

    def __init__(self, policy):
        super().__init__()
        self.policy, self.inputs, self.outputs = policy, [], []

    def forward(self, obs):
        out = self.policy(obs)
        self.inputs.append(obs.clone())
        self.outputs.append(out.clone())
        return out


def test_high_level_action_reaches_the_low_level_command(env):
    term = term_of(env)
    dims = term.observations.term_dims[GROUP]
    start = list(dims).index("velocity_commands")
    cmd_cols = slice(sum(list(dims.values())[:start]), sum(list(dims.values())[: start + 1]))
    last_cols = slice(GO1_OBS - GO1_JOINTS, GO1_OBS)
    recorder, original = Recorder(term.policy), term.policy
    term.policy = recorder
    try:
        env.reset(seed=2)
        action = torch.tensor([[2.0, -0.3, -5.0], [0.5, 0.7, 0.2], [-3.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
        env.step(action)
    finally:
        term.policy = original
    assert len(recorder.inputs) == 10  # one low-level step per 4 of the 40 physics steps
    clipped = torch.tensor([[1.0, -0.3, -1.0], [0.5, 0.7, 0.2], [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    for k, obs in enumerate(recorder.inputs):
        torch.testing.assert_close(obs[:, cmd_cols], clipped)
        previous = recorder.outputs[k - 1] if k else torch.zeros(4, GO1_JOINTS)
        torch.testing.assert_close(obs[:, last_cols], previous)  # the low level's own last action
    robot, joint_pos = env.scene["robot"], term.low_level
    expected = robot.default_joint_pos[:, joint_pos.joint_ids] + 0.25 * recorder.outputs[-1]
    torch.testing.assert_close(robot.joint_pos_target[:, joint_pos.joint_ids], expected)


def test_env_step_has_no_host_sync(env):
    actions = torch.rand(env.num_envs, env.num_actions) * 2 - 1
    env.step(actions)
    env.episode_length_buf[:2] = env.max_episode_length - 1  # worlds 0 and 1 time out: masked resets run
    recorder = HostCallRecorder()
    with recorder:
        env.step(actions)
        env.step(actions)
    assert not recorder.calls, f"the env step makes host calls {sorted(set(recorder.calls))}"


def test_success_and_rewards_follow_the_goal(env):
    command = env.command_manager.terms[COMMAND]
    assert isinstance(command, Pose2dGoalCommand)
    env.reset(seed=3)
    root = env.scene["robot"].data.root_pos_w.clone()
    offsets = torch.tensor([[0.3, 0.0, 0.0], [0.0, 0.4, 0.0], [2.0, 0.0, 0.0], [0.0, -3.0, 0.0]])
    command.pos_command_w[:] = root + offsets
    command.heading_command_w[:] = 0.0
    command._update()
    assert command.metrics["success"].tolist() == [1.0, 1.0, 0.0, 0.0]
    distance = offsets[:, :2].norm(dim=1)
    fine = pose2d_position_error_tanh(env, std=0.2, command_name=COMMAND)
    torch.testing.assert_close(fine, 1.0 - torch.tanh(distance / 0.2), atol=1e-4, rtol=0)
    heading = pose2d_heading_error_abs(env, command_name=COMMAND)
    assert ((heading >= 0) & (heading <= math.pi + 1e-6)).all()


def test_success_is_logged_at_the_end_of_an_episode(env):
    command = env.command_manager.terms[COMMAND]
    env.reset(seed=4)
    env.pop_episode_stats()
    near = torch.tensor([True, False, True, False])
    root = env.scene["robot"].data.root_pos_w
    command.pos_command_w[:] = torch.where(near[:, None], root, root + torch.tensor([4.0, 0.0, 0.0]))
    env.episode_length_buf[:] = env.max_episode_length - 2  # the next step is counted, the one after ends
    zero = torch.zeros(env.num_envs, env.num_actions)
    env.step(zero)
    env.step(zero)
    assert env.pop_episode_stats()["Metrics/pose_command/success"] == pytest.approx(0.5)


@pytest.mark.parametrize("bad", ["missing", "text", "other_task"])
def test_a_bad_policy_file_is_one_line_naming_the_override(env, policies, tmp_path, bad):
    path = tmp_path / "model_0.pt"
    if bad == "text":
        path.write_text("not a policy")
    elif bad == "other_task":  # a cart-pole sized actor: 4 observations, 1 action
        torch.save({"actor_state_dict": actor(4, 1).state_dict()}, path)
    cfg = env.cfg.actions[ACTION]
    kept = cfg.policy_path
    cfg.policy_path = str(path)
    try:
        with pytest.raises(UserInputError) as err:
            cfg.build(env)
    finally:
        cfg.policy_path = kept
    message = str(err.value)
    assert "\n" not in message and f"env.actions.{ACTION}.policy_path" in message, message
    assert str(path) in message


def test_the_shipped_low_level_policy_follows_the_commands():
    """The default policy file (velocity-flat-go1, ONNX) walks the Go1 at the commanded body velocities: the
    low-level observation is built in the layout it was trained on."""
    cfg = load_cfg(TASK, num_envs=3)
    env = make_env(TASK, cfg)
    assert cfg.actions[ACTION].policy_path == str(DEFAULT_POLICY) and DEFAULT_POLICY.is_file()
    env.reset(seed=5)
    command = torch.tensor([[1.0, 0.0, 0.0], [0.0, -0.8, 0.0], [0.0, 0.0, 1.0]])
    for _ in range(8):  # 1.6 s
        _, _, terminated, *_ = env.step(command)
        assert not terminated.any()
    data = env.scene["robot"].data
    velocity = torch.cat((data.root_lin_vel_b[:, :2], data.root_ang_vel_b[:, 2:]), dim=1)
    torch.testing.assert_close(velocity, command, atol=0.3, rtol=0)


def test_no_policy_path_is_one_line():
    cfg = load_cfg(TASK, num_envs=2)
    cfg.actions[ACTION].policy_path = None
    with pytest.raises(UserInputError, match=rf"set env\.actions\.{ACTION}\.policy_path=PATH") as err:
        make_env(TASK, cfg)
    assert "\n" not in str(err.value)
