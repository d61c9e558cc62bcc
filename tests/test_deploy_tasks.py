"""The deploy runtime on lift-cube-panda, stack-cube-panda (its gripper) and navigation-point: its scene observation terms and action terms
against the training ones on the same MuJoCo states, and the sim-to-sim episodes; the CLI path train -> export
--check -> deploy (metric names as eval's) for those two and ant-manager (`test_deploy_ant.py`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from export_util import exported_session, lockstep, observation_parity, world_context
from roboforge.deploy import MujocoSimRobot, PolicyRunner, scene_terms
from roboforge.deploy.episodes import run_sim_episodes
from roboforge.deploy.joints import ActionMapper
from roboforge.deploy.policy import OnnxPolicy
from roboforge.deploy.scene_terms import planar_ranges

STEPS = 40
WORLDS = 4
TOLERANCE = {"range_scan": 2e-3, "ee_pos_b": 0.02}
"""The training scan runs in float32: a ray that grazes a cylinder takes the square root of a discriminant near 0,
which turns float32 rounding (~1e-6) into up to ~1e-4 m (measured); `test_range_scan_is_the_training_math`
compares the runtime scan with the training function in float64 to 1e-9 instead. Training reads `ee_pos_b` at the
start of the last physics step, the runtime at the joint positions it is given: under random actions the tool
centre point moves up to a few mm in that 5 ms (measured: 4 mm); `test_frame_terms_are_the_training_kinematics_on_
one_state` compares the two on one state to 1e-6."""


@pytest.fixture(scope="module")
def lift(tmp_path_factory):
    return exported_session("lift-cube-panda", tmp_path_factory.mktemp("lift"), WORLDS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # the stack's gripper as a graded one (the default speed gripper: test_speed_gripper_exports_and_deploys_...)
    graded = {"actions.gripper.closed_at": -1.0, "actions.gripper.open_time_s": 0.0}
    return exported_session("stack-cube-panda", tmp_path_factory.mktemp("stack"), WORLDS, graded)


@pytest.fixture(scope="module")
def navigation(tmp_path_factory):
    return exported_session("navigation-point", tmp_path_factory.mktemp("navigation"), WORLDS)


def test_the_export_writes_each_terms_defaults_and_an_older_export_is_refused(navigation):
    """The runtime reads a term's parameters from the metadata only: the export fills in the training function's
    defaults, so a default changed in `roboforge.mdp` travels with the policy."""
    from roboforge.deploy.metadata import MetadataError
    from roboforge.managers.term import term_signature
    from roboforge.mdp.range_scan import range_scan

    _, policy = navigation
    meta = PolicyRunner.load(policy).meta
    (scan,) = [t for t in meta.observations or [] if t.func == "range_scan"]
    defaults = term_signature(range_scan).parameters
    for key in ("obstacle_asset", "obstacle_bodies"):  # not set by the task's config
        assert scan.params[key] == defaults[key].default, key
    scan.params.pop("max_range")  # what a metadata file of an older export holds
    with pytest.raises(MetadataError, match="exported by an older roboforge; export the checkpoint again"):
        scene_terms.range_scan(scan, meta)


def _values(session, policy, obs: np.ndarray, func: str) -> np.ndarray:
    runner = PolicyRunner.load(policy)
    [term] = [t for t in runner.observations.terms if t.spec.func == func]
    return obs[:, term.slice]


def test_lift_runtime_terms_match_training(lift):
    session, policy = lift
    obs, seen = observation_parity(session, policy, 0, STEPS, TOLERANCE)
    assert {"object_position_b", "generated_commands"} <= seen and len(obs) >= STEPS * WORLDS // 2
    cube_b = _values(session, policy, obs, "object_position_b")
    assert np.ptp(cube_b, axis=0).max() > 0.01, "several cube positions (episodes) were compared"


def test_stack_runtime_terms_match_training(stack):
    """The stack's policy observes its tool centre point (`ee_pos_b`) beside both cubes: the runtime computes it
    from the joint positions, training read it at the start of the last physics step (TOLERANCE)."""
    session, policy = stack
    obs, seen = observation_parity(session, policy, 1, STEPS, TOLERANCE)
    assert {"ee_pos_b", "object_position_b", "joint_pos_rel"} <= seen and len(obs) >= STEPS * WORLDS // 2
    assert np.ptp(_values(session, policy, obs, "ee_pos_b"), axis=0).max() > 0.05, "the arm moved"


def test_frame_terms_are_the_training_kinematics_on_one_state(stack):
    """On a state whose sensors are recomputed (a forward pass), the runtime's tool centre point position and
    orientation equal the training functions' to float precision."""
    from roboforge import mdp
    from roboforge.deploy.frame_terms import ee_quat_b
    from roboforge.deploy.metadata import ObsTermSpec

    session, policy = stack
    env, runner = session.env, PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    (tcp,) = [t for t in runner.observations.terms if t.spec.func == "ee_pos_b"]
    quat_spec = ObsTermSpec(**{**vars(tcp.spec), "func": "ee_quat_b", "dim": 4})
    quat_fn = ee_quat_b(quat_spec, runner.meta, runner.observations._kinematics())
    gen = torch.Generator().manual_seed(2)
    for _ in range(10):
        action = torch.rand(env.num_envs, env.num_actions, generator=gen) * 2.0 - 1.0
        env.step(action)
    env.sim.forward()
    pos_b, quat_b = mdp.ee_pos_b(env, "tcp"), mdp.ee_quat_b(env, "tcp")
    for w in range(env.num_envs):
        ctx = world_context(robot, env, action[w].double().numpy(), w)
        np.testing.assert_allclose(tcp.fn(ctx), pos_b[w].double().numpy(), atol=1e-6)
        np.testing.assert_allclose(quat_fn(ctx), quat_b[w].double().numpy(), atol=1e-6)


