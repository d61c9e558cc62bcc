"""Lift (issue 3): the task builds on both backends; a scripted IK grasp really lifts the cube."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import BACKENDS, all_worlds, contacts_and_rows, menagerie_has
from roboforge import mdp
from roboforge.assets.robots.franka import PANDA_ARM_JOINTS
from roboforge.envs import make_env
from roboforge.tasks.lift.lift_env_cfg import lift_env_cfg

pytestmark = pytest.mark.skipif(not menagerie_has("franka_emika_panda"), reason="no franka_emika_panda model")

DOWN = torch.tensor([0.0, 1.0, 0.0, 0.0])  # tcp z axis pointing at the ground


@pytest.mark.parametrize("backend", BACKENDS)
def test_lift_task_builds_and_steps(backend):
    cfg = lift_env_cfg(num_envs=4)
    cfg.sim.backend = backend
    env = make_env("lift-cube-panda", cfg)
    assert env.num_actions == 8  # 7 arm joints + gripper
    for _ in range(10):
        obs, reward, *_ = env.step(torch.zeros(4, 8))
    assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
    assert env.pop_episode_stats()["sim_overflows"] == 0.0, "contact buffers too small"
    cube = env.scene["cube"].data.root_pos_w
    assert (cube[:, 2] - 0.025).abs().max() < 0.005, "the cube rests on the ground in front of the robot"
    assert ((cube[:, 0] > 0.35) & (cube[:, 0] < 0.65)).all()


def test_scripted_ik_grasp_lifts_the_cube_and_earns_the_lift_rewards():
    arm = mdp.DifferentialIKActionCfg(joint_names=PANDA_ARM_JOINTS, body_name="tcp", ik_method="dls")
    cfg = lift_env_cfg(num_envs=8, arm_action=arm)
    env = make_env("lift-cube-panda", cfg)
    cube = env.scene["cube"].data
    start = cube.root_pos_w.clone()
    lifted_reward = []

    def go(offset, grip: float, steps: int, anchor):
        nonlocal lifted_reward
        action = torch.cat(
            (anchor + torch.tensor(offset), DOWN.expand(8, 4), torch.full((8, 1), grip)), dim=1
        )
        for _ in range(steps):
            env.step(action)
            lifted_reward.append(float(env.reward_manager.episode_sums["lifting_object"].mean()))

    go((0.0, 0.0, 0.10), 1.0, 60, start)  # above the cube, open
    go((0.0, 0.0, 0.0), 1.0, 50, start)  # around it
    go((0.0, 0.0, 0.0), -1.0, 30, start)  # close
    for k in range(1, 61):  # lift, ramping the target up 25 cm over 1.2 s
        go((0.0, 0.0, 0.25 * k / 60), -1.0, 1, start)
    go((0.0, 0.0, 0.25), -1.0, 20, start)
    assert (cube.root_pos_w[:, 2] > 0.15).all(), cube.root_pos_w[:, 2]
    assert lifted_reward[-1] > lifted_reward[100] >= 0.0
    goal = env.command_manager.terms["object_pose"]
    assert goal.metrics["position_error"].max() < 1.0 and goal.metrics["success"].shape == (8,)


def test_a_cube_in_the_air_earns_the_lift_reward_only_when_held():
    from roboforge.mdp import manipulation

    env = make_env("lift-cube-panda", lift_env_cfg(num_envs=2))
    cube = env.scene["cube"]
    pos = cube.data.root_pos_w.clone()
    pos[:, 2] = 0.2  # knocked into the air, far from the gripper
    cube.write_root_state(pos, cube.data.root_quat_w, torch.zeros(2, 3), torch.zeros(2, 3), all_worlds(2))
    env.sim.forward(all_worlds(2))
    ungated = manipulation.object_is_lifted(env, minimal_height=0.04)
    gated = manipulation.object_is_lifted(env, minimal_height=0.04, ee_frame="tcp")
    assert ungated.tolist() == [1.0, 1.0] and gated.tolist() == [0.0, 0.0]
    tcp_pos, _ = env.scene["robot"].frame_pose_w(env.scene["robot"].find_frame("tcp"))
    cube.write_root_state(tcp_pos, cube.data.root_quat_w, torch.zeros(2, 3), torch.zeros(2, 3), all_worlds(2))
    env.sim.forward(all_worlds(2))
    assert manipulation.object_is_lifted(env, minimal_height=0.04, ee_frame="tcp").tolist() == [1.0, 1.0]


def test_arm_pressed_into_the_ground_fits_the_contact_buffers():
    """MuJoCo Warp drops contacts and constraint rows beyond `nconmax`/`njmax` per world (the cube then
    sinks into the fingers and gets launched); an arm driven into the ground must fit in the task's buffers.
    C MuJoCo counts the same contacts and rows, so the check runs on the CPU."""
    cfg = lift_env_cfg(num_envs=8)
    env = make_env("lift-cube-panda", cfg)
    gen = torch.Generator().manual_seed(0)
    most_rows = most_contacts = 0
    for t in range(100):
        action = torch.randn(8, 8, generator=gen)
        action[:, 1] += 3.0  # shoulder forward and the elbow swinging: links and hand hit the ground
        action[:, 3] += 3.0 * math.sin(t / 20)
        env.step(action)
        contacts, rows = contacts_and_rows(env)
        most_rows, most_contacts = max(most_rows, rows), max(most_contacts, contacts)
    assert most_rows > 256, "the scenario no longer presses the arm into the ground"
    assert most_rows <= cfg.sim.njmax and most_contacts <= cfg.sim.nconmax, (most_rows, most_contacts)


def test_a_cube_out_of_reach_ends_the_episode():
    env = make_env("lift-cube-panda", lift_env_cfg(num_envs=2))
    cube = env.scene["cube"]
    far = cube.data.root_pos_w.clone()
    far[0, 0] += 2.0  # world 0: 2.5 m in front of the robot
    zeros = torch.zeros(2, 3)
    cube.write_root_state(far, cube.default_root_quat, zeros, zeros, all_worlds(2))
    env.step(torch.zeros(2, 8))
    assert env.termination_manager.term_dones["object_out_of_reach"].tolist() == [True, False]
    assert cube.data.root_pos_w[0, 0] < 1.0, "the world was reset"


def test_lift_agent_clips_actions_and_the_last_action_observation():
    """Huge policy outputs reach neither the robot nor the `last_action` observation (the feedback loop that
    made unclipped GPU runs diverge)."""
    from roboforge.rl.session import build_session

    session = build_session("lift-cube-panda", num_envs=2, device="cpu", sim="mujoco")
    clip = session.agent_cfg.clip_actions
    assert clip is not None
    obs, *_ = session.learner.venv.step(torch.full((2, 8), 1.0e6))
    assert obs["policy"][:, -8:].abs().max() == pytest.approx(clip)
    arm = session.env.action_manager.terms["arm"]
    assert torch.allclose(arm.processed, arm.offset + arm.scale * clip), (
        "joint targets from the clipped action"
    )
