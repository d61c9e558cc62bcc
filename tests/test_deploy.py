"""Deployment runtime: no torch, observations/actions/physics as in training, joint reordering,
metadata-driven terms and the `deploy` command (safety: test_deploy_safety.py; sim-to-sim episodes
and the UDP adapter: test_deploy_sim.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from cli_util import one_line_error
from export_util import exported_cartpole, exported_reach, rollout_parity, run_folder
from roboforge.cli import app
from roboforge.deploy import MujocoSimRobot, PolicyRunner, RobotState
from roboforge.deploy.joints import JointMap, JointMapError
from roboforge.deploy.metadata import ONNX_METADATA_KEY, MetadataError, PolicyMetadata
from roboforge.deploy.observations import ObsContext, ObservationBuilder, register_observation_term
from roboforge.export import export_policy


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    return exported_cartpole(tmp_path_factory.mktemp("cartpole"))


@pytest.fixture(scope="module")
def reach(tmp_path_factory):
    return exported_reach(tmp_path_factory.mktemp("reach"))


def test_deploy_package_imports_no_torch():
    code = (
        "import sys, roboforge.deploy, roboforge.deploy.episodes, roboforge.deploy.bench, roboforge.deploy.loop, "
        "roboforge.deploy.udp_robot, roboforge.cli.deploy; "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'roboforge.rl', 'roboforge.envs'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runtime_reproduces_training_observations_actions_and_physics(cartpole):
    s, policy = cartpole
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta)
    err = rollout_parity(s, runner, robot, 120)
    assert err["steps"] >= 30, err
    assert err["obs"] < 1e-5 and err["action"] < 1e-5, err
    assert err["joint_pos"] < 1e-4 and err["joint_vel"] < 1e-3, err
    assert runner.observations.terms[0].history.shape == (3, 2)


def test_reach_runtime_matches_training_with_commands_and_implicit_actuators(reach):
    s, policy = reach
    runner = PolicyRunner.load(policy)
    assert [t.func for t in runner.meta.observations or []] == [
        "joint_pos_rel", "joint_vel_rel", "generated_commands", "last_action"
    ]  # fmt: skip
    assert set(runner.meta.robot.actuator) == {"implicit"} and runner.meta.commands == {"ee_pose": 7}
    err = rollout_parity(s, runner, MujocoSimRobot(runner.meta), 100, command="ee_pose")
    assert err["steps"] == 100 and err["obs"] < 1e-5 and err["action"] < 1e-5, err
    assert err["joint_pos"] < 1e-5 and err["command_metrics"] < 1e-5, err
    with pytest.raises(ValueError, match="observes command 'ee_pose'"):
        runner.step(MujocoSimRobot(runner.meta).read_state())


@pytest.mark.parametrize(
    "task,actuator", [("reach-ur5e-joint-vel", "implicit_velocity"), ("reach-ur5e-effort", "ideal_pd")]
)
def test_reach_velocity_and_torque_drives_match_training(tmp_path, task, actuator):
    s, checkpoint = run_folder(task, tmp_path, seed=2)
    runner = PolicyRunner.load(export_policy(task, checkpoint, tmp_path / "out").policy)
    assert set(runner.meta.robot.actuator) == {actuator}
    err = rollout_parity(s, runner, MujocoSimRobot(runner.meta), 60, command="ee_pose")
    assert err["steps"] == 60 and err["obs"] < 1e-4 and err["action"] < 1e-4, err
    assert err["joint_pos"] < 1e-4, err


def test_task_space_actions_load_and_an_unknown_action_type_is_refused(tmp_path):
    """IK policies load (their controller: test_deploy_task_space.py); an action type the runtime lacks is refused."""
    _, checkpoint = run_folder("reach-ur5e-ik-rel", tmp_path)
    policy = export_policy("reach-ur5e-ik-rel", checkpoint, tmp_path / "out").policy
    runner = PolicyRunner.load(policy)
    assert [t.type for t in runner.meta.actions] == ["differential_ik"] and runner.actions.task_space

    def retype(meta):
        meta["actions"][0]["type"] = "SomeOtherActionCfg"

    with pytest.raises(MetadataError, match=r"SomeOtherActionCfg.*supports joint_position.*differential_ik"):
        PolicyRunner.load(edited_policy(policy, tmp_path, retype))


def test_joints_are_matched_by_name_in_any_order(cartpole):
    _, policy = cartpole
    runner = PolicyRunner.load(policy)
    names = list(runner.meta.robot.joint_names)
    straight, swapped = MujocoSimRobot(runner.meta), MujocoSimRobot(runner.meta, joint_order=names[::-1])
    start = (np.array([0.3, -0.2]), np.array([0.1, 0.4]))
    straight.reset(*start)
    swapped.reset(start[0][::-1], start[1][::-1])
    for robot in (straight, swapped):
        runner.reset()
        robot.trajectory = []  # type: ignore[attr-defined]
        for _ in range(40):
            cmd = runner.step(robot.read_state())
            assert cmd.joint_names == robot.joint_names
            robot.write_command(cmd)
            robot.trajectory.append((cmd.effort.copy(), robot.read_state().joint_pos))  # type: ignore[attr-defined]
    for (e1, q1), (e2, q2) in zip(straight.trajectory, swapped.trajectory, strict=True):  # type: ignore[attr-defined]
        np.testing.assert_array_equal(e1, e2[::-1])
        np.testing.assert_array_equal(q1, q2[::-1])
    with pytest.raises(JointMapError, match=r"missing \['b'\]"):
        JointMap(["a", "b"], ["a"])
    with pytest.raises(JointMapError, match=r"extra \['c'\]"):
        JointMap(["a", "b"], ["b", "a", "c"])
    with pytest.raises(JointMapError, match="more than once"):
        JointMap(["a", "b"], ["a", "b", "a"])
    with pytest.raises(JointMapError, match="missing"):
        runner.step(RobotState(("slider_to_cart",), np.zeros(1), np.zeros(1), 0.0))


# --- metadata-driven terms ---------------------------------------------------------------------
def edited_policy(policy, tmp_path, edit) -> str:
    """A copy of `policy` whose embedded metadata is changed by `edit(dict)`."""
    model = onnx.load(str(policy))
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props[ONNX_METADATA_KEY])
    edit(meta)
    onnx.helper.set_model_props(model, {**props, ONNX_METADATA_KEY: json.dumps(meta)})
    path = tmp_path / "edited.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_unsupported_term_is_a_clear_error_at_load(cartpole, tmp_path):
    _, policy = cartpole

    def rename(meta):
        meta["observations"][1]["func"] = "contact_forces"

    with pytest.raises(
        MetadataError, match=r"contact_forces.*does not implement.*Supported: .*joint_pos_rel"
    ):
        PolicyRunner.load(edited_policy(policy, tmp_path, rename))

    def custom(meta):
        meta["observations"][1]["module"] = "my_task.mdp"

    with pytest.raises(MetadataError, match="register its numpy version"):
        PolicyRunner.load(edited_policy(policy, tmp_path, custom))
    register_observation_term("joint_vel_rel", lambda spec, meta: lambda c: c.joint_vel * 0.0, "my_task.mdp")
    try:
        runner = PolicyRunner.load(edited_policy(policy, tmp_path, custom))
        runner.step(RobotState(("slider_to_cart", "cart_to_pole"), np.ones(2), np.ones(2), 0.0))
        assert not runner.observations.obs[6:].any()
    finally:
        from roboforge.deploy.observations import BUILTIN_MODULE, _joint_term

        register_observation_term(
            "joint_vel_rel", _joint_term("joint_vel", "default_joint_vel"), BUILTIN_MODULE
        )


def test_base_and_command_terms_in_numpy(cartpole):
    import torch

    from roboforge.utils.math import gravity_projected_b

    _, policy = cartpole
    data = PolicyRunner.load(policy).meta.to_dict()
    data["observations"] = [
        {
            "group": "policy",
            "name": n,
            "func": f,
            "module": "roboforge.mdp.observations",
            "params": p,
            "dim": d,
        }
        for n, f, p, d in [
            ("gravity", "projected_gravity_b", {}, 3),
            ("lin", "base_lin_vel_b", {}, 3),
            ("cmd", "generated_commands", {"command_name": "twist"}, 2),
            ("act", "last_action", {}, 1),
        ]
    ]
    data["policy"]["obs_dim"] = 9
    builder = ObservationBuilder(PolicyMetadata.from_dict(data))
    quat = np.array([0.9, 0.1, -0.3, 0.2]) / np.linalg.norm([0.9, 0.1, -0.3, 0.2])
    ctx = ObsContext(
        np.zeros(2),
        np.zeros(2),
        np.array([0.7]),
        quat,
        np.array([1.0, 2.0, 3.0]),
        None,
        {"twist": np.array([0.5, -0.5])},
    )
    obs = builder.compute(ctx)
    expected = gravity_projected_b(torch.tensor(quat)[None])[0].numpy()
    np.testing.assert_allclose(obs[:3], expected, atol=1e-6)
    np.testing.assert_allclose(obs[3:], [1, 2, 3, 0.5, -0.5, 0.7], atol=1e-6)
    with pytest.raises(ValueError, match=r"needs RobotState\.base_quat_w"):
        builder.compute(
            ObsContext(np.zeros(2), np.zeros(2), np.zeros(1), None, np.zeros(3), None, {"twist": np.zeros(2)})
        )
    with pytest.raises(ValueError, match="pass it"):
        builder.compute(ObsContext(np.zeros(2), np.zeros(2), np.zeros(1), quat, np.zeros(3)))


# --- command line ------------------------------------------------------------------------------
def test_cli_deploy_sim_and_bench(cartpole):
    _, policy = cartpole
    cli = CliRunner()
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    out = cli.invoke(app, ["deploy", str(policy), "--episodes", "3", "--json"], env=env)
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["episodes"] == 3 and "Episode_Termination/time_out" in payload["metrics"]
    out = cli.invoke(app, ["deploy", str(policy), "--bench", "--steps", "300", "--json"], env=env)
    assert out.exit_code == 0, out.output
    phases = json.loads(out.stdout)["phases"]
    assert set(phases) == {"observation", "inference", "safety", "total"}
    assert 0 < phases["total"]["p50_us"] <= phases["total"]["p99_us"]
    bad = cli.invoke(app, ["deploy", str(policy), "--robot", "serial"], env=env)
    assert bad.exit_code == 2 and "Unknown --robot" in bad.output
    missing = cli.invoke(app, ["deploy", "nope.onnx"], env=env)
    assert missing.exit_code == 2 and "not found" in missing.output


def test_cli_deploy_runs_the_policy_of_an_export_folder(cartpole, tmp_path):
    """Was 'Policy file not found: <folder>' although the folder held policy.onnx."""
    _, policy = cartpole
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    out = CliRunner().invoke(
        app, ["deploy", str(policy.parent), "--bench", "--steps", "20", "--json"], env=env
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["steps"] == 20
    empty = CliRunner().invoke(app, ["deploy", str(tmp_path)], env=env)
    one_line_error(empty, f"{tmp_path} has no policy.onnx", "roboforge export")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--episodes", "0"], "--episodes must be >= 1, got 0."),
        (["--episodes", "-3", "--video"], "--episodes must be >= 1, got -3."),
        (["--bench", "--steps", "0"], "--steps must be >= 1, got 0."),
        (["--robot", "udp://127.0.0.1:9870", "--steps", "-1"], "--steps must be >= 1, got -1."),
    ],
)
def test_cli_deploy_refuses_a_count_below_one_before_loading_anything(tmp_path, args, message):
    """The counts were checked only after the policy was loaded and the sim built: the sim episodes' progress
    bar was drawn before the error, a missing policy hid it, and a UDP robot ran 0 steps without a word."""
    result = CliRunner().invoke(
        app, ["deploy", str(tmp_path / "none.onnx"), *args], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    one_line_error(result, message)
    assert "sim episodes" not in result.output


@pytest.mark.parametrize("name", ["model_149.pt", "model_149.pth", "model_149.zip"])
def test_cli_deploy_of_a_training_checkpoint_says_to_export_it(tmp_path, name):
    """Was 'ONNX Runtime cannot load ...: INVALID_PROTOBUF ...' (rsl_rl/skrl .pt, rl_games .pth, sb3 .zip)."""
    checkpoint = tmp_path / name
    checkpoint.write_bytes(b"PK\x03\x04 not an ONNX model")
    result = CliRunner().invoke(app, ["deploy", str(checkpoint)], env={"COLUMNS": "200", "NO_COLOR": "1"})
    one_line_error(
        result, "training checkpoint", "policy.onnx", f"roboforge export TASK --checkpoint {checkpoint}"
    )
    assert "INVALID_PROTOBUF" not in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--max-effort-rate", "nan"), "--max-effort-rate must be a finite number above 0, got nan"),
        (("--max-position-rate", "-1"), "--max-position-rate must be a finite number above 0"),
        (("--max-state-age", "nan"), "--max-state-age must be a finite number above 0"),
        (("--max-state-age", "0"), "--max-state-age must be a finite number above 0"),
        (("--robot", "udp://127.0.0.1:99999"), "the port must be 1 to 65535, got 99999"),
        (("--seed", "-1"), "--seed must be 0 to 2147483647, got -1"),
    ],
)
def test_cli_deploy_refuses_safety_limits_that_are_not_positive_and_ports_out_of_range(args, needle):
    """A NaN rate limit sent NaN targets to the robot, a NaN state age turned the watchdog off, and a
    port above 65535 was an internal error: each is one line naming the option, before the policy loads."""
    result = CliRunner().invoke(
        app, ["deploy", "policy.onnx", *args], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1, result.output
    assert needle in result.output


def test_cli_and_deploy_command_do_not_load_torch():
    """`roboforge deploy` must run where torch is not installed: the CLI imports it only for training commands."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from roboforge.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['deploy', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runtime_simulates_the_solver_settings_training_ran_with(tmp_path):
    """The sim config sets the timestep and solver iterations on the compiled model, not in the scene's spec; the
    export writes them into the scene, so the runtime does not fall back to the robot file's own."""
    from roboforge.deploy.mujoco_robot import load_scene_model

    solver = {"sim.timestep": 0.004, "sim.iterations": 7, "sim.ls_iterations": 3}
    _, checkpoint = run_folder("cartpole", tmp_path, env_overrides=solver)
    result = export_policy("cartpole", checkpoint, tmp_path / "out", env_overrides=solver)
    meta = PolicyRunner.load(result.policy).meta
    opt = load_scene_model(meta, result.output_dir).opt
    assert (opt.timestep, opt.iterations, opt.ls_iterations) == (0.004, 7, 3)
    assert 'iterations="7"' in meta.scene.mjcf


