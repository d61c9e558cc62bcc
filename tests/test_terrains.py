"""Procedural terrains: sub-terrain heights, generator layout, the MuJoCo height field, the terrain
curriculum, env origins and the height scan."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import mujoco
import numpy as np
import pytest
import torch

from roboforge import mdp
from roboforge.assets.articulation import InitialStateCfg, RigidObjectCfg
from roboforge.assets.sources import BuiltinSpawnCfg
from roboforge.scene.scene import Scene, SceneCfg
from roboforge.sim.simulator import SimCfg, make_simulator
from roboforge.terrains import (
    BoxGridTerrainCfg,
    DiscreteObstaclesTerrainCfg,
    FlatTerrainCfg,
    PyramidSlopedTerrainCfg,
    PyramidStairsTerrainCfg,
    RandomRoughTerrainCfg,
    Terrain,
    TerrainCfg,
    TerrainGeneratorCfg,
    generate_terrain,
)
from roboforge.terrains.sub_terrains import patch_coords, platform_mask

SIZE, HS = (4.0, 4.0), 0.1
BALL_RADIUS = 0.05


def _heights(cfg, difficulty: float, seed: int = 0) -> np.ndarray:
    return cfg.heights(difficulty, SIZE, HS, np.random.default_rng(seed))


def _platform(heights: np.ndarray, width: float) -> np.ndarray:
    x, y = patch_coords(SIZE, HS)
    return heights[platform_mask(x, y, width)]


def small_generator_cfg(**kwargs) -> TerrainGeneratorCfg:
    """3 levels x 4 kinds of 4 m patches: stairs, boxes, rough ground, a pit."""
    params = dict(
        size=SIZE,
        border_width=1.0,
        num_rows=3,
        num_cols=4,
        horizontal_scale=HS,
        seed=3,
        sub_terrains={
            "stairs": PyramidStairsTerrainCfg(platform_width=1.0),
            "boxes": BoxGridTerrainCfg(platform_width=1.0),
            "rough": RandomRoughTerrainCfg(platform_width=1.0, downsampled_scale=0.3),
            "pit": PyramidSlopedTerrainCfg(platform_width=1.0, inverted=True),
        },
    )
    params.update(kwargs)
    return TerrainGeneratorCfg(**params)


# sub-terrains -------------------------------------------------------------------------------------
def test_stairs_step_height_grows_with_difficulty_and_inverted_goes_down():
    stairs = PyramidStairsTerrainCfg(step_height_range=(0.05, 0.25), step_width=0.3, platform_width=1.0)
    steps = [np.abs(np.diff(_heights(stairs, d), axis=0)).max() for d in (0.0, 0.5, 1.0)]
    np.testing.assert_allclose(steps, [0.05, 0.15, 0.25], atol=1e-9)
    num_steps = math.floor((2.0 - 0.5) / 0.3)
    np.testing.assert_allclose(_platform(_heights(stairs, 1.0), 1.0), 0.25 * num_steps)
    inverted = PyramidStairsTerrainCfg(step_height_range=(0.05, 0.25), platform_width=1.0, inverted=True)
    np.testing.assert_allclose(_platform(_heights(inverted, 1.0), 1.0), -0.25 * num_steps)


def test_rough_slope_and_box_amplitudes_grow_with_difficulty():
    kinds = [
        RandomRoughTerrainCfg(amplitude_range=(0.01, 0.1)),
        RandomRoughTerrainCfg(amplitude_range=(0.01, 0.1), downsampled_scale=0.4),
        PyramidSlopedTerrainCfg(slope_range=(0.0, 0.4)),
        BoxGridTerrainCfg(height_range=(0.02, 0.2)),
        DiscreteObstaclesTerrainCfg(height_range=(0.05, 0.3)),
    ]
    for kind in kinds:
        extent = [np.abs(_heights(kind, d)).max() for d in (0.0, 0.5, 1.0)]
        assert extent[0] < extent[1] < extent[2], (type(kind).__name__, extent)
    rough = _heights(RandomRoughTerrainCfg(amplitude_range=(0.1, 0.1)), 1.0)
    assert np.abs(rough).max() <= 0.1 + 1e-9
    slope = _heights(PyramidSlopedTerrainCfg(slope_range=(0.3, 0.3), platform_width=1.0), 0.0)
    np.testing.assert_allclose(slope.max(), 0.3 * (2.0 - 0.5))  # rise over the run to the platform


def test_downsampled_rough_is_smoother():
    fine = _heights(RandomRoughTerrainCfg(amplitude_range=(0.1, 0.1), noise_step=0.0), 1.0)
    coarse = _heights(
        RandomRoughTerrainCfg(amplitude_range=(0.1, 0.1), noise_step=0.0, downsampled_scale=0.5), 1.0
    )
    assert np.abs(np.diff(coarse, axis=0)).max() < 0.5 * np.abs(np.diff(fine, axis=0)).max()


@pytest.mark.parametrize(
    "kind",
    [
        FlatTerrainCfg(),
        RandomRoughTerrainCfg(),
        PyramidSlopedTerrainCfg(),
        PyramidSlopedTerrainCfg(inverted=True),
        PyramidStairsTerrainCfg(),
        PyramidStairsTerrainCfg(inverted=True),
        BoxGridTerrainCfg(),
        DiscreteObstaclesTerrainCfg(),
    ],
    ids=lambda k: type(k).__name__ + ("_inv" if getattr(k, "inverted", False) else ""),
)
def test_every_patch_has_a_flat_platform(kind):
    heights = _heights(kind, 1.0)
    assert heights.shape == (40, 40)
    platform = _platform(heights, kind.platform_width)
    assert platform.size == 21 * 21
    assert np.ptp(platform) == 0.0


# generator ----------------------------------------------------------------------------------------
def test_generator_rows_are_levels_and_columns_follow_proportions():
    cfg = small_generator_cfg(
        num_rows=5,
        num_cols=10,
        sub_terrains={
            "flat": FlatTerrainCfg(proportion=0.2),
            "stairs": PyramidStairsTerrainCfg(proportion=0.5),
            "boxes": BoxGridTerrainCfg(proportion=0.3),
        },
    )
    terrain = generate_terrain(cfg)
    assert terrain.kind_names == ["flat", "stairs", "boxes"]
    assert (terrain.kinds == terrain.kinds[0]).all()  # a column keeps its kind on every level
    np.testing.assert_array_equal(np.bincount(terrain.kinds[0], minlength=3), [2, 5, 3])
    assert (np.diff(terrain.difficulty, axis=0) > 0).all()
    stairs_col = int(np.argmax(terrain.kinds[0] == 1))
    platform_z = terrain.terrain_origins[:, stairs_col, 2]
    assert (np.diff(platform_z) >= 0).all() and platform_z[-1] > platform_z[0]
    assert terrain.heights.shape == (5 * 40 + 2 * 10 + 1, 10 * 40 + 2 * 10 + 1)


def test_generator_origins_are_patch_centres_on_the_platform():
    cfg = small_generator_cfg()
    terrain = generate_terrain(cfg)
    rows, cols = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    np.testing.assert_allclose(terrain.terrain_origins[..., 0], (rows + 0.5) * 4.0 - 6.0)
    np.testing.assert_allclose(terrain.terrain_origins[..., 1], (cols + 0.5) * 4.0 - 8.0)
    for r in range(3):
        for c in range(4):
            ox, oy, oz = terrain.terrain_origins[r, c]
            ix = round((ox - terrain.origin_xy[0]) / HS)
            iy = round((oy - terrain.origin_xy[1]) / HS)
            np.testing.assert_allclose(terrain.heights[ix - 5 : ix + 6, iy - 5 : iy + 6], oz)  # 1 m platform


def test_flat_patches_lie_in_their_patch_on_flat_ground():
    cfg = small_generator_cfg()
    terrain = generate_terrain(cfg)
    patches = terrain.flat_patches
    assert patches.shape == (3, 4, cfg.flat_patch_sampling.num_patches, 3)
    offset = np.abs(patches[..., :2] - terrain.terrain_origins[:, :, None, :2])
    assert (offset <= 2.0 - cfg.flat_patch_sampling.radius + 1e-9).all()
    r = round(cfg.flat_patch_sampling.radius / HS)
    for point in patches.reshape(-1, 3):
        ix = round((point[0] - terrain.origin_xy[0]) / HS)
        iy = round((point[1] - terrain.origin_xy[1]) / HS)
        window = terrain.heights[ix - r : ix + r + 1, iy - r : iy + r + 1]
        assert np.ptp(window) <= cfg.flat_patch_sampling.max_height_diff + 1e-9
        assert point[2] == terrain.heights[ix, iy]


def test_generator_without_curriculum_mixes_kinds_and_is_seeded():
    cfg = small_generator_cfg(curriculum=False, num_rows=4, num_cols=6)
    a, b = generate_terrain(cfg), generate_terrain(cfg)
    np.testing.assert_array_equal(a.heights, b.heights)
    assert len(np.unique(a.kinds)) > 1 and not (a.kinds == a.kinds[0]).all()
    assert not (np.diff(a.difficulty, axis=0) > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_rows": 0}, "num_rows"),
        ({"num_cols": 0}, "num_cols"),
        ({"sub_terrains": {"a": FlatTerrainCfg(proportion=0.0)}}, "proportion"),
        ({"sub_terrains": {"a": FlatTerrainCfg(proportion=-1.0)}}, "sub_terrains['a'].proportion"),
        ({"sub_terrains": {}}, "sub_terrains"),
        ({"size": (4.05, 4.0)}, "size[x]"),
        ({"difficulty_range": (0.5, 0.2)}, "difficulty_range"),
        ({"horizontal_scale": 0.0}, "horizontal_scale"),
        ({"sub_terrains": {"a": FlatTerrainCfg(platform_width=5.0)}}, "platform_width"),
    ],
)
def test_bad_generator_configs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        Scene(SceneCfg(terrain=TerrainCfg(generator=small_generator_cfg(**kwargs))))


def test_bad_terrain_config_names_the_field():
    with pytest.raises(ValueError, match=r"terrain\.type"):
        TerrainCfg(type="mesh").validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_init_terrain_level"):
        TerrainCfg(max_init_terrain_level=-1).validate()


# the compiled scene -------------------------------------------------------------------------------
def ball_spec() -> mujoco.MjSpec:
    spec = mujoco.MjSpec()
    body = spec.worldbody.add_body(name="ball")
    body.add_freejoint()
    body.add_geom(name="ball", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[BALL_RADIUS, 0, 0], mass=0.1)
    return spec


def ball_scene_cfg(num_envs: int = 1, terrain: TerrainCfg | None = None, z: float = 0.3) -> SceneCfg:
    ball = RigidObjectCfg(spawn=BuiltinSpawnCfg(builder=ball_spec), init_state=InitialStateCfg(pos=(0, 0, z)))
    terrain = (
        terrain if terrain is not None else TerrainCfg(generator=small_generator_cfg(), hfield_tile_size=8.0)
    )
    return SceneCfg(num_envs=num_envs, terrain=terrain, entities={"ball": ball})


@pytest.fixture(scope="module")
def terrain_scene():
    scene = Scene(ball_scene_cfg())
    terrain = Terrain(scene.cfg.terrain, scene.generated_terrain, scene.model, 8, "cpu")
    return scene, terrain


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


# curriculum ---------------------------------------------------------------------------------------
def _levels(terrain: Terrain, *levels: int) -> None:
    terrain.terrain_levels[:] = torch.tensor(levels)
    terrain.env_origins[:] = terrain.terrain_origins[terrain.terrain_levels, terrain.terrain_types]


def test_update_env_origins_promotes_demotes_clamps_and_wraps(terrain_scene):
    _, terrain = terrain_scene
    _levels(terrain, 0, 1, 2, 0, 1, 2, 1, 1)
    up = torch.tensor([1, 1, 1, 0, 0, 0, 0, 1], dtype=torch.bool)
    down = torch.tensor([0, 0, 0, 1, 1, 0, 0, 1], dtype=torch.bool)
    mask = torch.tensor([1, 1, 1, 1, 1, 1, 0, 1], dtype=torch.bool)
    gen = torch.Generator().manual_seed(0)
    terrain.update_env_origins(mask, up, down, generator=gen)
    levels = terrain.terrain_levels.tolist()
    assert levels[:2] == [1, 2] and levels[3:] == [0, 0, 2, 1, 2]  # clamp at 0; masked-out world 6 stays
    assert 0 <= levels[2] < 3  # solved the hardest level: a random level
    expected = terrain.terrain_origins[terrain.terrain_levels, terrain.terrain_types]
    torch.testing.assert_close(terrain.env_origins, expected)
    wrapped = []
    for seed in range(20):
        _levels(terrain, 2, 0, 0, 0, 0, 0, 0, 0)
        terrain.update_env_origins(mask, up, down, generator=torch.Generator().manual_seed(seed))
        wrapped.append(int(terrain.terrain_levels[0]))
    assert len(set(wrapped)) > 1


class FakeScene:
    """A scene with a terrain and one robot whose root pose is given."""

    def __init__(self, terrain, root_pos_w: torch.Tensor, root_quat_w: torch.Tensor | None = None):
        self.terrain = terrain
        self.env_origins = getattr(terrain, "env_origins", None)
        self._robot = SimpleNamespace(data=SimpleNamespace(root_pos_w=root_pos_w, root_quat_w=root_quat_w))

    def __getitem__(self, name: str):
        return self._robot


def test_terrain_levels_vel_moves_by_distance_walked(terrain_scene):
    _, terrain = terrain_scene
    _levels(terrain, 1, 1, 1, 1, 1, 1, 1, 1)
    walked = torch.tensor([2.5, 1.0, 0.2, 0.2, 2.5, 0.0, 0.2, 1.0])  # half a patch = 2 m
    root = terrain.env_origins.clone()
    root[:, 0] += walked
    command = torch.zeros(8, 3)
    command[:, 0] = torch.tensor([1.0, 0.1, 1.0, 0.01, 1.0, 0.0, 1.0, 1.0])  # asks for |v| * 20 s * 0.5
    env = SimpleNamespace(
        scene=FakeScene(terrain, root),
        command_manager=SimpleNamespace(get_command=lambda name: command),
        max_episode_length_s=20.0,
        episode_length_buf=torch.tensor([5, 5, 5, 5, 5, 5, 0, 5]),
        rng=torch.Generator().manual_seed(0),
    )
    mask = torch.tensor([1, 1, 1, 1, 1, 1, 1, 0], dtype=torch.bool)
    mean_level = mdp.terrain_levels_vel(env, mask, asset_name="robot", command_name="base_velocity")
    # up (2.5 m), stay, down (0.2 < 10), stay (0.2 > 0.1), up, stay (no command), not run yet, masked out
    assert terrain.terrain_levels.tolist() == [2, 1, 0, 1, 2, 1, 1, 1]
    assert mean_level.shape == () and float(mean_level) == pytest.approx(9 / 8)


def test_reset_root_state_uniform_places_floating_bases_at_env_origins():
    scene = Scene(ball_scene_cfg(num_envs=4))
    sim = make_simulator(scene.model, 4, SimCfg(backend="mujoco", num_threads=1))
    scene.bind(sim)
    assert scene.env_origins is scene.terrain.env_origins
    assert (scene.env_origins.abs().sum(1) > 0).all()
    env = SimpleNamespace(scene=scene, num_envs=4, device=torch.device("cpu"), rng=torch.Generator())
    mask = torch.tensor([True, True, False, True])
    mdp.reset_root_state_uniform(env, mask, pose_range={"x": (-0.1, 0.1)}, asset_name="ball")
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


# height scan --------------------------------------------------------------------------------------
def _scan_env(root_pos_w, root_quat_w, height_at):
    terrain = SimpleNamespace(height_at=height_at)
    return SimpleNamespace(scene=FakeScene(terrain, root_pos_w, root_quat_w), device=torch.device("cpu"))


def test_height_scan_of_a_box_floating_above_flat_ground():
    pos = torch.tensor([[0.0, 0.0, 1.0], [3.0, -2.0, 0.7]])
    quat = torch.tensor([[1.0, 0.0, 0.0, 0.0], [math.cos(0.3), 0.0, math.sin(0.3), 0.0]])  # pitched
    env = _scan_env(pos, quat, lambda p: torch.zeros(p.shape[:-1]))
    scan = mdp.height_scan(env, size=(1.6, 1.0), resolution=0.1, height_offset=0.5)
    assert scan.shape == (2, 17 * 11)
    torch.testing.assert_close(scan, torch.tensor([[0.5], [0.2]]).expand(2, 187))


def test_height_scan_grid_is_x_fastest_and_turns_with_yaw_only():
    yaw = math.pi / 2
    quat = torch.tensor([[math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]])
    env = _scan_env(torch.tensor([[1.0, 2.0, 1.0]]), quat, lambda p: 0.1 * p[..., 0] + 0.01 * p[..., 1])
    scan = mdp.height_scan(env, size=(0.4, 0.2), resolution=0.2, offset_xy=(0.2, 0.0), height_offset=0.0)
    # heading frame points (x fastest): (0, -.1) (.2, -.1) (.4, -.1) (0, .1) ... -> world after +90 deg yaw
    px = torch.tensor([0.0, 0.2, 0.4, 0.0, 0.2, 0.4])
    py = torch.tensor([-0.1, -0.1, -0.1, 0.1, 0.1, 0.1])
    world_x, world_y = 1.0 - py, 2.0 + px
    torch.testing.assert_close(scan[0], 1.0 - (0.1 * world_x + 0.01 * world_y))


# MuJoCo Warp --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_mjwarp_collides_feet_shapes_with_the_height_field():
    """Sphere, capsule, box and mesh dropped on box tops come to rest on them in MuJoCo Warp (CPU).

    Gentle drops (< 0.3 m): in mujoco-warp 4.0.0, box and mesh geoms hitting a height field faster than
    about 2.5 m/s (timestep 2 ms) can get wrong contact normals and tumble; spheres and capsules do not.
    """
    import warp as wp

    wp.config.quiet = True
    import mujoco_warp as mjw

    spec = mujoco.MjSpec()
    terrain_cfg = TerrainCfg(
        generator=small_generator_cfg(
            num_rows=1, num_cols=1, sub_terrains={"boxes": BoxGridTerrainCfg(height_range=(0.1, 0.1))}
        )
    )
    generated = generate_terrain(terrain_cfg.generator)
    from roboforge.terrains import add_terrain_geom

    add_terrain_geom(spec, terrain_cfg, generated)
    corners = [[x, y, z] for x in (-0.04, 0.04) for y in (-0.04, 0.04) for z in (-0.04, 0.04)]
    spec.add_mesh(name="cube", uservert=np.ravel(corners).tolist())
    shapes = {
        "sphere": dict(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.04, 0, 0]),
        "capsule": dict(
            type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[0.04, 0.1, 0], quat=[0.7071068, 0, 0.7071068, 0]
        ),
        "box": dict(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.04, 0.04, 0.04]),
        "mesh": dict(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="cube"),
    }
    box_tops = [(-1.3, -1.3), (-1.3, 1.2), (1.2, -1.3), (1.2, 1.2)]  # centres of the flat tops of 0.5 m boxes
    for (name, geom), (x, y) in zip(shapes.items(), box_tops, strict=True):
        body = spec.worldbody.add_body(name=name, pos=[x, y, 0.2])  # box tops are within +-0.1 m
        body.add_freejoint()
        body.add_geom(name=name, **geom)
    model = spec.compile()
    terrain = Terrain(terrain_cfg, generated, model, 1, "cpu")
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with wp.ScopedDevice("cpu"):
        warp_model = mjw.put_model(model)
        warp_data = mjw.put_data(model, data, nworld=1, nconmax=64, njmax=256)
        for _ in range(300):
            mjw.step(warp_model, warp_data)
        xpos = warp_data.xpos.numpy()[0]
    for name in shapes:
        body = model.body(name).id
        ground = float(terrain.height_at(torch.tensor(xpos[body, :2], dtype=torch.float32)))
        assert abs(xpos[body, 2] - ground - 0.04) < 3e-3, (name, xpos[body], ground)


@pytest.mark.slow
def test_mjwarp_contacts_stay_shallow_far_from_the_terrain_centre():
    """A yawed foot sunk below the ground 40 m from the terrain's centre gets its true depth in MuJoCo Warp.

    Regression for height-field tiles: with one field for the whole terrain, mujoco-warp 4.0.0 reports
    metres-deep contacts there (and launches the robot).
    """
    import warp as wp

    wp.config.quiet = True
    import mujoco_warp as mjw

    terrain_cfg = TerrainCfg(
        generator=small_generator_cfg(
            size=(8.0, 8.0), num_rows=2, num_cols=12, sub_terrains={"flat": FlatTerrainCfg()}
        )
    )
    generated = generate_terrain(terrain_cfg.generator)
    spec = mujoco.MjSpec()
    from roboforge.terrains import add_terrain_geom

    add_terrain_geom(spec, terrain_cfg, generated)
    foot = spec.worldbody.add_body(pos=[-3.0, 40.0, -0.015], quat=[math.cos(0.65), 0, 0, math.sin(0.65)])
    foot.add_freejoint()
    for x, y in ((-0.05, 0.025), (-0.05, -0.025), (0.12, 0.03), (0.12, -0.03)):
        foot.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.005, 0, 0], pos=[x, y, 0.0], mass=0.5)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with wp.ScopedDevice("cpu"):
        warp_model = mjw.put_model(model)
        warp_data = mjw.put_data(model, data, nworld=1, nconmax=64, njmax=256)
        mjw.forward(warp_model, warp_data)
        depth = warp_data.contact.dist.numpy()[: int(warp_data.nacon.numpy()[0])]
    assert len(depth) >= 4 and depth.min() > -0.03, depth
