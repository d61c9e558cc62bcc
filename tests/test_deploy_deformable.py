"""The deploy runtime on lift-soft-cube-panda: the soft cube's shape term, centre of mass and reset against
training's on the same MuJoCo states, and sim-to-sim episodes with the task's metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export_util import exported_session, observation_parity, world_context
from roboforge.deploy import MujocoSimRobot, PolicyRunner
from roboforge.deploy.episodes import run_sim_episodes
from roboforge.deploy.rotations import quat_from_euler_xyz
from roboforge.utils.errors import UserInputError

WORLDS = 4


@pytest.fixture(scope="module")
def soft(tmp_path_factory):
    return exported_session("lift-soft-cube-panda", tmp_path_factory.mktemp("soft"), WORLDS)


def test_soft_lift_runtime_terms_match_training(soft):
    """Every observation term, the cube's shape (`node_pos_rel`) and its centre of mass (`object_position_b`)
    included, equals training's on the same states to 1e-5 while random actions push the arm about."""
    session, policy = soft
    obs, seen = observation_parity(session, policy, 0, 30, {"ee_pos_b": 0.02})
    assert {"node_pos_rel", "object_position_b"} <= seen and len(obs) >= 30 * WORLDS // 2
    runner = PolicyRunner.load(policy)
    [shape] = [t for t in runner.observations.terms if t.spec.func == "node_pos_rel"]
    assert shape.spec.dim == 8 * 3


def test_the_shape_term_reads_a_deformed_cube(soft):
    """Random actions seldom touch the cube: squeezed node by node, its shape still equals training's."""
    from roboforge.deploy.scene_terms import node_pos_rel
    from roboforge.mdp import deformable

    session, policy = soft
    env, runner = session.env, PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    [spec] = [t for t in runner.meta.observations or [] if t.func == "node_pos_rel"]
    shape_fn = node_pos_rel(spec, runner.meta)
    cube = env.scene["cube"]
    gen = torch.Generator().manual_seed(4)
    pos = cube.data.node_pos_w + 0.004 * torch.randn(cube.data.node_pos_w.shape, generator=gen)
    cube.write_node_state(pos, torch.zeros_like(pos), torch.ones(WORLDS, dtype=torch.bool))
    expected = deformable.node_pos_rel(env, "cube").double().numpy()
    rest = (cube.node_rest_pos_w - cube.node_rest_pos_w.mean(0)).flatten().double().numpy()
    assert np.abs(expected - rest).max() > 2e-3, "the cube is deformed"
    for w in range(WORLDS):
        got = shape_fn(world_context(robot, env, np.zeros(env.num_actions), w))
        np.testing.assert_allclose(got, expected[w], atol=1e-6)


def test_soft_cube_reset_places_the_shape_as_training_does(soft):
    """The runtime's placement of the undeformed cube (its root reset) writes the node joints training writes."""
    session, policy = soft
    env, runner = session.env, PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    cube, nodes = env.scene["cube"], robot.scene_objects.deformable["cube"]
    pos = np.array([0.55, -0.05, 0.04])
    quat = quat_from_euler_xyz(0.0, 0.0, 0.7)
    lin, ang = np.array([0.1, 0.0, -0.2]), np.array([0.0, 0.3, 0.5])
    as_t = lambda x: torch.tensor(x, dtype=torch.float32).expand(WORLDS, -1)  # noqa: E731
    cube.write_root_state(as_t(pos), as_t(quat), as_t(lin), as_t(ang), torch.ones(WORLDS, dtype=torch.bool))
    nodes.place(robot.data, pos, quat, lin, ang)
    np.testing.assert_allclose(
        robot.data.qpos[nodes.qadr], env.sim.qpos[0, cube.node_qpos_adr].numpy(), atol=1e-6
    )
    np.testing.assert_allclose(
        robot.data.qvel[nodes.dadr], env.sim.qvel[0, cube.node_dof_adr].numpy(), atol=1e-6
    )
    np.testing.assert_allclose(nodes.com_w(robot.data), pos, atol=1e-9)


def test_soft_lift_sim_episodes_report_the_task_metrics(soft):
    runner = PolicyRunner.load(soft[1])
    robot = MujocoSimRobot(runner.meta, soft[1].parent)
    result = run_sim_episodes(runner, robot, 2, seed=0)
    assert {"Metrics/object_pose/success", "Metrics/object_pose/position_error"} <= set(result.metrics)
    assert result.safety["stops"] == 0


def test_a_missing_shape_is_one_clear_error(soft):
    runner = PolicyRunner.load(soft[1])
    robot = MujocoSimRobot(runner.meta, soft[1].parent)
    state = robot.read_state()
    assert state.object_nodes_w is not None and state.object_nodes_w["cube"].shape == (8, 3)
    commands = {"object_pose": np.array([0.5, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0])}
    state.object_nodes_w = {"cube": np.zeros(24)}  # flat, as a careless perception would send it
    with pytest.raises(UserInputError, match=r"has shape \(24,\); .* give \(8, 3\)"):
        runner.step(state, commands=commands)
    runner.reset()
    state.object_nodes_w = None
    with pytest.raises(UserInputError, match=r"object_nodes_w\['cube'\] \(num_nodes, 3\)"):
        runner.step(state, commands=commands)


def test_the_shape_travels_over_udp(soft):
    """The UDP adapter's state datagram carries a deformable object's nodes beside its centre of mass."""
    from roboforge.deploy.udp_robot import state_from_json, state_to_json

    runner = PolicyRunner.load(soft[1])
    state = MujocoSimRobot(runner.meta, soft[1].parent).read_state()
    back = state_from_json(state_to_json(state), 0.0)
    assert back.object_nodes_w is not None and state.object_nodes_w is not None
    np.testing.assert_array_equal(back.object_nodes_w["cube"], state.object_nodes_w["cube"])
    assert back.object_pos_w is not None and state.object_pos_w is not None
    np.testing.assert_array_equal(back.object_pos_w["cube"], state.object_pos_w["cube"])


def test_sim_episodes_report_their_progress(soft):
    """`deploy --robot sim` shows a bar of the episodes done."""
    runner = PolicyRunner.load(soft[1])
    done: list[int] = []
    run_sim_episodes(runner, MujocoSimRobot(runner.meta, soft[1].parent), 3, seed=1, on_episode=done.append)
    assert done == [1, 2, 3]
