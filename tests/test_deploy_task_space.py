"""Task-space actions deploy: the runtime's differential IK and operational-space controller (`deploy/task_space.py`)
against the training terms on the same states, a rollout beside the training env, the controller alone reaching
commanded poses, and an OSC policy refused over UDP (the CLI path: `test_deploy_tasks.py`). The arm's mount is
moved and turned, so root-frame mistakes show."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from export_util import lockstep
from roboforge.deploy import MujocoSimRobot, PolicyRunner
from roboforge.deploy.episodes import EpisodeRules
from roboforge.rl.run_dir import save_configs
from roboforge.rl.session import build_session
from roboforge.rl.trainer import Trainer

TASKS = {"ik-abs": "reach-ur5e-ik-abs", "ik-rel": "reach-ur5e-ik-rel", "osc": "reach-ur5e-osc"}
MOUNT_QUAT = [0.921019648159841, 0.11104158058527826, -0.009198031322800115, 0.37323983081181267]
"""Roll 0.2, pitch -0.1, yaw 0.76 rad (a unit quaternion: training uses it as written, MuJoCo normalizes)."""
MOUNT = {
    "scene.entities.robot.init_state.pos": [0.3, -0.2, 0.1],
    "scene.entities.robot.init_state.rot": MOUNT_QUAT,
}
WORLDS, ITERATIONS, TRAIN_WORLDS = 4, 3, 32
ROLLOUT_STEPS = {"ik-abs": 20, "ik-rel": 40, "osc": 40}
"""ik-abs: the trained policy's closed loop doubles float-level differences (the training term's float32 solve)
about every 3 steps; from 1e-8 they reach 1e-3 in qpos after 40 steps from some states."""
TOOL = "robot/tool0"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`trained(mode)`: (a play session of WORLDS C-backend worlds with the weights, policy.onnx) of a policy
    trained ITERATIONS iterations on the moved mount, built once per module."""
    from roboforge.export import export_policy

    built = {}

    def get(mode: str):
        if mode not in built:
            task, folder = TASKS[mode], tmp_path_factory.mktemp(mode)
            torch.manual_seed(0)
            s = build_session(task, TRAIN_WORLDS, "cpu", "mujoco", 0, False, MOUNT)
            save_configs(folder, task, s.env_cfg, s.agent_cfg, {})
            Trainer(s, folder, ITERATIONS, quiet=True).train()
            checkpoint = folder / f"model_{ITERATIONS - 1}.pt"
            play = build_session(task, WORLDS, "cpu", "mujoco", 0, True, MOUNT)
            play.learner.load(checkpoint, training=False)
            built[mode] = play, export_policy(task, checkpoint, folder / "out", env_overrides=MOUNT).policy
        return built[mode]

    return get


def _random_actions(mode: str, gen: torch.Generator) -> torch.Tensor:
    """Relative deltas in [-1, 1]; absolute poses: positions in (a little beyond) the task's target box in the
    mount frame, any orientation (a quaternion left unnormalized: the term normalizes it)."""
    dim = 6 if mode == "ik-rel" else 7
    action = torch.rand(WORLDS, dim, generator=gen) * 2.0 - 1.0
    if mode != "ik-rel":
        low, high = torch.tensor([0.25, -0.3, 0.15]), torch.tensor([0.65, 0.3, 0.6])
        action[:, :3] = low + (high - low) * torch.rand(WORLDS, 3, generator=gen)
    return action


@pytest.mark.parametrize("mode", list(TASKS))
def test_runtime_controller_equals_the_training_term(mode, trained):
    """Random actions over a rollout: from each world's measured joint state the runtime's joint targets (IK) or
    torques (OSC) equal the training term's on the same state to 1e-5, relative to the largest target or torque
    above 1 (the training term solves in float32)."""
    session, policy = trained(mode)
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    term, entity = env.action_manager.terms["arm"], env.scene["robot"]
    row, ids = 2 if mode == "osc" else 0, term.joint_ids
    gen = torch.Generator().manual_seed(1)
    venv.reset()
    worst, worst_abs, spread = 0.0, 0.0, []
    for _ in range(12):
        venv.step(_random_actions(mode, gen))
        env.sim.forward()  # the training term's poses at the current state, as the runtime's from measured joints
        action = _random_actions(mode, gen)
        term.process(action)
        term.apply()
        trained_out = (entity.joint_effort_target if row == 2 else entity.joint_pos_target)[:, ids].double()
        for w in range(WORLDS):
            q = env.sim.qpos[w, entity.joint_qpos_adr].numpy()
            qd = env.sim.qvel[w, entity.joint_dof_adr].numpy()
            got = runner.actions.compute(action[w].double().numpy(), q, qd)[row, ids.numpy()]
            expected = trained_out[w].numpy()
            worst = max(worst, float(np.abs(got - expected).max() / max(1.0, np.abs(expected).max())))
            worst_abs = max(worst_abs, float(np.abs(got - expected).max()))
            spread.append(expected - (0.0 if row == 2 else q))
    print(f"{mode}: max |runtime - training| {worst_abs:.2e}, / max(1, max |training|) {worst:.2e}")
    assert worst < 1e-5, worst
    assert np.abs(np.array(spread)).max() > 0.1, "the compared states moved the joints / made torques"