def test_navigation_runtime_terms_match_training(navigation):
    session, policy = navigation
    obs, seen = observation_parity(session, policy, 1, STEPS, TOLERANCE)
    assert {"planar_velocity_b", "range_scan", "generated_commands"} <= seen and len(
        obs
    ) >= STEPS * WORLDS // 2
    assert _values(session, policy, obs, "range_scan").min() < 2.0, "the scan saw something"


def test_range_scan_is_the_training_math(navigation):
    """The runtime scan equals the training scan function in float64 on the env's states (obstacles included)."""
    from roboforge.mdp.range_scan import planar_range_scan, ray_angles

    session, policy = navigation
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta)
    [term] = [t for t in runner.observations.terms if t.spec.func == "range_scan"]
    radii = torch.tensor(robot.scene_objects.radii)
    venv.reset()
    angles = ray_angles(32, "cpu").double()
    for k in range(10):
        venv.step(torch.tensor([[1.0, 0.5 * (-1) ** k, 0.7]]).repeat(WORLDS, 1))
        q = env.sim.qpos[:, robot.qadr].double()  # the float64 state (the entity views are float32)
        centers = env.sim.mocap_pos[:, robot.scene_objects.mocap_ids, :2].double()
        trained = planar_range_scan(q[:, :2], q[:, 2], angles, centers, radii, 3.0, 4.0).numpy()
        for w in range(WORLDS):
            np.testing.assert_allclose(
                term.fn(world_context(robot, env, np.zeros(3), w)), trained[w], atol=1e-9
            )
        assert trained.min() < 3.0, "something is in range"


def test_missing_or_non_finite_object_state_is_clear(lift):
    from roboforge.utils.errors import UserInputError

    runner = PolicyRunner.load(lift[1])
    robot = MujocoSimRobot(runner.meta, lift[1].parent)
    commands = {"object_pose": np.array([0.5, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0])}
    state = robot.read_state()
    assert not runner.step(state, commands=commands).hold
    state.object_pos_w = {"cube": np.array([np.nan, 0.0, 0.0])}
    assert runner.step(state, commands=commands).hold, "a NaN object position stops the policy"
    runner.reset()
    state.object_pos_w = {}
    with pytest.raises(UserInputError, match=r"object_pos_w\['cube'\]"):
        runner.step(state, commands=commands)


def test_range_scan_sees_walls_and_obstacles():
    angles = np.array([0.0, np.pi / 2, np.pi], dtype=np.float32)
    obstacles = np.array([[1.0, 0.0, 0.25]])
    ranges = planar_ranges(np.zeros(2), 0.0, angles, obstacles, 3.0, 2.0)
    np.testing.assert_allclose(ranges, [0.75, 2.0, 2.0], atol=1e-6)
    assert planar_ranges(np.array([1.0, 0.1]), 0.0, angles, obstacles, 3.0, None).max() == 0.0, "inside: 0"


