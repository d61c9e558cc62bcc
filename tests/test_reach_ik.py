"""Differential IK in the reach tasks: absolute IK by each method, clear errors for bad action configs,
position-only IK on fewer joints, and a scripted relative-IK controller reaching every Panda command."""

from __future__ import annotations

import pytest
import torch

from conftest import menagerie_has
from roboforge.envs import load_cfg, make_env

requires_panda = pytest.mark.skipif(
    not menagerie_has("franka_emika_panda"), reason="no franka_emika_panda model"
)


@pytest.mark.parametrize("method", ["dls", "pinv"])
def test_ik_abs_with_the_command_as_action_reaches_targets_across_the_workspace(method):
    cfg = load_cfg("reach-ur5e-ik-abs", num_envs=64)
    cfg.episode_length_s = 4.0  # one target per episode: targets resample every 4 s
    cfg.actions["arm"].ik_method = method
    env = make_env("reach-ur5e-ik-abs", cfg)
    command = env.command_manager.terms["ee_pose"]
    for _ in range(2 * env.max_episode_length):
        env.step(command.command.clone())
    stats = env.pop_episode_stats()
    assert stats["Metrics/ee_pose/position_error"] < 0.002
    assert stats["Metrics/ee_pose/orientation_error"] < 0.02
    for _ in range(env.max_episode_length - 5):  # settle on the current targets, then look at every world
        env.step(command.command.clone())
    assert command.metrics["position_error"].max() < 0.002
    assert command.metrics["orientation_error"].max() < 0.02


def test_jacobian_transpose_ik_reduces_the_error():
    cfg = load_cfg("reach-ur5e-ik-abs", num_envs=16)
    cfg.actions["arm"].ik_method = "transpose"
    env = make_env("reach-ur5e-ik-abs", cfg)
    command = env.command_manager.terms["ee_pose"]
    env.step(command.command.clone())
    start = command.metrics["position_error"].mean()
    for _ in range(100):
        env.step(command.command.clone())
    assert command.metrics["position_error"].mean() < 0.5 * start


def test_unknown_end_effector_is_a_clear_error():
    cfg = load_cfg("reach-ur5e-ik-abs", num_envs=2)
    cfg.actions["arm"].body_name = "flange"
    with pytest.raises(ValueError, match=r"No body or site 'flange'.*tool0"):
        make_env("reach-ur5e-ik-abs", cfg)


def test_joint_regex_matching_nothing_is_a_clear_error():
    cfg = load_cfg("reach-ur5e", num_envs=2)
    cfg.actions["arm"].joint_names = ["wrist_9_joint"]
    with pytest.raises(ValueError, match=r"match no name.*shoulder_pan_joint"):
        make_env("reach-ur5e", cfg)


def test_pose_ik_on_fewer_than_six_joints_names_the_fix():
    cfg = load_cfg("reach-ur5e-ik-abs", num_envs=2)
    cfg.actions["arm"].joint_names = ["shoulder_.*", "elbow_joint", "wrist_1_joint"]
    with pytest.raises(ValueError, match=r"at least 6 arm joints.*command_type='position'"):
        make_env("reach-ur5e-ik-abs", cfg)


def test_position_only_ik_works_with_fewer_joints():
    cfg = load_cfg("reach-ur5e-ik-abs", num_envs=4)
    cfg.actions["arm"].joint_names = ["shoulder_.*", "elbow_joint"]
    cfg.actions["arm"].command_type = "position"
    env = make_env("reach-ur5e-ik-abs", cfg)
    assert env.num_actions == 3


@requires_panda
def test_relative_ik_reaches_every_commanded_panda_pose():
    """A scripted relative-IK controller (each step asks for three times the remaining pose error, at most
    3 action units a component) reaches every command of `reach-panda-ik-rel` in 3 s: no commanded yaw lies
    past joint 7's limit, where turning the hand the short way stops (with yaw over the full circle 7 of
    64 worlds stayed 0.1-0.9 rad off after 8 s)."""
    from roboforge.utils.math import quat_error_rotvec

    cfg = load_cfg("reach-panda-ik-rel", num_envs=64)
    cfg.observations["policy"].enable_corruption = False
    cfg.events = {}  # start every world from the default pose
    cfg.commands["ee_pose"].resampling_time_range = (100.0, 100.0)
    env = make_env("reach-panda-ik-rel", cfg)
    robot, scale = env.scene["robot"], cfg.actions["arm"].scale
    frame = robot.find_frame("hand")
    env.reset()
    for _ in range(150):
        command = env.command_manager.get_command("ee_pose")
        pos_b, quat_b = robot.frame_pose_b(frame)
        error = torch.cat((command[:, :3] - pos_b, quat_error_rotvec(command[:, 3:7], quat_b)), dim=1)
        env.step((3.0 * error / scale).clamp(-3.0, 3.0))
    command = env.command_manager.get_command("ee_pose")
    pos_b, quat_b = robot.frame_pose_b(frame)
    assert (command[:, :3] - pos_b).norm(dim=1).max() < 0.01
    assert quat_error_rotvec(command[:, 3:7], quat_b).norm(dim=1).max() < 0.05
