"""Sim-to-sim: the deployment runtime's episodes against `roboforge eval`, and the UDP example adapter."""

from __future__ import annotations

import time

import numpy as np
import pytest

from export_util import exported_cartpole, trained_cartpole
from roboforge.deploy import MujocoSimRobot, PolicyRunner
from roboforge.deploy.episodes import run_sim_episodes
from roboforge.export import export_policy


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    return exported_cartpole(tmp_path_factory.mktemp("cartpole"))


@pytest.mark.slow  # trains a cart-pole first
def test_sim_to_sim_metrics_match_eval(tmp_path_factory):
    from roboforge.rl.evaluate import evaluate
    from roboforge.rl.session import build_session

    run = trained_cartpole(tmp_path_factory.getbasetemp())
    result = export_policy("cartpole", run, run / "exported")
    episodes = 96
    ev = evaluate(build_session("cartpole", device="cpu", play=True), result.checkpoint, episodes, quiet=True)
    runner = PolicyRunner.load(result.policy)
    sim = run_sim_episodes(runner, MujocoSimRobot(runner.meta), episodes, seed=1)
    assert sim.episodes == episodes and sim.max_episode_length == ev.max_episode_length == 300
    assert set(sim.metrics) <= set(ev.metrics), "deploy reports eval's metric names"
    assert abs(sim.mean_episode_length - ev.mean_episode_length) <= 30.0, (sim, ev)
    for key in ("Episode_Termination/time_out", "Episode_Termination/cart_out_of_bounds"):
        assert abs(sim.metrics[key] - ev.metrics[key]) <= 0.15, (key, sim.metrics, ev.metrics)
    assert sim.mean_episode_length > 150, "the trained policy balances in the deploy runtime too"
    assert sim.safety["stops"] == 0


def test_udp_json_robot_loopback_matches_the_direct_sim(cartpole):
    from roboforge.deploy.loop import run_control_loop
    from roboforge.deploy.udp_robot import UdpJsonRobot, UdpRobotServer

    _, policy = cartpole
    start = (np.array([0.4, 0.05]), np.array([0.0, -0.2]))
    runner = PolicyRunner.load(policy)
    direct, remote = MujocoSimRobot(runner.meta), MujocoSimRobot(runner.meta)
    direct.reset(*start)
    remote.reset(*start)
    run_control_loop(runner, direct, 50)
    server = UdpRobotServer(remote)  # the robot side, as firmware or an SDK bridge would run it
    server.start()
    link = UdpJsonRobot(server.address, bind=("127.0.0.1", 0), state_timeout_s=1.0)
    try:
        runner.reset()
        result = run_control_loop(runner, link, 50)
        final = link.read_state()  # waits for the reply to the last command
        assert result.hold_steps == 0 and server.commands == 50
        np.testing.assert_array_equal(final.joint_pos, direct.read_state().joint_pos)
        np.testing.assert_array_equal(remote.data.qpos, direct.data.qpos)
    finally:
        server.stop()
    link.state_timeout_s = 0.01
    time.sleep(0.15)  # the robot went silent: the state the link still holds is older than max_state_age_s
    assert runner.step(link.read_state(), link.now()).hold and "stale" in (runner.safety.stopped or "")
    link.close()


def test_cli_deploy_drives_a_udp_robot(cartpole):
    import json

    from typer.testing import CliRunner

    from roboforge.cli import app
    from roboforge.deploy.udp_robot import UdpRobotServer

    _, policy = cartpole
    robot = MujocoSimRobot(PolicyRunner.load(policy).meta)
    server = UdpRobotServer(robot)
    server.start()
    host, port = server.address
    try:
        out = CliRunner().invoke(
            app, ["deploy", str(policy), "--robot", f"udp://{host}:{port}", "--steps", "30", "--json"]
        )
    finally:
        server.stop()
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["steps"] == 30 and result["hold_steps"] == 0 and server.commands == 30
    assert robot.now() == pytest.approx(30 * robot.meta.control.step_dt)


