"""navigation-go1 through export and the deploy runtime: the frozen low-level policy exported beside the policy
(checked against the module the env runs, from an ONNX, rsl_rl or TorchScript file), the runtime's high- and
low-level observations, low-level actions and joint targets against the training env step for step, the planar
goal twin's command and metrics, a torch-free deploy of a moved export folder, and clear errors for a missing or
mismatched low-level file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from export_util import lockstep, run_folder, world_context
from roboforge.deploy import MujocoSimRobot, PolicyRunner, SafetyCfg, load_metadata
from roboforge.deploy.episodes import EpisodeRules
from roboforge.deploy.mujoco_robot import load_scene_model
from roboforge.deploy.sim_commands import command_sims
from roboforge.export import export_policy
from roboforge.rl.checkpoints import save_checkpoint
from roboforge.rl.session import build_session
from roboforge.utils.errors import UserInputError
from test_navigation_go1 import GO1_JOINTS, GO1_OBS, Recorder, actor

TASK = "navigation-go1"
ACTION = "velocity_command"
COMMAND = "pose_command"
WORLDS = 2
STEPS = 8  # high-level steps (1.6 s, 80 low-level steps, 320 physics steps)
LOW_LEVEL_FILE = "low_level_policy.onnx"
NOMINAL = {  # the startup randomization never runs: the training worlds keep the nominal robot the runtime simulates
    f"events.{name}.{key}": value
    for name in ("physics_material", "add_base_mass", "base_com", "actuator_gains")
    for key, value in (("mode", "interval"), ("interval_range_s", [1e9, 1e9]))
}


CONVERGED_SOLVER = {"sim.iterations": 100, "sim.ls_iterations": 50}
"""The task's 10 solver iterations (20 line search) leave the solution to the warm start, and the C backend starts
every physics step from a zero warm start while C MuJoCo's mj_step (the runtime) keeps it: with so few iterations
the two part within steps. Converged, the warm start no longer matters (the export carries these settings)."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(a C-backend session of WORLDS worlds with the physics the runtime simulates, its random high-level policy's
    commands often outside the clip ranges; that policy exported with --check). The low level is the task's shipped
    velocity-flat-go1 ONNX."""
    folder = tmp_path_factory.mktemp("navigation_go1")
    s, _ = run_folder(TASK, folder, env_overrides=CONVERGED_SOLVER)
    with torch.no_grad():  # larger outputs: the command clip at +-1 must matter
        last = [m for m in s.learner.policy().modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.mul_(20.0)
    checkpoint = save_checkpoint(folder, s.learner, 1, ".pt")
    result = export_policy(TASK, checkpoint, folder / "out", check=True, env_overrides=CONVERGED_SOLVER)
    solver = load_scene_model(load_metadata(result.policy), result.output_dir).opt
    assert (solver.iterations, solver.ls_iterations) == (100, 50), (
        "the export carries the run's solver settings"
    )
    session = build_session(TASK, WORLDS, "cpu", "mujoco", None, True, NOMINAL | CONVERGED_SOLVER)
    session.learner.load(checkpoint, training=False)
    return session, result


def test_export_carries_the_low_level_policy_and_checks_it(exported):
    result = exported[1]
    assert (result.output_dir / LOW_LEVEL_FILE) in result.files
    assert result.parity is not None and result.parity.passed
    low = result.low_level_parity
    assert low is not None and low.passed and low.max_abs_error < 1e-5, low
    print(f"export check: policy {result.parity.max_abs_error:.1e}, low level {low.max_abs_error:.1e}")
    meta = PolicyRunner.load(result.policy).meta
    [term] = meta.actions
    assert term.type == "pre_trained_policy" and term.params["low_level_decimation"] == 4
    assert term.params["command_ranges"] == [[-1.0, 1.0]] * 3
    funcs = [t["func"] for t in term.params["observations"]]
    assert "generated_commands" in funcs and "last_action" in funcs
    [command] = [t for t in term.params["observations"] if t["func"] == "generated_commands"]
    assert command["params"] == {"command_name": "base_velocity"}  # the velocity task's command term


@pytest.mark.parametrize("kind", ["checkpoint", "jit"])
def test_low_level_checkpoints_and_torchscript_export_to_onnx(kind, tmp_path):
    """A `policy_path` naming an rsl_rl checkpoint or a TorchScript file exports the module the env would run."""
    from roboforge.export.jit_export import export_jit
    from roboforge.export.onnx_export import export_module, policy_io
    from roboforge.export.parity import check_module
    from roboforge.mdp.actions.frozen_policy import load_frozen_policy

    model = actor()
    if kind == "checkpoint":
        path = tmp_path / "model_0.pt"
        torch.save({"actor_state_dict": model.state_dict(), "iter": 0}, path)
    else:
        path = export_jit(model, {"task": "velocity-flat-go1"}, tmp_path / "policy.pt")
    module = load_frozen_policy(path, "cpu")
    onnx_file = export_module(module, policy_io(module, GO1_OBS, GO1_JOINTS), {}, tmp_path / LOW_LEVEL_FILE)
    parity = check_module(module, onnx_file, GO1_OBS)
    assert parity.passed and parity.max_abs_error < 1e-5, parity


def _record_training(env) -> dict[str, list]:
    """The env's low-level observations, actions and position targets, per low-level step (`world0` turns them into
    world 0's)."""
    term = env.action_manager.terms[ACTION]
    recorder, targets, apply = Recorder(term.policy), [], term.low_level.apply

    def recording_apply():  # every physics step; the targets change every low_level_decimation of them
        apply()
        targets.append(env.scene["robot"].joint_pos_target.clone())

    term.policy, term.low_level.apply = recorder, recording_apply
    return {"obs": recorder.inputs, "action": recorder.outputs, "target": targets}


