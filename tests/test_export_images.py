"""Export and deploy of policies that see images: ONNX inputs and parity, the metadata of image inputs and
cameras, the deploy runtime's image observations against the env's for the same state, sim-to-sim runs."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from export_util import copy_env_state, run_folder
from roboforge.cli import app
from roboforge.deploy import MujocoSimRobot, PolicyRunner
from roboforge.deploy.metadata import MetadataError, PolicyMetadata, load_metadata
from roboforge.deploy.observations import ObservationBuilder
from roboforge.export import export_policy
from roboforge.export.images import image_inputs
from roboforge.export.metadata import build_metadata
from roboforge.export.onnx_export import policy_io
from roboforge.export.scene import scene_mjcf
from roboforge.utils.errors import UserInputError

SIZE = 16
SMALL = {"scene.sensors.camera.width": SIZE, "scene.sensors.camera.height": SIZE}
STEPS = 12
"""Control steps compared between the env and the deploy runtime."""


@pytest.fixture(scope="module")
def rgb_export(tmp_path_factory):
    """A random-weight cartpole-rgb CNN policy at SIZE x SIZE, exported with --check: (session, ExportResult)."""
    folder = tmp_path_factory.mktemp("rgb")
    s, checkpoint = run_folder("cartpole-rgb", folder, env_overrides=SMALL, seed=5)
    return s, export_policy("cartpole-rgb", checkpoint, folder / "out", check=True, env_overrides=SMALL)


def test_onnx_takes_named_image_inputs_and_matches_the_torch_policy(rgb_export):
    s, result = rgb_export
    assert result.kind == "cnn" and result.parity is not None and result.parity.passed
    assert result.parity.samples == 1000 and result.parity.max_abs_error <= 1e-5
    model = onnx.load(str(result.policy))
    [image] = model.graph.input
    dims = image.type.tensor_type.shape.dim
    assert image.name == "policy" and [d.dim_value for d in dims[1:]] == [6, SIZE, SIZE]
    assert dims[0].dim_param and not dims[0].dim_value, "the batch dimension must be dynamic"
    assert image.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    session = ort.InferenceSession(str(result.policy), providers=["CPUExecutionProvider"])
    obs = s.learner.venv.get_observations()  # real frames of the env, not only the check's random ones
    actor = s.learner.policy()
    with torch.no_grad():
        expected = actor(obs).numpy()
    actions = np.asarray(session.run(None, {"policy": obs["policy"].numpy()})[0])
    np.testing.assert_allclose(actions, expected, atol=1e-5)
    batch = np.random.default_rng(0).standard_normal((5, 6, SIZE, SIZE)).astype(np.float32)
    assert session.run(None, {"policy": batch})[0].shape == (5, 1)


def test_metadata_describes_the_image_inputs_and_their_camera(rgb_export):
    _, result = rgb_export
    written = json.loads((result.output_dir / "policy.json").read_text())
    assert written["policy"]["images"] == [
        {"name": "policy", "shape": [6, SIZE, SIZE], "dtype": "float32", "terms": ["rgb"]}
    ]
    assert written["policy"]["inputs"] == ["policy"] and written["policy"]["obs_dim"] == 0
    [term] = written["observations"]
    assert (term["group"], term["func"], term["module"]) == ("policy", "image_rgb", "roboforge.mdp.images")
    assert term["params"] == {"sensor_name": "camera", "mean_subtract": True}, "defaults filled in"
    assert (term["dim"], term["shape"], term["history_length"]) == (3, [3, SIZE, SIZE], 2)
    assert written["cameras"] == [
        {"name": "camera", "camera": "camera", "width": SIZE, "height": SIZE, "rgb": True, "depth": False,
         "fovy": 70.0, "update_period": 0.0}
    ]  # fmt: skip
    meta = load_metadata(result.policy)
    assert meta.to_dict() == written, "parse -> dict gives back the file"
    assert meta.policy.kind == "cnn" and meta.policy.state_inputs == []
    assert '<camera name="camera"' in meta.scene.mjcf


def _rollout(s, robot, observe, steps: int = STEPS) -> float:
    """Step the env with the torch actor; before each step put world 0's state into the deploy robot, check its
    camera frame equals the env's and build the runtime's image with `observe(state, env_obs)`. Returns the largest
    difference to the env's image observation over the steps (until the first episode end)."""
    venv, actor = s.learner.venv, s.learner.policy()
    sensor = s.env.scene.sensors["camera"]
    kind = "rgb" if sensor.cfg.rgb else "depth"
    obs, _ = venv.reset()
    err, frames = 0.0, []
    for _ in range(steps):
        copy_env_state(s, robot)
        state = robot.read_state()
        assert state.images is not None
        frames.append(state.images["camera"][kind])
        assert np.array_equal(frames[-1], getattr(sensor.data, kind)[0].numpy()), "same state, same pixels"
        err = max(err, float(np.abs(observe(state, obs) - obs["policy"][0].numpy()).max()))
        with torch.no_grad():
            obs, _, dones, _ = venv.step(actor(obs))
        if bool(dones[0]):
            break
    assert len(frames) >= 3 and not np.array_equal(frames[0], frames[-1]), "the cart-pole moved in view"
    return err


