"""The deploy runtime on ant-manager: its classic-locomotion observation terms (`deploy/heading_terms.py`) against
the training terms on the same MuJoCo states, the target command twin and its metrics, a rollout beside the
training env, clear errors and no torch (the CLI path is in `test_deploy_tasks.py`)."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

from export_util import exported_session, lockstep, world_context
from roboforge.deploy import MujocoSimRobot, PolicyRunner
from roboforge.deploy.episodes import run_sim_episodes

TASK = "ant-manager"
STEPS = 40
WORLDS = 8
NEW_TERMS = {
    "torso_height",
    "lin_vel_heading",
    "ang_vel_heading",
    "angle_to_target",
    "heading_projection",
    "joint_pos_limit_normalized",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`exported(task)`: that task's C-backend session and exported random policy, built once per module. The
    direct 'ant' and 'humanoid' export through their deploy_twins' terms."""
    built = {}

    def get(task: str):
        if task not in built:
            built[task] = exported_session(task, tmp_path_factory.mktemp(task), WORLDS)
        return built[task]

    return get


@pytest.fixture(scope="module")
def ant(exported):
    return exported(TASK)


def test_ant_runtime_terms_and_target_metric_match_training(ant):
    """Random actions in every world: each runtime term equals the training term to 1e-5, and the target twin's
    speed towards the target equals the training command's `forward_speed` of the same state."""
    from roboforge.deploy.sim_commands import command_sims

    session, policy = ant
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    target = command_sims(runner.meta, robot, {})["target"]
    trained_target = env.command_manager.terms["target"]
    gen = torch.Generator().manual_seed(0)
    venv.reset()
    _turn_and_shift(env, gen)
    seen, values, compared = set(), [], 0
    for _ in range(STEPS):
        action = torch.rand(env.num_envs, runner.meta.policy.action_dim, generator=gen) * 2.0 - 1.0
        obs, _, dones, _ = venv.step(action)
        for w in range(env.num_envs):
            if bool(dones[w]):
                continue  # the observation is of the next episode's first state
            ctx = world_context(robot, env, action[w].double().numpy(), w)
            np.testing.assert_allclose(target.command, ctx.commands["target"], atol=1e-9)
            runner.observations.reset()
            got = runner.observations.compute(ctx).astype(np.float64)
            expected = obs["policy"][w].double().numpy()
            for term in runner.observations.terms:
                seen.add(term.spec.func)
                diff = np.abs(got[term.slice] - expected[term.slice]).max()
                assert diff < 1e-5, (term.spec.name, got[term.slice], expected[term.slice])
            speed = float(trained_target.metrics["forward_speed"][w])
            assert abs(target.progress() - speed) < 1e-5, (target.progress(), speed)
            values.append(expected)
            compared += 1
    assert seen >= NEW_TERMS and compared >= STEPS * WORLDS // 2
    spread = np.ptp(np.array(values), axis=0)
    assert spread[1:7].min() > 1e-3, "the heading-frame velocities varied over the compared states"
    assert spread[10] > 3.0 and spread[11] > 1.0, "angles to the target and heading cosines of every side"


def _turn_and_shift(env, gen: torch.Generator) -> None:
    """Turn each world's torso to a random heading and move it up to 5 m in x and y, so the heading frame, the
    angle to the target and the heading cosine take values all around."""
    yaw = (torch.rand(env.num_envs, generator=gen, dtype=torch.float64) * 2.0 - 1.0) * torch.pi
    qpos = env.sim.qpos
    qpos[:, 0:2] += (torch.rand(env.num_envs, 2, generator=gen, dtype=torch.float64) * 2.0 - 1.0) * 5.0
    qpos[:, 3:7] = torch.stack((torch.cos(yaw / 2), 0 * yaw, 0 * yaw, torch.sin(yaw / 2)), dim=1)


@pytest.mark.parametrize("task", [TASK, "ant", "humanoid"])
def test_ant_rollout_follows_training(task, exported):
    """From world 0's reset state, the runtime loop (observation, ONNX policy, effort targets, sim, terminations)
    follows the training env step by step: the manager-based ant, and the direct ant and humanoid through their
    twins' terms (the untrained humanoid falls before 60 steps: the runtime must end the episode with it)."""
    from roboforge.deploy.episodes import EpisodeRules
    from roboforge.deploy.sim_commands import command_sims

    session, policy = exported(task)
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    sims = command_sims(runner.meta, robot, {})
    rules = EpisodeRules(runner.meta, sims)
    obs, _ = venv.reset()
    world_context(robot, env, np.zeros(runner.meta.policy.action_dim), 0)
    runner.reset()
    worst_obs, worst_q, steps = 0.0, 0.0, 0
    target = lambda: {"target": sims["target"].command}  # noqa: E731
    for _, error, done, flags in lockstep(runner, robot, rules, session, obs, target, 60):
        worst_obs = max(worst_obs, error)
        assert any(flags.values()) == done  # the fall rule, as trained
        if done:
            break
        worst_q = max(worst_q, float(np.abs(robot.data.qpos - env.sim.qpos[0].numpy()).max()))
        steps += 1
    print(f"{task} rollout: {steps} steps, worst observation {worst_obs:.2e}, worst qpos {worst_q:.2e}")
    assert steps >= (15 if task == "humanoid" else 60), steps
    assert worst_obs < 2e-4 and worst_q < 1e-4, (steps, worst_obs, worst_q)


