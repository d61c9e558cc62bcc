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
    link = UdpJsonRobot(server.address, bind=("127.0.0.1", 0), state_timeout_s=1.0)
    server.start(link.sock.getsockname())
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
