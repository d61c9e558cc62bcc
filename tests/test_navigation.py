"""Point-robot navigation (issue 19): mocap views on both backends, the planar range scan against hand-computed
geometry, obstacle layouts clear of start and goal, the success/touch outcome, config errors, and a short CPU
learning run. (Building, stepping and graph safety: test_envs.py and test_graph_safety.py, like every task.)"""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

from conftest import BACKENDS, make_task_env, world_mask
from roboforge import mdp
from roboforge.envs import load_cfg, make_env
from roboforge.managers import TermCfg
from roboforge.mdp.commands.navigation_command import NavigationCommand
from roboforge.mdp.range_scan import planar_range_scan
from roboforge.utils.config import ConfigError

TASK = "navigation-point"
NO_OBSTACLES = torch.zeros(1, 0, 2)
NO_RADII = torch.zeros(0)


def scan(origin, heading, angles, centers=NO_OBSTACLES, radii=NO_RADII, max_range=3.0, arena=None):
    """One world's ranges `(R,)` for plain Python inputs."""
    return planar_range_scan(
        torch.tensor([origin], dtype=torch.float32),
        torch.tensor([heading], dtype=torch.float32),
        torch.tensor(angles, dtype=torch.float32),
        centers if isinstance(centers, torch.Tensor) else torch.tensor([centers], dtype=torch.float32),
        radii if isinstance(radii, torch.Tensor) else torch.tensor(radii, dtype=torch.float32),
        max_range,
        arena,
    )[0]


def command(env) -> NavigationCommand:
    term = env.command_manager.terms["goal"]
    assert isinstance(term, NavigationCommand)
    return term


def place_robot(env, xy, yaw, mask):
    """Put the robot of the worlds in `mask` at `xy (N, 2)`, heading `yaw (N,)`, at rest."""
    robot = env.scene["robot"]
    pos = torch.cat((torch.as_tensor(xy, dtype=torch.float32), torch.as_tensor(yaw)[:, None]), 1)
    robot.write_joint_state(pos, torch.zeros_like(pos), mask)


# --- range scan ---------------------------------------------------------------------------------------
def test_ray_hits_a_cylinder_at_the_hand_computed_distance():
    # straight at a circle of radius 0.5 two metres ahead: 1.5 m; 0.3 m off its axis: 2 - sqrt(0.5^2 - 0.3^2)
    assert scan((0, 0), 0.0, [0.0], [(2.0, 0.0)], [0.5]).item() == pytest.approx(1.5, abs=1e-6)
    assert scan((0, 0), 0.0, [0.0], [(2.0, 0.3)], [0.5]).item() == pytest.approx(1.6, abs=1e-6)
    # from (1, 1), the circle at (4, 5) of radius 1 along the direction (3, 4) / 5: 5 - 1
    angle = math.atan2(4.0, 3.0)
    assert scan((1, 1), angle, [0.0], [(4.0, 5.0)], [1.0], max_range=10.0).item() == pytest.approx(
        4.0, abs=1e-5
    )
    # the nearer of two circles on the same ray
    both = scan((0, 0), 0.0, [0.0], [(2.5, 0.0), (1.2, 0.0)], [0.2, 0.4])
    assert both.item() == pytest.approx(0.8, abs=1e-6)


def test_missed_behind_and_inside_rays():
    angles = [0.5 * math.pi, math.pi, 0.0]
    ranges = scan((0, 0), 0.0, angles, [(2.0, 0.0)], [0.5])
    assert ranges.tolist() == pytest.approx([3.0, 3.0, 1.5])  # sideways and backwards: max range
    assert scan((0, 0), 0.0, [0.0], [(5.0, 0.0)], [0.5]).item() == 3.0  # beyond max range
    assert scan((2.1, 0.0), 0.0, [0.0, math.pi], [(2.0, 0.0)], [0.5]).tolist() == [0.0, 0.0]  # inside


