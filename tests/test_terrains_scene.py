"""The terrain in the compiled scene: height-field tiles, `height_at` against `mj_ray`, resting
contacts, the MuJoCo arena, and env origins."""

from __future__ import annotations

import math
from types import SimpleNamespace

import mujoco
import numpy as np
import pytest
import torch

from managers_util import built_term
from roboforge import mdp
from roboforge.assets.articulation import RigidObjectCfg
from roboforge.assets.sources import BuiltinSpawnCfg
from roboforge.scene.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.terrains import Terrain, TerrainCfg
from terrains_util import BALL_RADIUS, HS, ball_scene_cfg, small_generator_cfg


@pytest.fixture(scope="module")
def terrain_scene():
    scene = Scene(ball_scene_cfg())
    terrain = Terrain(scene.cfg.terrain, scene.generated_terrain, scene.model, 8, "cpu")
    return scene, terrain


# the compiled scene -------------------------------------------------------------------------------
def test_scene_has_height_field_tiles_instead_of_the_ground_plane(terrain_scene):
    scene, terrain = terrain_scene
    model = scene.model
    assert int(mujoco.mjtGeom.mjGEOM_PLANE) not in [int(t) for t in model.geom_type]
    heights = scene.generated_terrain.heights  # (141, 181) samples: 2 x 3 tiles of at most 8 m
    assert model.nhfield == 6
    tiles = [model.geom(f"terrain_{i}_{j}") for i in range(2) for j in range(3)]
    assert all(t.type[0] == mujoco.mjtGeom.mjGEOM_HFIELD for t in tiles)
    assert (model.hfield_size[:, :2] <= 4.0 + 1e-9).all()
    np.testing.assert_allclose(model.hfield_size[::3, 0].sum() * 2, (heights.shape[0] - 1) * HS)
    np.testing.assert_allclose(model.hfield_size[:3, 1].sum() * 2, (heights.shape[1] - 1) * HS)
    np.testing.assert_allclose(terrain._heights_xy.numpy(), heights, atol=1e-5)  # tiles = generated surface


def test_height_at_matches_mj_ray(terrain_scene):
    scene, terrain = terrain_scene
    model, data = scene.model, mujoco.MjData(scene.model)
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(0)
    points = rng.uniform((-6.9, -8.9), (6.9, 8.9), (300, 2))
    points[:20] = np.round(points[:20] / HS) * HS + 1e-4  # next to samples and cell edges
    geomid = np.zeros(1, np.int32)
    ray_z = [
        5.0 - mujoco.mj_ray(model, data, np.array([x, y, 5.0]), np.array([0, 0, -1.0]), None, 1, -1, geomid)
        for x, y in points
    ]
    heights = terrain.height_at(torch.tensor(points, dtype=torch.float32))
    np.testing.assert_allclose(heights.numpy(), ray_z, atol=2e-5)
    assert terrain.height_at(torch.zeros(2, 3, 2)).shape == (2, 3)


def test_dropped_ball_rests_on_the_height_field(terrain_scene):
    scene, terrain = terrain_scene
    model, data = scene.model, mujoco.MjData(scene.model)
    stairs_top = terrain.terrain_origins[2, 0]  # hardest stairs: a raised platform
    ball = model.body("ball/ball")
    qadr = model.jnt_qposadr[ball.jntadr[0]]
    for x, y, z0 in (stairs_top.tolist(), (-5.0, -0.7, 0.0), (-5.0, 1.3, 0.0)):  # platform, boxes, rough
        data.qpos[qadr : qadr + 3] = (x, y, z0 + 0.3)
        data.qvel[:] = 0.0
        for _ in range(int(1.0 / model.opt.timestep)):
            mujoco.mj_step(model, data)
        xy = torch.tensor(data.xpos[ball.id, :2], dtype=torch.float32)
        # still rolling on uneven ground: the contact may be off-centre under the ball (a few 0.1 mm)
        assert abs(data.xpos[ball.id, 2] - float(terrain.height_at(xy)) - BALL_RADIUS) < 1e-3


def spiky_ball_spec() -> mujoco.MjSpec:
    """A free body with 40 colliding spheres (many geom pairs with the terrain tiles)."""
    spec = mujoco.MjSpec()
    body = spec.worldbody.add_body(name="spiky")
    body.add_freejoint()
    for k in range(40):
        angle = 2 * math.pi * k / 40
        body.add_geom(
            type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.02, 0, 0], pos=[math.cos(angle), math.sin(angle), 0]
        )
    return spec


def test_nan_positions_do_not_overflow_mujocos_arena_with_many_tiles():
    terrain = TerrainCfg(generator=small_generator_cfg(), hfield_tile_size=1.0)
    spiky = RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=spiky_ball_spec))
    scene = Scene(SceneCfg(terrain=terrain, entities={"spiky": spiky}))
    assert scene.model.nhfield == 14 * 18
    data = mujoco.MjData(scene.model)
    data.qpos[:] = float("nan")
    mujoco.mj_forward(scene.model, data)  # every sphere pairs with every tile: needs the larger arena


def test_plane_terrain_is_flat_with_zero_origins():
    scene = Scene(ball_scene_cfg(num_envs=3, terrain=TerrainCfg(type="plane", friction=(0.8, 0.005, 0.0001))))
    assert scene.model.nhfield == 0
    assert scene.model.geom("terrain").type[0] == mujoco.mjtGeom.mjGEOM_PLANE
    np.testing.assert_allclose(scene.model.geom("terrain").friction, (0.8, 0.005, 0.0001))
    terrain = Terrain(scene.cfg.terrain, None, scene.model, 3, "cpu")
    assert torch.equal(terrain.env_origins, torch.zeros(3, 3))
    assert torch.equal(terrain.height_at(torch.rand(3, 5, 2) * 10), torch.zeros(3, 5))


# env origins --------------------------------------------------------------------------------------
def test_reset_root_state_uniform_places_floating_bases_at_env_origins():
    scene = Scene(ball_scene_cfg(num_envs=4))
    sim = make_simulator(scene.model, 4, SimCfg(backend="mujoco", num_threads=1))
    scene.bind(sim)
    assert scene.env_origins is scene.terrain.env_origins
    assert (scene.env_origins.abs().sum(1) > 0).all()
    env = SimpleNamespace(scene=scene, num_envs=4, device=torch.device("cpu"), rng=torch.Generator())
    mask = torch.tensor([True, True, False, True])
    reset_root = {"pose_range": {"x": (-0.1, 0.1)}, "asset_name": "ball"}
    built_term(mdp.reset_root_state_uniform, env, event=True, **reset_root)(env, mask)
    root = scene["ball"].data.root_pos_w
    expected = scene.env_origins + torch.tensor([0.0, 0.0, 0.3])
    torch.testing.assert_close(root[mask][:, 1:], expected[mask][:, 1:])
    assert ((root[mask][:, 0] - expected[mask][:, 0]).abs() <= 0.1).all()
    torch.testing.assert_close(root[2], torch.tensor([0.0, 0.0, 0.3]))  # untouched world


def test_no_terrain_means_zero_env_origins():
    cfg = ball_scene_cfg(num_envs=3)
    cfg.terrain = None
    scene = Scene(cfg)
    scene.bind(make_simulator(scene.model, 3, SimCfg(backend="mujoco", num_threads=1)))
    assert scene.model.geom("ground").type[0] == mujoco.mjtGeom.mjGEOM_PLANE
    assert torch.equal(scene.env_origins, torch.zeros(3, 3))