@pytest.mark.parametrize("mode", list(TASKS))
def test_rollout_beside_the_training_env(mode, trained):
    """From world 0's reset state, the runtime (observation, ONNX policy, task-space target, sim robot solving it
    every physics step) follows the training env: observations and qpos stay within a small tolerance."""
    session, policy = trained(mode)
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    rules = EpisodeRules(runner.meta, {})
    obs, _ = venv.reset()
    robot.data.qpos[:] = env.sim.qpos[0].numpy()
    robot.data.qvel[:] = env.sim.qvel[0].numpy()
    robot.forward()
    runner.reset()
    command = lambda: {"ee_pose": env.command_manager.get_command("ee_pose")[0].double().numpy()}  # noqa: E731
    worst_obs, worst_q, steps = 0.0, 0.0, 0
    for _, error, done, _ in lockstep(runner, robot, rules, session, obs, command, ROLLOUT_STEPS[mode]):
        worst_obs = max(worst_obs, error)
        if done:
            break
        worst_q = max(worst_q, float(np.abs(robot.data.qpos - env.sim.qpos[0].numpy()).max()))
        steps += 1
    moved = float(np.abs(robot.data.qpos - runner.meta.robot.default_joint_pos).max())
    print(f"{mode} rollout: {steps} steps, worst observation {worst_obs:.2e}, worst qpos {worst_q:.2e}")
    assert steps == ROLLOUT_STEPS[mode] and moved > 0.05, (steps, moved)
    assert worst_obs < 1e-3 and worst_q < 1e-4, (worst_obs, worst_q)


def _tool_pose_b(robot: MujocoSimRobot) -> tuple[np.ndarray, np.ndarray]:
    """The tool site's pose in the mount frame, with MuJoCo's own functions (no roboforge rotation code)."""
    d = robot.data
    inv, pos_b, site_q, quat_b = np.zeros(4), np.zeros(3), np.zeros(4), np.zeros(4)
    mujoco.mju_negQuat(inv, np.asarray(MOUNT_QUAT))
    mujoco.mju_rotVecQuat(
        pos_b, d.site(TOOL).xpos - np.asarray(MOUNT["scene.entities.robot.init_state.pos"]), inv
    )
    mujoco.mju_mat2Quat(site_q, d.site(TOOL).xmat)
    mujoco.mju_mulQuat(quat_b, inv, site_q)
    return pos_b, quat_b


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float(np.arccos(min(1.0, abs(float(np.dot(a, b))))))


def _drive(
    runner: PolicyRunner, robot: MujocoSimRobot, action: np.ndarray, steps: int, solve_in_sim: bool
) -> None:
    """Send the same policy action for `steps` control steps through the runtime's action mapping and safety; the
    sim robot solves the target every physics step (`solve_in_sim`) or holds the runtime's joint targets/torques
    for the control period, as a robot without the controller does."""
    for _ in range(steps):
        state = robot.read_state()
        targets = runner.actions.compute(action, state.joint_pos, state.joint_vel)
        jm = runner.bind(robot.joint_names)
        command = runner._command(jm, runner.safety.filter(targets, state.joint_pos), hold=False)
        if not solve_in_sim:
            command.task_actions = None
        robot.write_command(command)


@pytest.mark.parametrize("mode,solve_in_sim", [("ik-abs", True), ("ik-abs", False), ("osc", True)])
def test_the_controller_alone_reaches_a_commanded_pose(mode, solve_in_sim, trained):
    """An absolute pose 6 cm and 0.3 rad from the tool's pose in the (turned) mount frame: the runtime's controller
    brings the tool there, solving every physics step in the sim robot or once per control step in the runner (IK;
    OSC torques held for the 20 ms control period set the UR5e's wrists oscillating 6 cm away); a flipped sign or a
    world/root frame mix-up does not."""
    policy = trained(mode)[1]
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    start_pos, start_quat = _tool_pose_b(robot)
    turn, goal_quat = np.zeros(4), np.zeros(4)
    mujoco.mju_axisAngle2Quat(turn, np.array([0.0, 0.6, 0.8]), 0.3)
    mujoco.mju_mulQuat(goal_quat, turn, start_quat)
    goal_pos = start_pos + np.array([0.04, -0.03, 0.03])
    _drive(runner, robot, np.concatenate((goal_pos, goal_quat)), 400 if mode == "osc" else 30, solve_in_sim)
    pos, quat = _tool_pose_b(robot)
    error = (float(np.linalg.norm(pos - goal_pos)), _angle(quat, goal_quat))
    print(
        f"{mode} (solved in sim: {solve_in_sim}): {error[0] * 1e3:.2f} mm, {error[1]:.4f} rad from the goal"
    )
    assert error[0] < (5e-3 if mode == "osc" else 1e-3) and error[1] < (0.03 if mode == "osc" else 0.005), (
        error
    )