def test_sim_episodes_score_the_target_and_falls(ant):
    """The episodes report eval's metric names; `fall_free` counts the episodes no failure term ended."""
    runner = PolicyRunner.load(ant[1])
    robot = MujocoSimRobot(runner.meta, ant[1].parent)
    result = run_sim_episodes(runner, robot, 2, seed=0)
    m = result.metrics
    assert {
        "Metrics/target/forward_speed",
        "Metrics/target/fall_free",
        "Episode_Termination/torso_height",
    } <= set(m)
    assert (
        m["Metrics/target/fall_free"] == m["Episode/survived"]
        and abs(m["Metrics/target/forward_speed"]) < 1.0
    )
    falling = copy.deepcopy(runner.meta)  # the torso starts at 0.56 m: a 0.6 m minimum ends every episode
    [height] = [t for t in falling.terminations if t.func == "root_height_below"]
    height.params["minimum_height"] = 0.6
    runner.meta = falling
    fell = run_sim_episodes(runner, robot, 2, seed=0).metrics
    assert fell["Metrics/target/fall_free"] == 0.0 and fell["Episode_Termination/torso_height"] == 1.0
    assert fell["Episode/length"] == 1.0


def test_missing_target_or_unlimited_joints_are_clear(ant):
    from roboforge.deploy.heading_terms import TERMS
    from roboforge.deploy.metadata import MetadataError
    from roboforge.utils.errors import UserInputError

    runner = PolicyRunner.load(ant[1])
    robot = MujocoSimRobot(runner.meta, ant[1].parent)
    with pytest.raises(UserInputError, match=r"--command target=x,y"):
        runner.step(robot.read_state())
    state = robot.read_state()
    state.base_pos_w = None
    with pytest.raises(UserInputError, match=r"needs RobotState.base_pos_w"):
        runner.step(state, commands={"target": np.array([1000.0, 0.0])})
    meta = copy.deepcopy(runner.meta)
    specs = {t.func: t for t in meta.observations or []}
    meta.command_terms[0].type = "UniformVelocityCommandCfg"
    with pytest.raises(MetadataError, match="not a TargetCommandCfg"):
        TERMS["angle_to_target"][0](specs["angle_to_target"], meta)
    meta.robot.joint_pos_limits[1] = (-np.inf, np.inf)
    with pytest.raises(MetadataError, match=r"unlimited"):
        TERMS["joint_pos_limit_normalized"][0](specs["joint_pos_limit_normalized"], meta)


def test_ant_deploy_runs_without_torch(ant):
    """The runtime runs the ant's terms, target twin and episodes in an interpreter that never loads torch."""
    code = (
        "import sys\n"
        "from roboforge.deploy import MujocoSimRobot, PolicyRunner\n"
        "from roboforge.deploy.episodes import run_sim_episodes\n"
        f"runner = PolicyRunner.load({str(ant[1])!r})\n"
        "runner.meta.control.max_episode_length = 50\n"
        "result = run_sim_episodes(runner, MujocoSimRobot(runner.meta), 1)\n"
        "assert 'Metrics/target/forward_speed' in result.metrics, result.metrics\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_direct_ant_exports_its_twins_layout(exported):
    """The direct ant's export describes the policy with ant-manager's terms, under its own task name."""
    twin, direct = (PolicyRunner.load(exported(task)[1]).meta for task in (TASK, "ant"))
    assert (direct.task, twin.task) == ("ant", "ant-manager")
    assert [t.func for t in direct.observations or []] == [t.func for t in twin.observations or []]
    assert [t.func for t in direct.terminations] == [t.func for t in twin.terminations]


def test_a_deploy_twin_that_does_not_fit_is_one_clear_error(exported):
    from roboforge.export.metadata import layout_env
    from roboforge.utils.errors import UserInputError

    session = exported("ant")[0]
    try:
        session.env.cfg.deploy_twin = "humanoid-manager"
        with pytest.raises(UserInputError, match=r"observes \{'policy': 75\}.*they must match"):
            layout_env(session)
        session.env.cfg.deploy_twin = "humanoid"
        with pytest.raises(UserInputError, match="must be a manager-based task"):
            layout_env(session)
    finally:
        session.env.cfg.deploy_twin = "ant-manager"