def test_planar_and_gripper_actions_match_the_training_terms(lift, stack, navigation):
    """Planar velocity, the binary gripper (lift) and the graded one (stack: its ramp -1..0 is crossed by the
    actions -1.5..1.5 below) give the runtime the training targets."""
    for session, policy, names in (
        (navigation[0], navigation[1], ["base_velocity"]),
        (lift[0], lift[1], ["gripper"]),
        (stack[0], stack[1], ["gripper"]),
    ):
        env = session.env
        meta = OnnxPolicy(
            policy
        ).metadata  # the stack's observations are not all in the runtime: actions only
        mapper = ActionMapper(meta, policy.parent)
        entity = env.scene["robot"]
        for k in range(6):
            action = torch.linspace(-1.5, 1.5, meta.policy.action_dim)[None].roll(k, dims=1).repeat(WORLDS, 1)
            env.action_manager.process_action(action)
            for name in names:
                env.action_manager.terms[name].apply()
            q = entity.data.joint_pos[0].double().numpy()
            targets = mapper.compute(action[0].double().numpy(), q)
            for term in meta.actions:
                if term.name in names:
                    ids = [meta.robot.joint_names.index(n) for n in term.joint_names]
                    row = 1 if term.type == "planar_velocity" else 0
                    trained = (entity.joint_vel_target if row else entity.joint_pos_target)[0, ids]
                    np.testing.assert_allclose(targets[row, ids], trained.double().numpy(), atol=1e-6)
    (gripper,) = [t for t in OnnxPolicy(stack[1]).metadata.actions if t.name == "gripper"]
    assert gripper.type == "graded_joint_position"
    assert (gripper.params["closed_at"], gripper.params["open_at"]) == (-1.0, 0.0)


def test_speed_gripper_exports_and_deploys_as_trained(stack):
    """A speed gripper (`open_time_s` > 0) on the stack's fingers: the export's entry and the runtime's targets
    follow the training term's integrated opening step for step, through a reset that opens it again."""
    import dataclasses

    from roboforge.export.metadata import _other_action
    from roboforge.tasks.stack.stack_env_cfg import stack_gripper_action

    session, policy = stack
    env = session.env
    cfg = stack_gripper_action(open_time_s=0.2)
    term = cfg.build(env)
    entry = _other_action(env, cfg, term)
    assert entry is not None and entry["type"] == "speed_joint_position"
    meta = OnnxPolicy(policy).metadata
    gripper = next(t for t in meta.actions if t.name == "gripper")
    gripper = dataclasses.replace(gripper, type=entry["type"], params=entry["params"])
    meta = dataclasses.replace(meta, actions=[gripper if t.name == "gripper" else t for t in meta.actions])
    mapper = ActionMapper(meta, policy.parent)
    at = sum(t.action_dim for t in env.action_manager.terms.values()) - 1  # the gripper is the last action
    q = np.zeros(len(meta.robot.joint_names))
    ids = [meta.robot.joint_names.index(n) for n in gripper.joint_names]
    openings = []
    for k, a in enumerate([-0.5, -3.0, -1.0, 0.3, 0.3, 2.0, -0.2, 0.0]):
        if k == 6:
            term.reset(torch.ones(env.num_envs, dtype=torch.bool))
            mapper.reset()
        term.process(torch.full((env.num_envs, 1), a))
        action = np.zeros(meta.policy.action_dim)
        action[at] = a
        targets = mapper.compute(action, q)
        np.testing.assert_allclose(targets[0, ids], term.target[0].double().numpy(), atol=1e-6)
        openings.append(round(float(term.target[0, 0]) / 0.04, 4))
    step = env.step_dt / 0.2
    expected = [
        1 - 0.5 * step,
        1 - 1.5 * step,
        1 - 2.5 * step,
        1 - 2.2 * step,
        1 - 1.9 * step,
        1 - 0.9 * step,
    ]
    expected.append(1 - 0.2 * step)  # after the reset
    np.testing.assert_allclose(openings[:7], np.clip(expected, 0.0, 1.0), atol=1e-4)
    assert openings[7] == openings[6]