def test_deploy_rgb_observation_and_action_equal_the_envs(rgb_export):
    """Same renderer (C MuJoCo, EGL), same model: identical pixels; the image after scaling and stacking within
    float32 rounding of the per-image mean (1e-6), the ONNX action within 1e-5 of the torch actor's."""
    s, result = rgb_export
    runner = PolicyRunner.load(result.policy)
    robot = MujocoSimRobot(runner.meta, result.output_dir)
    actor, action_err = s.learner.policy(), []

    def observe(state, env_obs):
        runner.step(state)
        with torch.no_grad():
            action_err.append(float(np.abs(runner.last_action - actor(env_obs)[0].numpy()).max()))
        return runner.observations.images["policy"]

    runner.reset()
    assert _rollout(s, robot, observe) <= 1e-6
    assert max(action_err) <= 1e-5


def test_deploy_depth_observation_equals_the_envs():
    """cartpole-depth through the metadata (no ONNX file needed): planar depth scaled by max_distance."""
    s, _ = run_folder_free("cartpole-depth")
    meta = _metadata(s)
    [camera] = meta.cameras
    assert (camera.rgb, camera.depth) == (False, True)
    builder, robot = ObservationBuilder(meta), MujocoSimRobot(meta)

    def observe(state, env_obs):
        builder.compute(_context(state))
        return builder.images["policy"]

    builder.reset()
    assert _rollout(s, robot, observe) <= 1e-6


def test_cli_deploy_runs_sim_episodes_from_images(rgb_export):
    _, result = rgb_export
    out = CliRunner().invoke(
        app,
        ["deploy", str(result.policy), "--robot", "sim", "--episodes", "2", "--json"],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["task"] == "cartpole-rgb" and payload["episodes"] == 2
    assert payload["mean_episode_length"] >= 1 and payload["safety"]["stops"] == 0


def test_bad_or_missing_cameras_are_one_clear_line(rgb_export, tmp_path):
    _, result = rgb_export
    data = json.loads((result.output_dir / "policy.json").read_text())
    with pytest.raises(MetadataError, match="reads camera 'camera', which the metadata does not describe"):
        PolicyMetadata.from_dict(data | {"cameras": []})
    wrong = json.loads(json.dumps(data))
    wrong["cameras"][0]["camera"] = "nope"
    with pytest.raises(MetadataError, match="renders camera 'nope', which the policy's scene lacks"):
        MujocoSimRobot(PolicyMetadata.from_dict(wrong), result.output_dir)
    wrong["cameras"][0].update(camera="camera", fovy=45.0)
    with pytest.raises(
        MetadataError, match=r"field of view of 70\.0 degrees in the policy.s scene but 45\.0"
    ):
        MujocoSimRobot(PolicyMetadata.from_dict(wrong), result.output_dir)
    small = json.loads(json.dumps(data))
    small["cameras"][0]["width"] = 8
    with pytest.raises(MetadataError, match=r"does not fit an image input of group 'policy' or its camera"):
        PolicyMetadata.from_dict(small)
    runner = PolicyRunner.load(result.policy)
    state = MujocoSimRobot(runner.meta, result.output_dir).read_state()
    state.images = None  # a robot adapter that sends no frames
    with pytest.raises(UserInputError, match=r"needs the rgb frame \(16, 16, 3\) of camera 'camera'"):
        runner.step(state)
    with pytest.raises(UserInputError, match="exports to ONNX only"):
        export_policy("cartpole-rgb", result.checkpoint, tmp_path, fmt="jit", env_overrides=SMALL)


def run_folder_free(task: str):
    """A one-world CPU session of `task` at SIZE x SIZE with random weights (no checkpoint needed)."""
    from roboforge.rl.session import build_session

    torch.manual_seed(0)
    return build_session(task, 1, "cpu", "mujoco", None, True, SMALL, {}), None


def _metadata(s) -> PolicyMetadata:
    """The metadata an export of `s`'s actor would write (scene without asset files)."""
    actor = s.learner.policy()
    io = policy_io(actor, actor.obs_dim, s.env.num_actions, image_inputs(s.env, actor))
    scene = {"mjcf": scene_mjcf(s.env)[0], "entity_prefix": "robot/", "assets": []}
    return PolicyMetadata.from_dict(build_metadata(s, io, scene, {}))


def _context(state):
    from roboforge.deploy.observations import ObsContext

    return ObsContext(state.joint_pos, state.joint_vel, np.zeros(1), images=state.images or {})
