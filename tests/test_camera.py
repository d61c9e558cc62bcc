"""Camera sensors on both backends (frames, depth against ray casts), image observations, the camera cart-pole
tasks and rsl_rl's CNN actor-critic on them."""

from __future__ import annotations

import math
from typing import cast

import mujoco
import numpy as np
import pytest
import torch

from conftest import BACKENDS, make_task_env
from roboforge.managers import ObservationGroupCfg, ObservationTermCfg
from roboforge.mdp import image_rgb, joint_pos
from roboforge.rl.libraries.rsl_rl import check_image_encoders
from roboforge.rl.session import build_session
from roboforge.scene.scene import Scene, SceneCfg
from roboforge.sensors import CameraSensor, CameraSensorCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.sim.simulator import Backend
from roboforge.tasks.cartpole.cartpole_camera_env_cfg import (
    CAMERA_POS,
    CAMERA_QUAT,
    cartpole_camera_robot_cfg,
)
from roboforge.tasks.cartpole.robot import cartpole_robot_cfg
from roboforge.utils.config import ConfigError
from roboforge.utils.errors import UserInputError

SIZE = 48
SMALL = {"scene.sensors.camera.width": 32, "scene.sensors.camera.height": 32}
DOWN_HEIGHT = 4.0
"""Height (m) of the camera looking straight down at the ground, away from the cart-pole."""
TILTED = (math.cos(0.3), math.sin(0.3), 0.0, 0.0)
"""A camera tilted 34 degrees from looking straight down (about x)."""


def camera_scene(backend: str, num_envs: int = 2, **camera) -> tuple[Scene, CameraSensor]:
    """The camera cart-pole over a ground plane with three cameras: the task's ('front'), one looking straight
    down at the ground ('down') and a tilted one ('tilted'); all render colour and depth at SIZE x SIZE."""
    common = {"width": SIZE, "height": SIZE, "rgb": True, "depth": True, **camera}
    cfg = SceneCfg(
        num_envs=num_envs,
        entities={"robot": cartpole_camera_robot_cfg()},
        sensors={
            "front": CameraSensorCfg(pos=CAMERA_POS, quat=CAMERA_QUAT, fovy=70.0, **common),
            "down": CameraSensorCfg(pos=(0.0, 6.0, DOWN_HEIGHT), fovy=40.0, **common),
            "tilted": CameraSensorCfg(pos=(0.5, 5.0, 3.0), quat=TILTED, fovy=60.0, **common),
        },
    )
    scene = Scene(cfg)
    sim = make_simulator(scene.model, num_envs, SimCfg(backend=cast(Backend, backend)))
    scene.bind(sim)
    return scene, scene.sensors["front"]  # type: ignore[return-value]


def camera(scene: Scene, name: str) -> CameraSensor:
    sensor = scene.sensors[name]
    assert isinstance(sensor, CameraSensor)
    return sensor


def set_pole(scene: Scene, angles: list[float]) -> None:
    """Pole angles (rad) per world, cart at the centre; positions recomputed."""
    robot = scene["robot"]
    pos = robot.default_joint_pos.clone()
    pos[:, robot.joint_index(["cart_to_pole"])] = torch.tensor(angles)[:, None]
    robot.write_joint_state(pos, torch.zeros_like(pos), torch.ones(len(angles), dtype=torch.bool))
    robot.sim.forward()
    scene.reset_sensors(torch.zeros(len(angles), dtype=torch.bool))  # state changed: render on next read


# --- frames ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_are_not_blank_and_have_the_stated_shapes(backend):
    _, front = camera_scene(backend)
    data = front.data
    assert data.rgb is not None and data.depth is not None
    assert data.rgb.shape == (2, SIZE, SIZE, 3) and data.rgb.dtype == torch.uint8
    assert data.depth.shape == (2, SIZE, SIZE, 1) and data.depth.dtype == torch.float32
    assert data.rgb.device == data.depth.device == torch.device("cpu")
    frame = data.rgb[0].numpy().astype(int)
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 3, "the cart, the pole and the background"
    blue = frame[..., 2] > frame[..., 0] + 40  # the cart (0.2, 0.5, 0.8)
    orange = frame[..., 0] > frame[..., 2] + 40  # the pole (0.9, 0.6, 0.2)
    assert blue.sum() >= 2 and orange.sum() >= 2
    # the upright pole is above the cart in the image (row 0 is the top)
    assert np.nonzero(orange)[0].mean() < np.nonzero(blue)[0].mean()


