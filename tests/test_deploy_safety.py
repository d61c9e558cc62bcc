"""Safety layer of the deployment runtime: every rule, through `PolicyRunner.step`."""

from __future__ import annotations

import numpy as np
import pytest

from export_util import exported_cartpole, exported_reach, state_of
from roboforge.deploy import MujocoSimRobot, PolicyRunner, SafetyCfg


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    return exported_cartpole(tmp_path_factory.mktemp("cartpole"))


@pytest.fixture(scope="module")
def reach(tmp_path_factory):
    return exported_reach(tmp_path_factory.mktemp("reach"))


def forced_action(runner: PolicyRunner, value: float) -> None:
    """Make the network output `value` for every action (to drive targets past the limits)."""
    runner.policy.act = lambda obs: np.full(runner.meta.policy.action_dim, value, dtype=np.float32)  # type: ignore[method-assign]


def test_safety_clamps_targets_to_joint_and_effort_limits(reach, cartpole):
    _, policy = reach
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta)
    forced_action(runner, 100.0)
    lo, hi = np.array(runner.meta.robot.joint_pos_limits).T
    cmd = runner.step(state_of(robot), commands={"ee_pose": np.zeros(7)})
    np.testing.assert_allclose(cmd.position, hi)
    assert runner.safety.counts["position_clamped"] == 1
    margin = PolicyRunner.load(policy, SafetyCfg(limit_margin=0.1))
    forced_action(margin, -100.0)
    np.testing.assert_allclose(
        margin.step(state_of(robot), commands={"ee_pose": np.zeros(7)}).position, lo + 0.1
    )
    off = PolicyRunner.load(policy, SafetyCfg(clamp_to_limits=False))
    forced_action(off, 100.0)
    assert (off.step(state_of(robot), commands={"ee_pose": np.zeros(7)}).position > hi).all()
    _, cart_policy = cartpole
    cart = PolicyRunner.load(cart_policy)
    forced_action(cart, 10.0)  # 10 * scale 100 = 1000 N > the 400 N effort limit
    assert cart.step(state_of(MujocoSimRobot(cart.meta))).effort[0] == 400.0
    assert cart.safety.counts["effort_clamped"] == 1


def test_safety_limits_the_rate_of_change(reach, cartpole):
    _, policy = reach
    runner = PolicyRunner.load(policy, SafetyCfg(max_position_rate=1.0))
    robot = MujocoSimRobot(runner.meta)
    forced_action(runner, 1.0)
    dt, q0 = runner.meta.control.step_dt, robot.read_state().joint_pos
    first = runner.step(state_of(robot), commands={"ee_pose": np.zeros(7)})
    np.testing.assert_allclose(first.position, q0 + dt)  # from the measured pose, at most 1 rad/s
    second = runner.step(state_of(robot), commands={"ee_pose": np.zeros(7)})
    np.testing.assert_allclose(second.position, q0 + 2 * dt)
    assert runner.safety.counts["rate_limited"] == 2
    _, cart_policy = cartpole
    cart = PolicyRunner.load(cart_policy, SafetyCfg(max_effort_rate=600.0))
    forced_action(cart, 1.0)  # 100 N wanted, 600 N/s * dt = 10 N per step allowed
    efforts = [cart.step(state_of(MujocoSimRobot(cart.meta))).effort[0] for _ in range(3)]
    np.testing.assert_allclose(efforts, [10.0, 20.0, 30.0])


def test_watchdog_stops_and_holds_on_stale_state(cartpole):
    _, policy = cartpole
    runner = PolicyRunner.load(policy, SafetyCfg(max_state_age_s=0.05))
    robot = MujocoSimRobot(runner.meta)
    robot.reset(np.array([0.5, 0.1]), np.zeros(2))
    good = runner.step(state_of(robot, stamp=1.0), now=1.01)
    assert not good.hold
    robot.write_command(good)
    stale = runner.step(state_of(robot, stamp=1.0), now=1.2)
    assert stale.hold and "stale state" in (runner.safety.stopped or "")
    np.testing.assert_allclose(stale.position, [0.5, 0.1])  # the last good measured pose
    assert not stale.effort.any() and not stale.velocity.any()
    fresh = runner.step(state_of(robot, stamp=1.3), now=1.3)
    assert fresh.hold, "latched until reset()"
    runner.reset()
    assert not runner.step(state_of(robot, stamp=1.4), now=1.4).hold
    assert runner.safety.counts["stops"] == 1
    unlatched = PolicyRunner.load(policy, SafetyCfg(max_state_age_s=0.05, latch=False))
    assert unlatched.step(state_of(robot, stamp=0.0), now=1.0).hold
    assert not unlatched.step(state_of(robot, stamp=1.0), now=1.0).hold
    no_watchdog = PolicyRunner.load(policy, SafetyCfg(max_state_age_s=None))
    assert not no_watchdog.step(state_of(robot, stamp=0.0), now=100.0).hold


def test_non_finite_state_or_action_stops_and_holds(cartpole):
    _, policy = cartpole
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta)
    robot.reset(np.array([0.2, 0.0]), np.zeros(2))
    runner.step(state_of(robot))
    bad = state_of(robot)
    bad.joint_vel = np.array([np.nan, 0.0])
    cmd = runner.step(bad)
    assert cmd.hold and runner.safety.stopped == "non-finite robot state"
    np.testing.assert_allclose(cmd.position, [0.2, 0.0])
    runner.reset()
    forced_action(runner, float("nan"))
    assert runner.step(state_of(robot)).hold and runner.safety.stopped == "non-finite policy action"
    ignore = PolicyRunner.load(policy, SafetyCfg(stop_on_nonfinite=False))
    forced_action(ignore, 0.5)
    assert not ignore.step(bad).hold