def test_a_relative_action_moves_the_target_by_its_delta_in_the_mount_frame(trained):
    """ik-rel: one action of (dx, dy, dz, rotation vector) x scale moves the target by that much in the mount frame
    (turned on the left of the current orientation), and the runner's IK, solving for that target once per
    control step, brings the tool there."""
    policy = trained("ik-rel")[1]
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    scale = runner.meta.actions[0].params["scale"]
    action = np.array([0.6, -0.4, 0.5, 0.0, 0.0, 1.0])
    start_pos, start_quat = _tool_pose_b(robot)
    _drive(runner, robot, action, 1, solve_in_sim=False)
    turn, goal_quat = np.zeros(4), np.zeros(4)
    mujoco.mju_axisAngle2Quat(turn, np.array([0.0, 0.0, 1.0]), scale)
    mujoco.mju_mulQuat(goal_quat, turn, start_quat)
    target = runner.actions.task_targets()["arm"]
    np.testing.assert_allclose(target[:3], start_pos + scale * action[:3], atol=1e-9)
    assert _angle(target[3:], goal_quat) < 1e-6
    _, ids, term = runner.actions.task_space[0]
    kinematics = runner.actions._kinematics()
    for _ in range(30):  # the same target (a zero delta would hold the pose reached instead)
        state = robot.read_state()
        targets = runner.actions.default.copy()
        data = kinematics.update(state.joint_pos)
        targets[0, ids] = term.apply(data, state.joint_pos[ids], state.joint_vel[ids])
        command = runner._command(runner.bind(robot.joint_names), targets, hold=False)
        command.task_actions = None  # the runner's targets, not the sim's own solve of the last action
        robot.write_command(command)
    pos, quat = _tool_pose_b(robot)
    assert np.linalg.norm(pos - target[:3]) < 1e-3 and _angle(quat, goal_quat) < 0.005


def test_the_export_writes_the_controllers_values(trained):
    """The metadata names the end-effector frame, its offset, the mode and the values the training term used."""
    ik = PolicyRunner.load(trained("ik-rel")[1]).meta.actions[0]
    osc = PolicyRunner.load(trained("osc")[1]).meta.actions[0]
    assert (ik.type, osc.type) == ("differential_ik", "operational_space")
    assert ik.joint_names == osc.joint_names and len(ik.joint_names) == 6
    p = ik.params
    assert (p["body_name"], p["frame_body"], p["command_type"], p["use_relative_mode"]) == (
        "tool0", "wrist_3_link", "pose", True
    )  # fmt: skip
    assert p["action_dim"] == 6 and p["scale"] == 0.05 and p["ik_method"] == "dls"
    assert abs(p["ridge"] - p["damping"] ** 2) < 1e-12 and p["frame_offset_quat"] == [1.0, 0.0, 0.0, 0.0]
    o = osc.params
    assert o["action_dim"] == 7 and o["use_relative_mode"] is False and o["gravity_compensation"] is True
    np.testing.assert_allclose(o["kd"], 2.0 * o["damping_ratio"] * np.sqrt(o["kp"]), rtol=1e-6)
    assert len(o["kp"]) == 6 and o["nullspace_damping"] > 0


@pytest.mark.slow  # trains two CPU iterations through the CLI
def test_an_osc_policy_over_udp_is_one_clear_error(trained):
    """OSC torques solved once per command oscillate (training solves them every physics step), so deploying an
    OSC policy to a UDP robot stops before any datagram with one line saying why, exit 2."""
    from typer.testing import CliRunner

    from roboforge.cli.app import app

    _, policy = trained("osc")
    result = CliRunner().invoke(app, ["deploy", str(policy), "--robot", "udp://127.0.0.1:9", "--steps", "5"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert "operational-space control" in result.output and "physics step" in result.output, result.output
    assert "Traceback" not in result.output and len(lines) <= 3, result.output