@pytest.mark.parametrize("kind", ["rgb", "segmentation"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_state_gives_the_same_frame(backend, kind):
    scene, front = camera_scene(backend, num_envs=3, segmentation=kind == "segmentation")
    set_pole(scene, [0.5, 0.5, -0.5])
    first = getattr(front.data, kind).clone()
    torch.testing.assert_close(first[0], first[1], atol=0, rtol=0)
    assert (first[0] != first[2]).any(), "another pole angle gives another frame"
    set_pole(scene, [0.5, 0.5, -0.5])
    torch.testing.assert_close(getattr(front.data, kind), first, atol=0, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_depth_of_the_ground_below_a_camera_is_its_height(backend):
    scene, _ = camera_scene(backend)
    depth = camera(scene, "down").data.depth
    assert depth is not None
    torch.testing.assert_close(depth, torch.full_like(depth, DOWN_HEIGHT), rtol=0.01, atol=0.0)


def pixel_rays(model: mujoco.MjModel, data: mujoco.MjData, cam: int, pixels: np.ndarray) -> np.ndarray:
    """Planar depth of `pixels` (rows, cols) from MuJoCo's ray cast through the pixel centres (-1: no hit)."""
    tan = math.tan(math.radians(model.cam_fovy[cam]) / 2)
    xmat = data.cam_xmat[cam].reshape(3, 3)
    depths = []
    for row, col in pixels:
        local = np.array([((col + 0.5) / SIZE * 2 - 1) * tan, (1 - (row + 0.5) / SIZE * 2) * tan, -1.0])
        ray = xmat @ local
        geom = np.zeros(1, dtype=np.int32)
        dist = mujoco.mj_ray(model, data, data.cam_xpos[cam], ray / np.linalg.norm(ray), None, 1, -1, geom)
        depths.append(dist / np.linalg.norm(local) if dist >= 0 else -1.0)  # along the axis: local z is -1
    return np.array(depths)


@pytest.mark.parametrize("backend", BACKENDS)
def test_depth_equals_ray_casts_at_sampled_pixels(backend):
    scene, _ = camera_scene(backend)
    set_pole(scene, [0.3, 0.3])
    model, data = scene.model, mujoco.MjData(scene.model)
    data.qpos[:] = scene["robot"].sim.qpos[0].numpy()
    mujoco.mj_forward(model, data)
    pixels = np.random.default_rng(0).integers(0, SIZE, size=(40, 2))
    for name in ("tilted", "front"):
        depth = camera(scene, name).data.depth
        assert depth is not None
        rendered = depth[0, pixels[:, 0], pixels[:, 1], 0].numpy()
        cast = pixel_rays(model, data, model.camera(name).id, pixels)
        hit = cast > 0
        assert hit.sum() >= (10 if name == "tilted" else 1)
        np.testing.assert_allclose(rendered[hit], cast[hit], rtol=0.02)
        # the few pixels on an edge may hit in one and not the other
        assert ((rendered > 0) == hit).mean() >= 0.9


def test_backends_render_the_same_scene():
    depth = {}
    for backend in BACKENDS:
        scene, front = camera_scene(backend)
        set_pole(scene, [0.4, -0.2])
        assert front.data.depth is not None
        depth[backend] = front.data.depth.clone()
    hit = {b: d > 0 for b, d in depth.items()}
    assert hit["mujoco"].sum() > 20
    assert (hit["mujoco"] == hit["mjwarp"]).float().mean() > 0.98
    both = hit["mujoco"] & hit["mjwarp"]
    torch.testing.assert_close(depth["mujoco"][both], depth["mjwarp"][both], rtol=0.01, atol=0.0)


def test_update_period_keeps_each_worlds_frame_until_it_is_due():
    scene, front = camera_scene("mujoco", update_period=0.2, segmentation=True)
    set_pole(scene, [0.0, 0.0])
    assert front.data.rgb is not None and front.data.segmentation is not None
    upright, upright_ids = front.data.rgb.clone(), front.data.segmentation.clone()
    set_pole(scene, [0.6, 0.6])
    front.update(0.1)  # half a period: the old frame stays
    torch.testing.assert_close(front.data.rgb, upright, atol=0, rtol=0)
    torch.testing.assert_close(front.data.segmentation, upright_ids, atol=0, rtol=0)
    front.update(0.1)
    front.reset(torch.tensor([True, False]))  # a new episode gets a new frame at once
    frames = front.data.rgb.clone()
    assert (frames[0] != upright[0]).any() and (frames[1] != upright[1]).any()
    assert (front.data.segmentation != upright_ids).any()
    set_pole(scene, [0.0, 0.0])
    front.reset(torch.tensor([True, False]))
    torch.testing.assert_close(front.data.rgb[0], upright[0], atol=0, rtol=0)
    torch.testing.assert_close(front.data.rgb[1], frames[1], atol=0, rtol=0)


def test_a_sensor_can_render_a_camera_of_the_model_by_name():
    down = CameraSensorCfg(pos=(0.0, 6.0, DOWN_HEIGHT), fovy=40.0, width=SIZE, height=SIZE, depth=True)
    again = CameraSensorCfg(camera_name="down", width=SIZE, height=SIZE, depth=True)
    scene = Scene(
        SceneCfg(num_envs=1, entities={"robot": cartpole_robot_cfg()}, sensors={"down": down, "again": again})
    )
    scene.bind(make_simulator(scene.model, 1, SimCfg(backend="mujoco")))
    first, second = camera(scene, "down").data, camera(scene, "again").data
    assert first.depth is not None and second.depth is not None
    torch.testing.assert_close(second.depth, first.depth)
    assert scene.model.ncam == 1


def test_camera_cartpole_has_the_dynamics_of_the_cartpole():
    models = [
        Scene(SceneCfg(entities={"robot": cfg})).model
        for cfg in (cartpole_robot_cfg(), cartpole_camera_robot_cfg())
    ]
    for field in ("body_mass", "body_inertia", "body_ipos"):
        np.testing.assert_allclose(getattr(models[0], field), getattr(models[1], field))


def test_camera_pixels_over_all_worlds_are_bounded(monkeypatch):
    """Image size times worlds has a ceiling (a size override cannot ask for more than a GPU holds); made
    small here so the test builds a small scene."""
    import roboforge.sensors.camera as camera_module

    monkeypatch.setattr(camera_module, "MAX_TOTAL_PIXELS", 2 * 16 * 16 - 1)
    with pytest.raises(ConfigError, match=r"2 worlds of 16x16 pixels exceed 511 pixels in all"):
        camera_scene("mujoco", num_envs=2, width=16, height=16)
    monkeypatch.setattr(camera_module, "MAX_TOTAL_PIXELS", 2 * 16 * 16)
    camera_scene("mujoco", num_envs=2, width=16, height=16)


def test_camera_config_errors_say_what_to_fix():
    with pytest.raises(ConfigError, match="width and height must be 1 to"):
        camera_scene("mujoco", width=0)
    with pytest.raises(ConfigError, match="rgb, depth and segmentation are all off"):
        camera_scene("mujoco", rgb=False, depth=False)
    cfg = SceneCfg(
        entities={"robot": cartpole_robot_cfg()}, sensors={"cam": CameraSensorCfg(camera_name="nope")}
    )
    with pytest.raises(ConfigError, match="no camera 'nope'"):
        Scene(cfg)
    body = SceneCfg(
        entities={"robot": cartpole_robot_cfg()}, sensors={"cam": CameraSensorCfg(body_name="wheel")}
    )
    with pytest.raises(ConfigError, match="no body 'wheel'"):
        Scene(body)


# --- image observations and the camera tasks ------------------------------------------------------------------
@pytest.mark.parametrize(("task", "channels"), [("cartpole-rgb", 3), ("cartpole-depth", 1)])
def test_camera_tasks_observe_two_stacked_frames(task, channels):
    env = make_task_env(task, num_envs=4)
    obs, _ = env.reset(seed=0)
    image = obs["policy"]
    assert image.shape == (4, 2 * channels, 64, 64) and image.dtype == torch.float32
    assert env.observation_space["policy"].shape == (4, 2 * channels, 64, 64)
    assert image.min() >= -1.0 and image.max() <= 1.0
    zero_mean = torch.zeros(4, 2 * channels)  # both tasks subtract each image's (channel's) mean
    torch.testing.assert_close(image.mean(dim=(2, 3)), zero_mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(image[:, :channels], image[:, channels:])  # a new episode: the frame twice
    for _ in range(3):
        obs, *_ = env.step(torch.ones(4, 1))
    assert (obs["policy"][:, :channels] != obs["policy"][:, channels:]).any(), (
        "older frame first, then the new one"
    )


def test_image_terms_and_vector_terms_do_not_mix_in_a_group():
    from roboforge.envs import load_cfg, make_env

    cfg = load_cfg("cartpole-rgb", num_envs=2)
    cfg.sim.backend = "mujoco"
    cfg.scene.sensors["camera"].width = cfg.scene.sensors["camera"].height = 16
    cfg.observations = {
        "policy": ObservationGroupCfg(
            terms={"image": ObservationTermCfg(func=image_rgb), "joints": ObservationTermCfg(func=joint_pos)}
        )
    }
    with pytest.raises(ConfigError, match="Put images in a group of their own"):
        make_env("cartpole-rgb", cfg)
    cfg.observations = {
        "policy": ObservationGroupCfg(
            terms={"image": ObservationTermCfg(func=image_rgb, params={"sensor_name": "x"})}
        )
    }
    with pytest.raises(ConfigError, match="no camera sensor 'x'"):
        make_env("cartpole-rgb", cfg)


def test_rsl_rl_trains_a_cnn_policy_on_images():
    s = build_session("cartpole-rgb", num_envs=16, device="cpu", sim="mujoco", env_overrides=SMALL)
    assert type(s.learner.alg.actor).__name__ == "CNNModel" and s.learner.device_loop
    assert s.learner.venv.get_observations()["policy"].shape == (16, 6, 32, 32)
    before = [p.detach().clone() for p in s.learner.alg.actor.parameters()]
    losses = s.learner.iterate()
    assert all(math.isfinite(v) for v in losses.values())
    after = list(s.learner.alg.actor.parameters())
    assert any((a != b).any() for a, b in zip(after, before, strict=True)), "the update changed the actor"
    policy = s.learner.policy()
    assert policy(s.learner.venv.get_observations()).shape == (16, 1)  # export: tests/test_export_images.py


def test_depth_cartpole_trains_at_a_fixed_rate_and_rgb_keeps_the_adaptive_schedule():
    """The KL-adaptive rate drove the depth CNN to its 0.01 cap and the policy fell apart (module docstring)."""
    from roboforge.envs.registry import load_cfg

    depth = load_cfg("cartpole-depth", "rsl_rl_cfg_entry_point")
    rgb = load_cfg("cartpole-rgb", "rsl_rl_cfg_entry_point")
    assert (depth.algorithm.schedule, depth.algorithm.learning_rate) == ("fixed", 1.0e-3)
    assert rgb.algorithm.schedule == "adaptive"
    assert depth.actor.cnn == rgb.actor.cnn and depth.actor.cnn is not None, "the same networks otherwise"


def test_networks_without_an_encoder_for_images_are_a_clear_error():
    from tensordict import TensorDict

    from roboforge.tasks.cartpole.agents.rsl_rl_camera_ppo_cfg import cartpole_camera_ppo_cfg

    images = TensorDict({"policy": torch.zeros(2, 6, 8, 8)}, batch_size=[2])
    cfg = cartpole_camera_ppo_cfg()
    check_image_encoders(images, cfg)
    cfg.critic.cnn = None
    with pytest.raises(UserInputError, match=r"agent.critic reads the image observation groups \['policy'\]"):
        check_image_encoders(images, cfg)
    vectors = TensorDict({"policy": torch.zeros(2, 4)}, batch_size=[2])
    with pytest.raises(UserInputError, match=r"agent\.actor\.cnn is set"):
        check_image_encoders(vectors, cartpole_camera_ppo_cfg())


# --- segmentation ---------------------------------------------------------------------------------------------
def project(model: mujoco.MjModel, data: mujoco.MjData, cam: int, point: np.ndarray) -> tuple[int, int]:
    """The (row, col) of the SIZE x SIZE pixel that shows the world point `point` in camera `cam`."""
    tan = math.tan(math.radians(model.cam_fovy[cam]) / 2)
    local = data.cam_xmat[cam].reshape(3, 3).T @ (point - data.cam_xpos[cam])
    x, y = local[0] / -local[2] / tan, local[1] / -local[2] / tan  # in [-1, 1] across the image
    return int((1 - y) / 2 * SIZE), int((x + 1) / 2 * SIZE)


@pytest.mark.parametrize("backend", BACKENDS)
def test_segmentation_shows_the_body_at_its_centre_and_minus_one_where_nothing_is_hit(backend):
    scene, front = camera_scene(backend, rgb=False, depth=True, segmentation=True)
    set_pole(scene, [0.3, 0.3])
    seg, depth = front.data.segmentation, front.data.depth
    assert seg is not None and depth is not None
    assert seg.shape == (2, SIZE, SIZE, 1) and seg.dtype == torch.int32 and seg.device == torch.device("cpu")
    model, data = scene.model, mujoco.MjData(scene.model)
    data.qpos[:] = scene["robot"].sim.qpos[0].numpy()
    mujoco.mj_forward(model, data)
    cam = model.camera("front").id
    for body in ("robot/cart", "robot/pole"):
        row, col = project(model, data, cam, data.body(body).xipos)  # centre of mass
        assert seg[0, row, col, 0] == model.body(body).id, body
    assert ((seg == -1) == (depth == 0)).all(), "-1 exactly where the ray hits nothing"
    assert (seg[:, 0] == -1).all(), "the top row looks over the horizon"
    assert (seg == 0).any(), "the ground belongs to the world body"


def test_backends_segment_the_same_scene():
    seg = {}
    for backend in BACKENDS:
        scene, front = camera_scene(backend, rgb=False, segmentation=True)
        set_pole(scene, [0.4, -0.2])
        assert front.data.segmentation is not None
        seg[backend] = front.data.segmentation.clone()
    assert (seg["mujoco"] == seg["mjwarp"]).float().mean() > 0.98  # edge pixels may differ
    assert set(seg["mujoco"].unique().tolist()) == set(seg["mjwarp"].unique().tolist()) == {-1, 0, 1, 2}


def test_segmentation_masks_are_channels_of_named_bodies_and_refuse_export():
    from roboforge.envs import load_cfg, make_env
    from roboforge.export.images import image_inputs
    from roboforge.mdp import segmentation_mask

    cfg = load_cfg("cartpole-rgb", num_envs=2)
    cfg.sim.backend = "mujoco"
    sensor = cfg.scene.sensors["camera"]
    sensor.width = sensor.height = 16
    sensor.segmentation = True

    def observe(**params) -> None:
        term = ObservationTermCfg(func=segmentation_mask, params=params)
        cfg.observations = {"policy": ObservationGroupCfg(terms={"mask": term})}

    observe(body_names=["cart", "pole", ".*"])
    env = make_env("cartpole-rgb", cfg)
    obs, _ = env.reset(seed=0)
    ids = env.scene.sensors["camera"].data.segmentation  # type: ignore[union-attr]
    mask = obs["policy"]
    assert mask.shape == (2, 3, 16, 16) and mask.dtype == torch.float32
    model = env.scene.model
    for channel, body in enumerate(("robot/cart", "robot/pole")):
        expected = (ids[..., 0] == model.body(body).id).float()
        assert expected.sum() > 0, body
        torch.testing.assert_close(mask[:, channel], expected, atol=0, rtol=0)
    torch.testing.assert_close(mask[:, 2], mask[:, 0] + mask[:, 1], atol=0, rtol=0)  # the whole robot
    with pytest.raises(UserInputError, match="'mask' of group 'policy' observes segmentation"):
        image_inputs(env, type("Actor", (), {"obs_groups_2d": ["policy"]})())
    observe(body_names=[])
    with pytest.raises(ConfigError, match="0 masks of 2 worlds of 16x16 pixels; name 1 to"):
        make_env("cartpole-rgb", cfg)
    observe(body_names=["wheel"])
    with pytest.raises(ConfigError, match="wheel"):
        make_env("cartpole-rgb", cfg)
    sensor.segmentation = False
    observe()
    with pytest.raises(ConfigError, match="renders no segmentation; set its segmentation=True"):
        make_env("cartpole-rgb", cfg)