def world0(values: list[torch.Tensor]) -> list[np.ndarray]:
    return [v[0].double().numpy() for v in values]


def _record_runtime(runner: PolicyRunner, robot: MujocoSimRobot) -> dict[str, list]:
    """The runtime's low-level observations and actions and the position targets it sends, per joint command."""
    seen: dict[str, list] = {"obs": [], "action": [], "target": []}
    low = runner.low_level
    assert low is not None
    act, write = low.policy.act, robot.write_command

    def recording_act(obs, images=None):
        seen["obs"].append(obs.astype(np.float64))
        seen["action"].append(act(obs).astype(np.float64))
        return low.policy.action[0]

    def recording_write(command):
        seen["target"].append(command.position.copy())
        write(command)

    low.policy.act, robot.write_command = recording_act, recording_write
    return seen


def test_runtime_follows_training_step_for_step(exported):
    """From the same state at every step (world 0's, copied into the runtime's robot): the high-level observation
    (with the goal twin's command), each low-level observation (its command the clipped high-level action, its last
    action its own), low-level action and joint target, the goal metrics and the state a step later equal the
    training env's. Targets beyond the joint limits stay as trained: the safety layer's clamp (on by default) is off."""
    session, result = exported
    env = session.env
    runner = PolicyRunner.load(result.policy, SafetyCfg(clamp_to_limits=False))
    robot = MujocoSimRobot(runner.meta, result.output_dir)
    sims = command_sims(runner.meta, robot, {})
    rules, goal = EpisodeRules(runner.meta, sims), sims[COMMAND]
    trained_goal = env.command_manager.terms[COMMAND]
    trained, seen = _record_training(env), _record_runtime(runner, robot)
    obs, _ = session.learner.venv.reset()
    world_context(robot, env, np.zeros(3))
    goal.goal_w = trained_goal.pos_command_w[0].double().numpy()
    goal.heading_w, goal.time_left = float(trained_goal.heading_command_w[0]), 1e9  # its goal, no resampling
    goal._update()
    runner.reset()
    worst = dict.fromkeys(("high_obs", "low_obs", "low_action", "target", "metrics", "qpos"), 0.0)
    clipped = 0
    metrics = ("error_pos_2d", "error_heading", "success")
    pose = lambda: {COMMAND: goal.command}  # noqa: E731  (the command moves with the robot)
    for length, error, done, flags in lockstep(runner, robot, rules, session, obs, pose, STEPS):
        assert not done and not any(flags.values()), length
        clipped += int(np.abs(runner.last_action).max() > 1.0)
        worst["high_obs"] = max(worst["high_obs"], error)
        worst["qpos"] = max(worst["qpos"], float(np.abs(robot.data.qpos - env.sim.qpos[0].numpy()).max()))
        world_context(robot, env, np.zeros(3))  # the next step starts from the same state again
        goal.step(np.random.default_rng(0), length, runner.meta.control.step_dt, 10**9)
        expected = np.array([float(trained_goal.metrics[k][0]) for k in metrics])
        worst["metrics"] = max(worst["metrics"], float(np.abs(goal._errors() - expected).max()))
    trained = {k: world0(v) for k, v in trained.items()}
    trained["target"] = trained["target"][:: env.cfg.actions[ACTION].low_level_decimation]
    for key in ("obs", "action", "target"):
        counts = (len(seen[key]), len(trained[key]))
        assert counts == (STEPS * runner.commands_per_step,) * 2, (key, counts)
        diffs = [float(np.abs(a - b).max()) for a, b in zip(seen[key], trained[key], strict=True)]
        worst[{"obs": "low_obs", "action": "low_action"}.get(key, key)] = max(diffs)
    print(f"navigation-go1, {STEPS} steps: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    assert clipped >= 2, "some high-level actions left the command ranges"
    assert worst["high_obs"] < 1e-5 and worst["metrics"] < 1e-5, worst
    assert worst["low_obs"] < 2e-3 and worst["low_action"] < 5e-4 and worst["target"] < 2e-4, worst
    assert worst["qpos"] < 1e-4, worst


def test_moved_export_folder_deploys_without_torch(exported, tmp_path):
    """`roboforge deploy --robot sim` on a copy of the export folder: sim-to-sim episodes with eval's metric names,
    in an interpreter that never loads torch."""
    session, result = exported
    folder = shutil.copytree(result.output_dir, tmp_path / "moved")
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from roboforge.cli import app\n"
        f"out = CliRunner().invoke(app, ['deploy', {str(folder / 'policy.onnx')!r}, '--episodes', '2', '--json'])\n"
        "assert out.exit_code == 0, out.output\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(out.stdout)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    report = json.loads(done.stdout)
    metrics = report["metrics"]
    names = {f"Metrics/{COMMAND}/{k}" for k in session.env.command_manager.terms[COMMAND].metrics}
    assert names == {k for k in metrics if k.startswith("Metrics/")}, metrics
    assert report["episodes"] == 2 and 0.0 <= metrics[f"Metrics/{COMMAND}/success"] <= 1.0
    assert report["safety"]["stops"] == 0


def test_a_missing_or_mismatched_low_level_file_is_one_clear_line(exported, tmp_path):
    from typer.testing import CliRunner

    from roboforge.cli.app import app

    result = exported[1]
    folder = shutil.copytree(result.output_dir, tmp_path / "copy")
    policy = folder / "policy.onnx"
    cases = {
        "missing": (None, f"{LOW_LEVEL_FILE} is missing"),
        "other network": (policy.read_bytes(), "does not fit the layout"),  # 10 inputs, not 48
        "not onnx": (b"not a network", "does not fit the layout"),
    }
    for case, (data, message) in cases.items():
        (folder / LOW_LEVEL_FILE).unlink(missing_ok=True)
        if data is not None:
            (folder / LOW_LEVEL_FILE).write_bytes(data)
        with pytest.raises(UserInputError, match=message) as err:
            PolicyRunner.load(policy)
        assert "\n" not in str(err.value), case
        out = CliRunner().invoke(app, ["deploy", str(policy), "--episodes", "1"])
        assert out.exit_code == 2 and message in " ".join(out.output.split()), (case, out.output)
    shutil.copy(result.output_dir / LOW_LEVEL_FILE, folder)
    with pytest.raises(UserInputError, match=r"deploy the policy\.onnx beside it"):
        PolicyRunner.load(folder / LOW_LEVEL_FILE)