def test_cli_deploy_of_a_torchscript_export_says_to_export_onnx(tmp_path):
    """An `export --format jit` folder holds policy.pt and policy.json: not a training checkpoint."""
    (tmp_path / "policy.json").write_text("{}")
    (tmp_path / "policy.pt").write_bytes(b"PK\x03\x04 TorchScript")
    result = CliRunner().invoke(
        app, ["deploy", str(tmp_path / "policy.pt")], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    one_line_error(result, "is a TorchScript export", "without --format jit")
    assert "training checkpoint" not in result.output


def test_filtered_joint_targets_match_training_and_damp_a_chatter(tmp_path):
    """`ema_alpha` < 1 on a joint position term: the env and the runtime filter the targets alike from the
    measured joint positions after a reset, and a period-2 chatter of the actions reaches the targets at
    alpha / (2 - alpha) of its size."""
    import torch

    overrides = {"actions.arm.ema_alpha": 0.5}
    s, checkpoint = run_folder("reach-ur5e", tmp_path, env_overrides=overrides, seed=1)
    runner = PolicyRunner.load(
        export_policy("reach-ur5e", checkpoint, tmp_path / "out", env_overrides=overrides).policy
    )
    assert runner.meta.actions[0].params == {"ema_alpha": 0.5}
    err = rollout_parity(s, runner, MujocoSimRobot(runner.meta), 60, command="ee_pose")
    assert err["steps"] == 60 and err["action"] < 1e-5 and err["joint_pos"] < 1e-5, err

    env = s.env
    env.reset()
    term = env.action_manager.terms["arm"]
    start = env.scene["robot"].data.joint_pos[:, term.joint_ids].clone()
    chatter = torch.ones(1, term.action_dim)
    targets = []
    for k in range(40):
        term.process(chatter * (1.0 if k % 2 == 0 else -1.0))
        targets.append(term.processed.clone())
    first = term.offset + term.scale * chatter
    torch.testing.assert_close(targets[0], 0.5 * first + 0.5 * start)  # starts from the measured joints
    swing = (targets[-1] - targets[-2]).abs() / 2
    torch.testing.assert_close(swing, (term.scale * chatter).abs() / 3, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 1.5])
def test_a_filter_alpha_outside_zero_to_one_is_refused(alpha):
    from roboforge.rl.session import build_session
    from roboforge.utils.config import ConfigError

    with pytest.raises(ConfigError, match=rf"ema_alpha {alpha} must be in \(0, 1\]"):
        build_session("reach-ur5e", 1, "cpu", env_overrides={"actions.arm.ema_alpha": alpha})
