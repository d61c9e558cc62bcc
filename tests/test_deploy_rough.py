"""The deploy runtime on velocity-rough-go1: its height scan against the training term on the same MuJoCo states
(the exported scene's height field read back, the yaw-aligned grid), and sim-to-sim episodes that start on the
terrain's patches as the rough play config does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export_util import exported_session, world_context
from roboforge.deploy import MujocoSimRobot, PolicyRunner
from roboforge.deploy.episodes import run_sim_episodes
from roboforge.deploy.metadata import MetadataError
from roboforge.deploy.observations import ObsContext
from roboforge.deploy.scene_terms import height_scan
from roboforge.deploy.terrain import SceneTerrain
from roboforge.utils.errors import UserInputError

pytestmark = pytest.mark.slow  # builds the 100 m x 180 m rough terrain and exports its scene

WORLDS = 4
STEPS = 15


@pytest.fixture(scope="module")
def rough(tmp_path_factory):
    return exported_session("velocity-rough-go1", tmp_path_factory.mktemp("rough"), WORLDS)


def test_scene_terrain_reads_the_training_height_field_back(rough):
    session, policy = rough
    robot = MujocoSimRobot(PolicyRunner.load(policy).meta, policy.parent)
    terrain = session.env.scene.terrain
    rng = np.random.default_rng(0)
    assert robot.terrain.grid is not None
    lo = np.array(robot.terrain.grid.origin_xy)
    hi = lo + 95.0
    points = rng.uniform(lo, hi, size=(5000, 2))
    expected = terrain.height_at(torch.tensor(points, dtype=torch.float32)).double().numpy()
    got = robot.terrain.height_at(points)
    assert np.ptp(expected) > 0.5, "the points cover stairs, boxes and slopes"
    np.testing.assert_allclose(got, expected, atol=2e-5)
    patches = robot.terrain.patches
    assert patches is not None and len(patches.origins) == terrain.num_rows * terrain.num_cols
    for patch in (0, 7, len(patches.origins) - 1):  # row by row: level = row, kind of that column
        row, col = divmod(patch, terrain.num_cols)
        assert patches.levels[patch] == row
        assert patches.kinds[patch] == terrain.kind_names[int(terrain.patch_kinds()[row, col])]
        np.testing.assert_allclose(
            patches.origins[patch], terrain.terrain_origins[row, col].numpy(), atol=1e-6
        )


def test_the_exported_scene_keeps_the_terrain_in_binary_files(rough):
    """The height-field tiles travel as `scene_assets/terrain_<i>_<j>.bin` with the training model's samples,
    not as 12 MB of MJCF text (in scene.xml, policy.json and the ONNX file each)."""
    session, policy = rough
    meta = PolicyRunner.load(policy).meta
    robot = MujocoSimRobot(meta, policy.parent)
    trained = session.env.scene.model
    assert len(meta.scene.mjcf) < 200_000 and "elevation" not in meta.scene.mjcf
    assert sum(name.endswith(".bin") for name in meta.scene.assets) == trained.nhfield
    assert np.array_equal(robot.model.hfield_data, trained.hfield_data)
    np.testing.assert_allclose(robot.model.hfield_size, trained.hfield_size, rtol=1e-12)
    assert (policy.parent / "policy.onnx").stat().st_size < 3_000_000


def test_height_scan_matches_training_on_the_same_states(rough):
    session, policy = rough
    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    [term] = [t for t in runner.observations.terms if t.spec.func == "height_scan"]
    gen = torch.Generator().manual_seed(0)
    venv.reset()
    compared = []
    for _ in range(STEPS):
        action = torch.rand(env.num_envs, runner.meta.policy.action_dim, generator=gen) - 0.5
        obs, _, dones, _ = venv.step(action)
        for w in range(env.num_envs):
            if bool(dones[w]):
                continue
            runner.observations.reset()
            got = runner.observations.compute(world_context(robot, env, action[w].double().numpy(), w))
            expected = obs["policy"][w].double().numpy()
            np.testing.assert_allclose(got[term.slice], expected[term.slice], atol=2e-5)
            np.testing.assert_allclose(got, expected, atol=1e-4)  # and every other term
            compared.append(expected[term.slice])
    scans = np.array(compared)
    assert len(scans) >= STEPS * WORLDS // 2
    assert np.ptp(scans, axis=1).max() > 0.05, "some scan saw uneven ground"


def test_a_scan_around_another_body_or_without_the_ground_is_refused(rough):
    _, policy = rough
    runner = PolicyRunner.load(policy)
    [term] = [t for t in runner.observations.terms if t.spec.func == "height_scan"]
    spec = term.spec
    spec.params = spec.params | {"body_name": "trunk"}
    with pytest.raises(MetadataError, match="root only"):
        height_scan(spec, runner.meta)
    spec.params = spec.params | {"body_name": None}
    fn = height_scan(spec, runner.meta)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    state = robot.read_state()
    ctx = ObsContext(
        state.joint_pos, state.joint_vel, np.zeros(12), state.base_quat_w, base_pos_w=state.base_pos_w
    )
    with pytest.raises(UserInputError, match=r"RobotState\.terrain_height_w"):
        fn(ctx)


def test_sim_episodes_start_on_the_terrain_patches_and_report_survival_by_kind_and_level(rough):
    _, policy = rough
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    patches = []
    result = run_sim_episodes(runner, robot, episodes=4, seed=0, on_step=lambda r: patches.append(r.patch))
    assert robot.terrain.patches is not None
    used = sorted(set(patches))
    assert 1 < len(used) <= 4, "each episode drew a patch"
    start = robot.terrain.origin(used[0])
    np.testing.assert_allclose(start, robot.terrain.patches.origins[used[0]])
    kinds = {f"Terrain/survived/{robot.terrain.patches.kinds[p]}" for p in used}
    levels = {f"Terrain/survived/level_{robot.terrain.patches.levels[p]}" for p in used}
    terrain_keys = {k for k in result.metrics if k.startswith("Terrain/")}
    assert terrain_keys == kinds | levels
    assert all(0.0 <= result.metrics[k] <= 1.0 for k in terrain_keys)


def test_a_scene_without_a_height_field_is_flat_ground():
    import mujoco

    model = mujoco.MjModel.from_xml_string(
        "<mujoco><worldbody><geom type='plane' size='1 1 1'/></worldbody></mujoco>"
    )
    terrain = SceneTerrain(model)
    assert not terrain.has_height_field
    assert (terrain.height_at(np.array([[3.0, -2.0], [0.0, 0.0]])) == 0).all()
    assert terrain.draw_patch(np.random.default_rng(0)) is None and (terrain.origin(None) == 0).all()


def test_a_robot_sends_its_elevation_map_over_udp(rough):
    """A local map cut from the scene's grid, sent as the UDP state's `height_map_w`, answers as the scene does
    inside it; a malformed map is one clear error."""
    import json

    from roboforge.deploy.udp_robot import state_from_json

    _, policy = rough
    robot = MujocoSimRobot(PolicyRunner.load(policy).meta, policy.parent)
    assert robot.terrain.grid is not None
    centre = np.array(robot.terrain.patches.origins[57][:2])
    local = robot.terrain.grid.window(centre, 1.2)
    msg = {
        "joint_names": list(robot.joint_names),
        "joint_pos": [0.0] * 12,
        "joint_vel": [0.0] * 12,
        "height_map_w": {
            "origin_xy": list(local.origin_xy),
            "scale": local.scale,
            "heights": local.heights.tolist(),
        },
    }
    state = state_from_json(json.dumps(msg).encode(), 0.0)
    assert state.terrain_height_w is not None and local.heights.shape[0] >= 24
    points = centre + np.random.default_rng(0).uniform(-1.2, 1.2, size=(500, 2))
    np.testing.assert_allclose(state.terrain_height_w(points), robot.terrain.height_at(points), atol=1e-9)
    msg["height_map_w"]["heights"] = [[0.0, float("nan")], [0.0, 0.0]]
    with pytest.raises(UserInputError, match="finite"):
        state_from_json(json.dumps(msg).encode(), 0.0)
    msg["height_map_w"] = {
        "origin_xy": [float("inf"), 0.0],
        "scale": 0.1,
        "heights": [[0.0, 0.0], [0.0, 0.0]],
    }
    with pytest.raises(UserInputError, match="origin_xy must be finite"):
        state_from_json(json.dumps(msg).encode(), 0.0)
    msg["height_map_w"]["origin_xy"] = [0.0, 0.0]
    msg["height_map_w"]["heights"] = [[0.0, 0.1]]
    with pytest.raises(UserInputError, match="2 x 2 samples"):
        state_from_json(json.dumps(msg).encode(), 0.0)


def test_a_rough_policy_over_the_udp_link_matches_the_direct_sim(rough):
    """The test server sends the simulated robot's local ground with each state; the controller's height scan
    from it equals the scan from the whole scene, so the remote robot follows the direct one exactly."""
    from roboforge.deploy.loop import run_control_loop
    from roboforge.deploy.udp_robot import UdpJsonRobot, UdpRobotServer

    _, policy = rough
    runner = PolicyRunner.load(policy)
    direct, remote = MujocoSimRobot(runner.meta, policy.parent), MujocoSimRobot(runner.meta, policy.parent)
    patches = direct.terrain.patches
    assert patches is not None
    rough_patch = next(
        i
        for i, (k, lv) in enumerate(zip(patches.kinds, patches.levels, strict=True))
        if k == "random_rough" and lv == 6
    )
    spot = direct.terrain.origin(rough_patch)[:2] + np.array([2.5, 1.5])  # off the patch's flat platform
    for robot in (direct, remote):  # on rough ground: the scan sees every bump of it
        robot.env_origin = np.array([*spot, float(direct.terrain.height_at(spot)[0]) + 0.05])
        robot.reset()
    ground = direct.terrain.height_at(
        direct.root_pos_w()[:2] + np.random.default_rng(0).uniform(-0.9, 0.9, (200, 2))
    )
    assert np.ptp(ground) > 0.05
    commands = {"base_velocity": np.array([0.5, 0.0, 0.2])}
    run_control_loop(runner, direct, 20, commands=commands)
    with pytest.raises(UserInputError, match="height_map_half_size must be in"):
        UdpRobotServer(remote, height_map_half_size=50.0)
    server = UdpRobotServer(remote)
    server.start()
    link = UdpJsonRobot(server.address, bind=("127.0.0.1", 0), state_timeout_s=1.0)
    try:
        runner.reset()
        result = run_control_loop(runner, link, 20, commands=commands)
        final = link.read_state()  # waits for the reply to the last command
        assert final.terrain_height_w is not None
        assert result.hold_steps == 0 and server.commands == 20
        np.testing.assert_array_equal(remote.data.qpos, direct.data.qpos)
    finally:
        server.stop()
        link.close()


def test_a_terrain_whose_patch_lists_disagree_is_refused(rough, tmp_path):
    import json

    _, policy = rough
    meta = json.loads((policy.parent / "policy.json").read_text())
    meta["scene"]["terrain"]["kinds"].pop()
    from roboforge.deploy.metadata import PolicyMetadata

    with pytest.raises(MetadataError, match="must be equally many"):
        PolicyMetadata.from_dict(meta)