def test_navigation_sim_steps_like_training(navigation):
    """The sim robot turns planar velocity targets by every physics step's heading, as training does."""
    session, policy = navigation
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta)
    venv.reset()
    world_context(robot, env, np.zeros(3))
    worst = 0.0
    for k in range(20):
        action = torch.tensor([[0.8, 0.3 * (-1) ** k, 1.0]]).repeat(WORLDS, 1)
        targets = runner.actions.compute(action[0].double().numpy(), robot.read_state().joint_pos)
        command = runner._command(runner.bind(robot.joint_names), targets, hold=False)
        _, _, dones, _ = venv.step(action)
        robot.write_command(command)
        if bool(dones[0]):
            break
        worst = max(worst, float(np.abs(robot.data.qpos[:3] - env.sim.qpos[0, :3].numpy()).max()))
    assert worst < 1e-6


def test_navigation_rollout_matches_training(navigation):
    """From world 0's state and goal, the runtime loop (observation, ONNX policy, action, sim, command outcome,
    terminations) follows the training env step by step until the episode ends."""
    from roboforge.deploy.episodes import EpisodeRules
    from roboforge.deploy.sim_commands import command_sims

    session, policy = navigation
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta)
    sims = command_sims(runner.meta, robot, {})
    rules, goal = EpisodeRules(runner.meta, sims), env.command_manager.terms["goal"]
    obs, _ = venv.reset()
    world_context(robot, env, np.zeros(3))
    sims["goal"].goal_w, sims["goal"].time_left = (
        goal.goal_w[0].double().numpy(),
        1e9,
    )  # its goal, no resampling
    sims["goal"].update_outcome()
    runner.reset()
    worst, steps = 0.0, 0
    end = runner.meta.control.max_episode_length
    goal_command = lambda: {"goal": sims["goal"].command}  # noqa: E731  (the command moves with the sim)
    for length, error, done, flags in lockstep(runner, robot, rules, session, obs, goal_command, 199):
        worst = max(worst, error)
        assert any(flags.values()) == done or length == end
        if done:
            break
        sims["goal"].step(np.random.default_rng(0), length, runner.meta.control.step_dt, 10**9)
        worst = max(worst, float(np.abs(robot.data.qpos[:3] - env.sim.qpos[0, :3].numpy()).max()))
        steps += 1
    print(f"navigation rollout: {steps} steps, worst difference {worst:.2e}")
    assert steps >= 20 and worst < 2e-3, (steps, worst)


def test_sim_episodes_report_the_task_metrics(lift, stack, navigation):
    expected = {
        stack[1]: {
            "Metrics/stack/position_error",
            "Metrics/stack/success",
            "Metrics/stack/released",
            "Episode_Termination/cube_a_out_of_reach",
        },
        lift[1]: {
            "Metrics/object_pose/position_error",
            "Metrics/object_pose/success",
            "Episode_Termination/object_out_of_reach",
        },
        navigation[1]: {
            "Metrics/goal/success",
            "Metrics/goal/touched",
            "Metrics/goal/final_distance",
            "Metrics/goal/distance",
        },
    }
    for policy, names in expected.items():
        runner = PolicyRunner.load(policy)
        result = run_sim_episodes(runner, MujocoSimRobot(runner.meta, policy.parent), 2, seed=0)
        assert names <= set(result.metrics), result.metrics
        assert result.safety["stops"] == 0