def test_walls_bound_the_scan():
    angles = [0.0, 0.5 * math.pi, math.pi, 0.25 * math.pi]
    ranges = scan((1.0, 0.0), 0.0, angles, max_range=10.0, arena=4.0)
    assert ranges.tolist() == pytest.approx([3.0, 4.0, 5.0, 3.0 * math.sqrt(2.0)], abs=1e-5)
    assert scan((1.0, 0.0), 0.0, [0.0], max_range=2.0, arena=4.0).item() == 2.0  # clamped


def test_the_scan_turns_with_the_robot():
    angles = [0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi]  # ahead, left, behind, right
    circle = {"centers": [(0.0, 2.0)], "radii": [0.5]}  # north of the robot
    assert scan((0, 0), 0.0, angles, **circle).tolist() == pytest.approx([3.0, 1.5, 3.0, 3.0], abs=1e-6)
    assert scan((0, 0), 0.5 * math.pi, angles, **circle).tolist() == pytest.approx(
        [1.5, 3.0, 3.0, 3.0], abs=1e-6
    )
    assert scan((0, 0), math.pi, angles, **circle).tolist() == pytest.approx([3.0, 3.0, 3.0, 1.5], abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_range_scan_term_reads_the_robot_and_the_obstacles_of_each_world(backend):
    env = make_task_env(TASK, num_envs=2, backend=backend)
    nav = command(env)
    place_robot(env, [[0.0, 0.0], [1.0, 1.0]], torch.tensor([0.0, 0.5 * math.pi]), env.all_worlds)
    centers = nav.parked.expand(2, -1, -1).clone()
    centers[:, 0] = torch.tensor([[2.0, 0.0], [1.0, 3.0]])  # 2 m ahead of each robot
    nav.obstacles.write(centers, env.all_worlds)
    params = {"num_rays": 4, "max_range": 3.0, "arena_half_size": 4.0}
    term = mdp.range_scan(TermCfg(func=mdp.range_scan, params=params), env)
    ranges = term(env, **term.params)
    r0 = float(nav.obstacles.radii[0])
    # world 0: ahead the obstacle; left and right the walls 4 m away (max range), behind max range
    assert ranges[0].tolist() == pytest.approx([2.0 - r0, 3.0, 3.0, 3.0], abs=1e-5)
    # world 1 faces north: obstacle ahead, the west wall 5 m to its left, the east wall 3 m to its right
    assert ranges[1].tolist() == pytest.approx([2.0 - r0, 3.0, 3.0, 3.0], abs=1e-5)
    place_robot(env, [[3.5, 0.0], [1.0, 1.0]], torch.tensor([0.0, -0.5 * math.pi]), env.all_worlds)
    ranges = term(env, **term.params)
    assert ranges[0, 0].item() == pytest.approx(0.5, abs=1e-5)  # the east wall
    assert ranges[1].tolist() == pytest.approx([3.0, 3.0, 2.0 - r0, 3.0], abs=1e-5)  # the obstacle behind


# --- mocap views ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_mocap_positions_are_per_world_state_reset_to_the_model(backend):
    env = make_task_env(TASK, num_envs=3, backend=backend)
    sim, arena = env.sim, env.scene["arena"]
    default = torch.as_tensor(env.scene.model.body_pos[arena.body_ids], dtype=torch.float32)
    assert sim.mocap_pos.shape == (3, 8, 3)
    sim.reset(env.all_worlds)
    moved = sim.mocap_pos.clone()
    moved[1, :, :2] += torch.tensor([0.5, -1.0], dtype=moved.dtype)
    sim.mocap_pos[:] = moved
    sim.step()
    body_pos = arena.data.body_pos_w  # tracking sensors: the mocap bodies' positions in the step
    torch.testing.assert_close(body_pos[1], moved[1].float(), atol=1e-5, rtol=0)
    torch.testing.assert_close(body_pos[0], default, atol=1e-5, rtol=0)
    sim.reset(world_mask(False, True, False))
    torch.testing.assert_close(sim.mocap_pos[1].float(), default, atol=1e-6, rtol=0)


@pytest.mark.slow  # builds MuJoCo Warp kernels
def test_backends_give_the_same_navigation_rollout():
    g = torch.Generator().manual_seed(5)
    actions = torch.rand(40, 4, 3, generator=g) * 2 - 1
    out = {}
    for backend in BACKENDS:
        env = make_task_env(TASK, num_envs=4, backend=backend)
        env.episode_length_buf[:2] = env.max_episode_length - 20  # two worlds reset midway: new layouts
        steps = [env.step(a) for a in actions]
        out[backend] = (torch.stack([s[0]["policy"] for s in steps]), torch.stack([s[1] for s in steps]))
    torch.testing.assert_close(out["mujoco"][0], out["mjwarp"][0], atol=1e-3, rtol=0)
    torch.testing.assert_close(out["mujoco"][1], out["mjwarp"][1], atol=1e-4, rtol=0)


# --- layout --------------------------------------------------------------------------------------------
def check_layouts(env, worlds: torch.Tensor) -> None:
    """Start, goal and obstacles of the selected worlds keep the command's clearances."""
    nav, cfg = command(env), command(env).cfg
    start, _ = nav.base.pose()
    goal, centers, radii = nav.goal_w, nav.obstacles.centers(), nav.obstacles.radii
    lo, hi = cfg.goal_distance
    inner = cfg.arena_half_size - cfg.robot_radius - cfg.goal_clearance
    for w in worlds.nonzero().flatten().tolist():
        assert lo - 1e-4 <= (goal[w] - start[w]).norm() <= hi + 1e-4, w
        assert (goal[w].abs() <= inner + 1e-4).all(), w
        placed = (centers[w].abs() < cfg.arena_half_size).all(dim=1)
        assert placed.sum() >= 6, "nearly every obstacle finds a place in an 8 x 8 m arena"
        c, r = centers[w][placed], radii[placed]
        assert ((c - start[w]).norm(dim=1) >= r + cfg.robot_radius + cfg.start_clearance - 1e-4).all(), w
        assert ((c - goal[w]).norm(dim=1) >= r + cfg.robot_radius + cfg.goal_clearance - 1e-4).all(), w
        assert (c.abs() + r[:, None] <= cfg.arena_half_size - cfg.passage_width + 1e-4).all(), w
        gaps = (c[:, None] - c[None]).norm(dim=-1) - r[:, None] - r[None]
        gaps.fill_diagonal_(math.inf)
        assert (gaps >= cfg.passage_width - 1e-4).all(), w


def test_obstacles_stay_clear_of_start_and_goal_in_every_world_after_resets():
    env = make_task_env(TASK, num_envs=64)
    for seed in range(3):
        env.reset(seed=seed)
        check_layouts(env, env.all_worlds)
    before = command(env).obstacles.centers().clone()
    ending = torch.arange(64) % 2 == 0
    env.episode_length_buf[:] = torch.where(ending, env.max_episode_length - 1, 0)
    env.step(torch.zeros(64, 3))
    check_layouts(env, env.reset_buf)
    assert env.reset_buf[ending].all()
    after = command(env).obstacles.centers()
    assert not torch.equal(after[ending], before[ending]), "a reset world gets a new layout"
    torch.testing.assert_close(after[~env.reset_buf], before[~env.reset_buf])  # the others keep theirs


# --- outcome -------------------------------------------------------------------------------------------
def test_success_needs_the_goal_without_a_touch_and_ends_the_episode():
    env = make_task_env(TASK, num_envs=4)
    env.reset(seed=0)
    env.pop_episode_stats()
    nav = command(env)
    far = nav.parked.expand(4, -1, -1).clone()  # every obstacle out of the way ...
    far[1, 0] = nav.goal_w[1] + torch.tensor([3.0, 0.0])
    far[2, 0] = nav.goal_w[2] + torch.tensor([0.3, 0.0])  # ... but one beside world 2's goal
    nav.obstacles.write(far, env.all_worlds)
    # world 0: 0.1 m from its goal; world 1: on an obstacle; world 2: at its goal but touching an obstacle;
    # world 3: 0.25 m from its goal, nothing near
    xy = nav.goal_w + torch.tensor([[0.1, 0.0], [3.0, 0.0], [0.0, 0.0], [0.0, 0.25]])
    place_robot(env, xy, torch.zeros(4), env.all_worlds)
    _, _, terminated, time_outs, _ = env.step(torch.zeros(4, 3))
    assert terminated.tolist() == [True, True, True, False] and not time_outs.any()
    dones = env.termination_manager.term_dones
    assert dones["goal_reached"].tolist() == [True, False, False, False]
    assert dones["obstacle_touched"].tolist() == [False, True, True, False]
    stats = env.pop_episode_stats()
    assert stats["Metrics/goal/success"] == pytest.approx(1 / 3)
    assert stats["Metrics/goal/touched"] == pytest.approx(2 / 3)
    assert stats["Episode_Reward/reached"] > 0 and stats["Episode_Reward/touched"] < 0


def test_walls_count_as_touches_and_progress_is_the_speed_toward_the_goal():
    env = make_task_env(TASK, num_envs=2)
    env.reset(seed=1)
    nav = command(env)
    nav.obstacles.write(nav.parked.expand(2, -1, -1), env.all_worlds)
    place_robot(env, [[3.9, 0.0], [0.0, 0.0]], torch.zeros(2), env.all_worlds)
    nav.update_outcome()
    assert nav.touched.tolist() == [True, False]
    assert nav.clearance_now.tolist() == pytest.approx([4.0 - 3.9 - 0.15, 4.0 - 0.15], abs=1e-5)
    assert mdp.obstacle_proximity(env, "goal", margin=0.25).tolist() == [1.0, 0.0]
    nav.goal_w[1] = torch.tensor([3.0, 0.0])
    nav.touched[:] = False
    nav._update()  # the end of an env step: the distance the progress reward compares with
    place_robot(env, [[0.0, 0.0], [0.04, 0.0]], torch.zeros(2), world_mask(False, True))
    progress = mdp.goal_progress(env, "goal")
    assert progress[1].item() == pytest.approx(0.04 / env.step_dt, rel=1e-4)


# --- config errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: setattr(c.commands["goal"], "goal_tolerance", 0.0), "goal_tolerance"),
        (lambda c: setattr(c.commands["goal"], "goal_distance", (5.0, 2.0)), "goal_distance"),
        (lambda c: setattr(c.commands["goal"], "passage_width", 0.2), "passage_width"),
        (lambda c: setattr(c.commands["goal"], "num_candidates", 0), "num_candidates"),
        (lambda c: setattr(c.actions["base_velocity"], "max_lin_speed", -1.0), "max_lin_speed"),
        (lambda c: c.observations["policy"].terms["range_scan"].params.update(num_rays=0), "num_rays"),
        (lambda c: c.observations["policy"].terms["range_scan"].params.update(max_range=0.0), "max_range"),
        (lambda c: setattr(c.commands["goal"], "obstacle_bodies", "wall.*"), "wall.*"),
    ],
)
def test_bad_values_raise_one_line_naming_the_field(edit, field):
    cfg = load_cfg(TASK, num_envs=2)
    cfg.sim.backend = "mujoco"
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        make_env(TASK, cfg)
    assert field in str(err.value) and len(str(err.value).splitlines()) == 1, str(err.value)


# --- learning ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_success_rises_while_training(tmp_path):
    """30 PPO iterations of 256 worlds on the CPU (184 K env steps, C MuJoCo): the training episodes' success
    (`Metrics/goal/success`) rises from none to a clear share, and their final distance to the goal falls."""
    from roboforge.rl.session import build_session
    from roboforge.rl.trainer import Trainer

    start = time.perf_counter()
    session = build_session(TASK, num_envs=256, device="cpu", sim="mujoco", seed=1)
    Trainer(session, tmp_path, max_iterations=30, quiet=True).train()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "Metrics/goal/success" in r]
    success = [r["Metrics/goal/success"] for r in rows]
    distance = [r["Metrics/goal/final_distance"] for r in rows]
    early, late = sum(success[:5]) / 5, sum(success[-5:]) / 5
    print(
        f"success {early:.2f} -> {late:.2f}, final distance {distance[0]:.2f} -> {distance[-1]:.2f} m "
        f"({time.perf_counter() - start:.0f} s)"
    )
    assert early < 0.1 and late > early + 0.25, success
    assert sum(distance[-5:]) / 5 < 0.6 * sum(distance[:5]) / 5, distance