def test_cli_deploy_stopped_by_sigterm_reports_the_episodes_ended_so_far(cartpole, monkeypatch):
    """A long sim-to-sim check stopped by SIGTERM (or Ctrl-C) ended with exit 130 and no statistics."""
    import json
    import os
    import signal

    from typer.testing import CliRunner

    import roboforge.deploy.episodes as deploy_episodes
    from roboforge.cli import app

    episode, calls = deploy_episodes._episode, []

    def episode_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # the fifth episode is cut short
            os.kill(os.getpid(), signal.SIGTERM)
        return episode(*args, **kwargs)

    monkeypatch.setattr(deploy_episodes, "_episode", episode_then_stop)
    _, policy = cartpole
    out = CliRunner().invoke(app, ["deploy", str(policy), "--episodes", "1000000", "--json"])
    assert out.exit_code == 130, out.output
    result = json.loads(out.stdout)
    assert result["interrupted"] is True and result["episodes"] == 4 and len(calls) == 5
    assert 0 < result["metrics"]["Episode/length"] <= 300 and "Episode/survived" in result["metrics"]


def test_reach_pose_commands_are_sampled_and_scored_like_training(tmp_path):
    from export_util import exported_reach
    from roboforge.deploy.sim_commands import command_sims

    _, policy = exported_reach(tmp_path)
    runner = PolicyRunner.load(policy)
    [spec] = runner.meta.command_terms
    assert spec.type == "UniformPoseCommandCfg" and spec.params["resampling_time_range"] == [4.0, 4.0]
    robot = MujocoSimRobot(runner.meta)
    sim = command_sims(runner.meta, robot, {})["ee_pose"]
    rng, dt, max_len = (
        np.random.default_rng(0),
        runner.meta.control.step_dt,
        runner.meta.control.max_episode_length,
    )
    sim.reset(rng)
    first = sim.command.copy()
    ranges = spec.params["ranges"]
    for k, key in enumerate(("pos_x", "pos_y", "pos_z")):
        assert ranges[key][0] <= first[k] <= ranges[key][1]
    assert first[3] >= 0 and abs(np.linalg.norm(first[3:]) - 1) < 1e-6  # float32 like training
    changed_at = 0
    for n in range(1, max_len):
        sim.step(rng, n, dt, max_len)
        if sim.command[0] != first[0]:
            changed_at = n
            break
    assert abs(changed_at * dt - 4.0) <= dt + 1e-9, "resampled every 4 s"
    assert sim.steps == 0, "metrics count only in the last metric_window_s of the episode"
    result = run_sim_episodes(runner, robot, 3, seed=0)
    assert result.mean_episode_length == max_len
    assert 0 < result.metrics["Metrics/ee_pose/position_error"] < 2.0
    assert 0 < result.metrics["Metrics/ee_pose/orientation_error"] <= np.pi
    fixed = run_sim_episodes(runner, robot, 1, commands={"ee_pose": first})
    assert "Metrics/ee_pose/position_error" not in fixed.metrics, "constant commands are not scored"


def test_udp_state_datagram_carries_the_scene_fields():
    """Object and obstacle positions travel in the state datagram (for lift and navigation policies)."""
    from roboforge.deploy.robot import RobotState
    from roboforge.deploy.udp_robot import state_from_json, state_to_json

    state = RobotState(("x", "y", "yaw"), np.array([0.1, -0.2, 0.3]), np.zeros(3), 0.0)
    state.base_pos_w = np.array([0.0, 0.0, 0.1])
    state.object_pos_w = {"cube": np.array([0.5, 0.0, 0.0255])}
    state.obstacles_w = np.array([[1.0, 2.0, 0.3], [-1.5, 0.25, 0.2]])
    back = state_from_json(state_to_json(state), stamp=7.0)
    assert back.stamp == 7.0 and back.base_quat_w is None
    np.testing.assert_array_equal(back.base_pos_w, state.base_pos_w)
    np.testing.assert_array_equal(back.object_pos_w["cube"], state.object_pos_w["cube"])
    np.testing.assert_array_equal(back.obstacles_w, state.obstacles_w)
    state.obstacles_w = np.zeros((0, 3))  # no obstacles in sight
    assert state_from_json(state_to_json(state), stamp=0.0).obstacles_w.shape == (0, 3)


@pytest.mark.parametrize(
    "datagram",
    [b"not json", b'{"joint_pos": [0.0]}', b'{"joint_names": ["a"], "joint_pos": [0], "joint_vel": [0], '
     b'"object_pos_w": [1, 2, 3]}', b'{"joint_names": ["a"], "joint_pos": [0], "joint_vel": [0], '
     b'"obstacles_w": [1, 2]}'],
)  # fmt: skip
def test_a_malformed_state_datagram_is_one_clear_error(datagram):
    from roboforge.deploy.udp_robot import state_from_json
    from roboforge.utils.errors import UserInputError

    with pytest.raises(UserInputError, match="Malformed robot state datagram"):
        state_from_json(datagram, stamp=0.0)
