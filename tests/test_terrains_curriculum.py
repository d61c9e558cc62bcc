"""The terrain curriculum (levels and env origins) and the height scan."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from managers_util import built_term
from roboforge import mdp
from roboforge.scene.scene import Scene
from roboforge.terrains import Terrain
from terrains_util import FakeScene, ball_scene_cfg


@pytest.fixture(scope="module")
def terrain_scene():
    scene = Scene(ball_scene_cfg())
    terrain = Terrain(scene.cfg.terrain, scene.generated_terrain, scene.model, 8, "cpu")
    return scene, terrain


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


def _settled_mean_level(terrain: Terrain, fails_at: int | None, episodes: int = 3000) -> float:
    """Mean level over `episodes` curriculum updates of every world, after a burn-in: each episode
    promotes, except on level `fails_at`, where the robot falls and is demoted."""
    gen = torch.Generator().manual_seed(0)
    everyone = torch.ones(terrain.num_envs, dtype=torch.bool)
    _levels(terrain, *([0] * terrain.num_envs))
    total = 0.0
    for episode in range(episodes):
        falls = terrain.terrain_levels == fails_at if fails_at is not None else ~everyone
        terrain.update_env_origins(everyone, ~falls, falls, generator=gen)
        if episode >= episodes // 10:
            total += float(terrain.terrain_levels.float().mean())
    return total / (episodes - episodes // 10)


def test_levels_settle_at_two_thirds_of_the_top_for_a_policy_that_never_falls(terrain_scene):
    """The bar's reading of `Curriculum/terrain_levels`: with N levels a policy that never falls settles
    at a mean of 2(N - 1)/3 (6.0 of 0-9), since a world promoted past the top restarts at a random level;
    one that always falls on the top level is held between the two hardest levels, above that mean."""
    _, terrain = terrain_scene
    top = terrain.num_rows - 1
    assert _settled_mean_level(terrain, fails_at=None) == pytest.approx(2 * top / 3, abs=0.05)
    assert _settled_mean_level(terrain, fails_at=top) == pytest.approx(top - 0.5, abs=0.05)
    assert _settled_mean_level(terrain, fails_at=1) < 2 * top / 3 - 0.2  # falls midway pull it down


def test_mean_level_by_kind_says_which_kind_holds_the_curriculum_back(terrain_scene):
    _, terrain = terrain_scene
    assert terrain.terrain_types.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]  # two worlds per kind
    _levels(terrain, 0, 1, 2, 2, 0, 0, 1, 2)
    levels = terrain.mean_level_by_kind()
    assert levels == {"stairs": 0.5, "boxes": 2.0, "rough": 0.0, "pit": 1.5}


def test_survival_log_counts_ended_and_survived_episodes_per_kind_and_level(terrain_scene):
    _, terrain = terrain_scene
    _levels(terrain, 0, 1, 2, 2, 0, 0, 1, 2)
    mask = torch.tensor([1, 1, 1, 1, 1, 0, 1, 0], dtype=torch.bool)
    survived = torch.tensor([1, 0, 1, 0, 1, 1, 1, 1], dtype=torch.bool)
    log = {k: (float(a), float(b)) for k, (a, b) in terrain.survival_log(mask, survived).items()}
    assert log["Terrain/survived/stairs"] == (1.0, 2.0) and log["Terrain/survived/boxes"] == (1.0, 2.0)
    assert log["Terrain/survived/rough"] == (1.0, 1.0) and log["Terrain/survived/pit"] == (1.0, 1.0)
    assert log["Terrain/survived/level_0"] == (2.0, 2.0)  # worlds 0 and 4
    assert log["Terrain/survived/level_1"] == (1.0, 2.0) and log["Terrain/survived/level_2"] == (1.0, 2.0)


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
        exploded_buf=torch.tensor([0, 0, 0, 0, 0, 1, 0, 0], dtype=torch.bool),
        rng=torch.Generator().manual_seed(0),
    )
    mask = torch.tensor([1, 1, 1, 1, 1, 1, 1, 0], dtype=torch.bool)
    mean_level = mdp.terrain_levels_vel(env, mask, asset_name="robot", command_name="base_velocity")
    # up (2.5 m), stay, down (0.2 < 10), stay (0.2 > 0.1), up, stay (no command), not run yet, masked out
    assert terrain.terrain_levels.tolist() == [2, 1, 0, 1, 2, 1, 1, 1]
    assert mean_level.shape == () and float(mean_level) == pytest.approx(9 / 8)
    # a world the NaN guard reset stays where it was, however far its robot seems to have walked
    _levels(terrain, 1, 1, 1, 1, 1, 1, 1, 1)
    root[:, 0] = terrain.env_origins[:, 0] + 9.0
    env.scene = FakeScene(terrain, root)
    mdp.terrain_levels_vel(env, mask, asset_name="robot", command_name="base_velocity")
    assert terrain.terrain_levels.tolist() == [2, 2, 2, 2, 2, 1, 1, 1]


# height scan --------------------------------------------------------------------------------------
def _scan_env(root_pos_w, root_quat_w, height_at):
    terrain = SimpleNamespace(height_at=height_at)
    return SimpleNamespace(scene=FakeScene(terrain, root_pos_w, root_quat_w), device=torch.device("cpu"))


def test_height_scan_of_a_box_floating_above_flat_ground():
    pos = torch.tensor([[0.0, 0.0, 1.0], [3.0, -2.0, 0.7]])
    quat = torch.tensor([[1.0, 0.0, 0.0, 0.0], [math.cos(0.3), 0.0, math.sin(0.3), 0.0]])  # pitched
    env = _scan_env(pos, quat, lambda p: torch.zeros(p.shape[:-1]))
    scan = built_term(mdp.height_scan, env, size=(1.6, 1.0), resolution=0.1, height_offset=0.5)(env)
    assert scan.shape == (2, 17 * 11)
    torch.testing.assert_close(scan, torch.tensor([[0.5], [0.2]]).expand(2, 187))


def test_height_scan_grid_is_x_fastest_and_turns_with_yaw_only():
    yaw = math.pi / 2
    quat = torch.tensor([[math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]])
    env = _scan_env(torch.tensor([[1.0, 2.0, 1.0]]), quat, lambda p: 0.1 * p[..., 0] + 0.01 * p[..., 1])
    grid = {"size": (0.4, 0.2), "resolution": 0.2, "offset_xy": (0.2, 0.0), "height_offset": 0.0}
    scan = built_term(mdp.height_scan, env, **grid)(env)
    # heading frame points (x fastest): (0, -.1) (.2, -.1) (.4, -.1) (0, .1) ... -> world after +90 deg yaw
    px = torch.tensor([0.0, 0.2, 0.4, 0.0, 0.2, 0.4])
    py = torch.tensor([-0.1, -0.1, -0.1, 0.1, 0.1, 0.1])
    world_x, world_y = 1.0 - py, 2.0 + px
    torch.testing.assert_close(scan[0], 1.0 - (0.1 * world_x + 0.01 * world_y))
