"""Velocity and planar-goal commands on small fake envs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from locomotion_util import ALL, N, fake_env, fake_robot
from roboforge import mdp
from roboforge.managers import CommandManager


# --- velocity command ----------------------------------------------------------------------------------
def test_velocity_command_ranges_standing_and_metrics():
    env = fake_env(fake_robot(lin_vel_b=torch.tensor([[0.5, 0.0, 0.0]] * N)))
    ranges = mdp.VelocityRanges(lin_vel_x=(1.0, 2.0), lin_vel_y=(-0.5, -0.2), ang_vel_z=(0.3, 0.4))
    manager = CommandManager({"base_velocity": mdp.UniformVelocityCommandCfg(ranges=ranges)}, env)
    term = manager.terms["base_velocity"]
    manager.reset(ALL)
    cmd = manager.get_command("base_velocity")
    assert cmd.shape == (N, 3)
    assert ((cmd[:, 0] >= 1.0) & (cmd[:, 0] <= 2.0)).all() and (
        (cmd[:, 1] >= -0.5) & (cmd[:, 1] <= -0.2)
    ).all()
    manager.compute(env.step_dt)
    expected_xy = torch.norm(cmd[:, :2] - torch.tensor([0.5, 0.0]), dim=1)
    torch.testing.assert_close(term.metrics["error_vel_xy"], expected_xy)
    torch.testing.assert_close(term.metrics["error_vel_yaw"], cmd[:, 2].abs())
    log = manager.reset(ALL)
    total, count = log["Metrics/base_velocity/error_vel_xy"]
    assert count == N
    torch.testing.assert_close(total / count, expected_xy.mean())
    # every world standing: all-zero command, right after the resample and after updates
    standing = mdp.UniformVelocityCommandCfg(ranges=ranges, rel_standing_envs=1.0)
    manager = CommandManager({"base_velocity": standing}, env)
    manager.reset(ALL)
    assert (manager.get_command("base_velocity") == 0).all()
    manager.compute(env.step_dt)
    assert (manager.get_command("base_velocity") == 0).all()


def test_velocity_command_heading_control():
    env = fake_env(fake_robot(yaw=(0.0, math.pi / 2, 3.0)))
    ranges = mdp.VelocityRanges(ang_vel_z=(-1.0, 1.0), heading=(math.pi / 2, math.pi / 2))
    cfg = mdp.UniformVelocityCommandCfg(ranges=ranges, heading_command=True, heading_control_stiffness=0.5)
    manager = CommandManager({"vel": cfg}, env)
    manager.reset(ALL)
    manager.compute(env.step_dt)
    # errors: pi/2, 0, pi/2 - 3 (wrapped); yaw rate = 0.5 * error clipped to +-1
    expected = torch.tensor([0.5 * math.pi / 2, 0.0, 0.5 * (math.pi / 2 - 3.0)])
    torch.testing.assert_close(manager.get_command("vel")[:, 2], expected)
    # rel_heading_envs=0: nobody follows a heading, yaw rates stay as drawn
    cfg0 = mdp.UniformVelocityCommandCfg(ranges=ranges, heading_command=True, rel_heading_envs=0.0)
    manager = CommandManager({"vel": cfg0}, env)
    manager.reset(ALL)
    drawn = manager.get_command("vel")[:, 2].clone()
    manager.compute(env.step_dt)
    torch.testing.assert_close(manager.get_command("vel")[:, 2], drawn)


# --- planar goal commands -------------------------------------------------------------------------------
def test_pose2d_command_in_the_yaw_frame():
    origins = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    robot = fake_robot(yaw=(math.pi / 2, 0.0, 0.0), pos=torch.tensor([[1.0, 0.0, 0.3]] * N))
    env = fake_env(robot, env_origins=origins)
    ranges = mdp.Pose2dRanges(pos_x=(0.0, 0.0), pos_y=(2.0, 2.0), heading=(2.0, 2.0))
    manager = CommandManager({"goal": mdp.UniformPose2dCommandCfg(ranges=ranges)}, env)
    manager.reset(ALL)
    cmd = manager.get_command("goal")
    assert cmd.shape == (N, 4)
    # world 0: goal (1, 2, 0.3), robot at (1, 0, 0.3) facing +y -> 2 m straight ahead; heading 2 - pi/2
    torch.testing.assert_close(cmd[0], torch.tensor([2.0, 0.0, 0.0, 2.0 - math.pi / 2]), atol=1e-6, rtol=0)
    # world 2 (facing +x, origin raised 0.5): goal (0, 2, 0.8) -> behind-left and 0.5 m up
    torch.testing.assert_close(cmd[2], torch.tensor([-1.0, 2.0, 0.5, 2.0]), atol=1e-6, rtol=0)
    term = manager.terms["goal"]
    manager.compute(env.step_dt)
    torch.testing.assert_close(term.metrics["error_pos_2d"], torch.tensor([2.0, math.sqrt(5), math.sqrt(5)]))
    # simple heading: face the goal (or away from it, whichever is closer)
    env.scene.env_origins = torch.zeros(N, 3)  # flat ground
    cfg = mdp.UniformPose2dCommandCfg(ranges=ranges, simple_heading=True)
    manager = CommandManager({"goal": cfg}, env)
    manager.reset(ALL)
    goal_w = manager.terms["goal"].pos_command_w
    torch.testing.assert_close(goal_w[1], torch.tensor([0.0, 2.0, 0.3]))
    # world 0 faces +y, the goal (0, 2) lies behind-left of (1, 0): heading toward it ~ 116.6 deg
    toward = math.atan2(2.0, -1.0)
    torch.testing.assert_close(manager.terms["goal"].heading_command_w[0], torch.tensor(toward))


def test_terrain_based_pose2d_command_picks_a_patch_of_the_current_sub_terrain():
    patches = torch.arange(2 * 3 * 4 * 3, dtype=torch.float32).reshape(2, 3, 4, 3)
    terrain = SimpleNamespace(
        has_height_field=True,
        flat_patches=patches,
        terrain_levels=torch.tensor([0, 1, 1]),
        terrain_types=torch.tensor([2, 0, 1]),
    )
    env = fake_env(terrain=terrain)
    manager = CommandManager({"goal": mdp.TerrainBasedPose2dCommandCfg()}, env)
    for _ in range(3):
        manager.reset(ALL)
        goal = manager.terms["goal"].pos_command_w
        for w in range(N):
            options = patches[terrain.terrain_levels[w], terrain.terrain_types[w]] + torch.tensor([0, 0, 0.3])
            assert torch.isclose(options, goal[w]).all(dim=1).any(), (w, goal[w], options)
    flat = SimpleNamespace(has_height_field=False, flat_patches=torch.zeros(1, 1, 1, 3))
    with pytest.raises(ValueError, match="flat patches"):
        CommandManager({"goal": mdp.TerrainBasedPose2dCommandCfg()}, fake_env(terrain=flat))