def test_stack_command_and_reset_are_the_training_ones(stack):
    """The sim-to-sim stack command (target and metrics) equals the training command on the same states, and the
    runtime's reset puts cube A beside cube B as training's `reset_object_beside` does."""
    from roboforge.deploy.scene_rules import reset_object_beside
    from roboforge.deploy.stack_command_sim import ObjectStackCommandSim

    session, policy = stack
    env, runner = session.env, PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    (spec,) = [c for c in runner.meta.command_terms if c.name == "stack"]
    sim = ObjectStackCommandSim(spec, runner.meta, robot)
    term = env.command_manager.terms["stack"]
    gen = torch.Generator().manual_seed(3)
    for _ in range(5):
        env.step(torch.rand(env.num_envs, env.num_actions, generator=gen) * 2.0 - 1.0)
        for w in range(env.num_envs):
            world_context(robot, env, np.zeros(env.num_actions), w)
            sim._update()
            np.testing.assert_allclose(sim.command, term.command[w].double().numpy(), atol=1e-5)
            metrics = [term.metrics[n][w].item() for n in sim.metric_names]
            np.testing.assert_allclose(sim._errors(), metrics, atol=1e-5)
    (event,) = [e for e in runner.meta.events if e.func == "reset_object_beside"]
    reset = reset_object_beside(event, runner.meta)
    rng = np.random.default_rng(0)
    sides = set()
    for _ in range(20):
        reset(robot, rng)
        pos = robot.scene_objects.object_pos_w(robot.data)
        dx, dy = pos["cube_a"][:2] - pos["cube_b"][:2]
        assert -0.08 <= dx <= 0.08 and 0.12 <= abs(dy) <= 0.2, (dx, dy)
        sides.add(bool(dy > 0))
    assert sides == {True, False}


def test_navigation_layout_keeps_clear_of_start_and_goal(navigation):
    from roboforge.deploy.sim_commands import command_sims

    runner = PolicyRunner.load(navigation[1])
    robot = MujocoSimRobot(runner.meta)
    sim = command_sims(runner.meta, robot, {})["goal"]
    rng = np.random.default_rng(0)
    in_range = 0
    for _ in range(20):
        robot.data.qpos[:2] = rng.uniform(-3.0, 3.0, 2)
        sim.reset(rng)
        start, _ = sim.pose()
        assert np.abs(sim.goal_w).max() <= 4.0 - 0.15 - 0.3 + 1e-9, "goal inside the arena with clearance"
        in_range += int(2.0 <= np.linalg.norm(sim.goal_w - start) <= 5.0)
        obstacles = robot.read_state().obstacles_w
        assert obstacles is not None and len(obstacles) == 8
        gaps = np.linalg.norm(obstacles[:, :2] - start, axis=1) - obstacles[:, 2]
        assert gaps.min() >= 0.15 + 0.3 - 1e-9, "start clearance"
        goal_gaps = np.linalg.norm(obstacles[:, :2] - sim.goal_w, axis=1) - obstacles[:, 2]
        assert goal_gaps.min() >= 0.15 + 0.3 - 1e-9, "goal clearance"
        assert not sim.touched and sim.clearance > 0
    assert in_range >= 15, "goals 2-5 m from the start (else the clamped fallback)"


SUCCESS_METRICS = {
    "lift-cube-panda": {"Metrics/object_pose/success"},
    "lift-soft-cube-panda": {"Metrics/object_pose/success"},  # the deformable shape term
    "navigation-point": {"Metrics/goal/success"},
    "ant-manager": {"Metrics/target/forward_speed", "Metrics/target/fall_free"},
    "reach-ur5e-ik-rel": {
        "Metrics/ee_pose/position_error",
        "Metrics/ee_pose/orientation_error",
    },  # task space
}


@pytest.mark.slow  # trains each task for two CPU iterations through the CLI
@pytest.mark.parametrize("task", list(SUCCESS_METRICS))
def test_cli_train_export_deploy(task, tmp_path):
    """train -> export --check -> deploy --robot sim: deploy reports the task's metrics under eval's names."""
    from typer.testing import CliRunner

    from roboforge.cli.app import app

    cli = CliRunner()

    def run(*args: str) -> dict:
        result = cli.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    common = ("--device", "cpu", "--num-envs", "16")
    run("train", task, *common, "--max-iterations", "2", "--run-dir", str(tmp_path), "--quiet", "--json")
    exported = run("export", task, "--checkpoint", str(tmp_path / task), "--check", "--json")
    assert exported["parity"]["passed"]
    deployed = run("deploy", exported["policy"], "--robot", "sim", "--episodes", "4", "--json")
    evaluated = run("eval", task, "--checkpoint", str(tmp_path / task), "--episodes", "4", *common, "--json")
    assert set(deployed["metrics"]) <= set(evaluated["metrics"]), (deployed["metrics"], evaluated["metrics"])
    assert SUCCESS_METRICS[task] <= set(deployed["metrics"])
