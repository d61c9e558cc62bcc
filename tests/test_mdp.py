"""Term functions of roboforge.mdp on a small fake env (no physics)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from roboforge import mdp

N = 3


class FakeEntity:
    """The entity attributes the terms read: data views, defaults, joint index lookup."""

    def __init__(self, joint_pos, joint_vel, joint_names=("a", "b")):
        self.joint_names = list(joint_names)
        self.data = SimpleNamespace(
            joint_pos=torch.tensor(joint_pos),
            joint_vel=torch.tensor(joint_vel),
            root_pos_w=torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.0, 0.1], [0.0, 0.0, 0.3]]),
        )
        self.default_joint_pos = torch.full_like(self.data.joint_pos, 0.1)
        self.default_joint_vel = torch.zeros_like(self.data.joint_vel)

    def joint_index(self, patterns):
        if patterns is None:
            return slice(None)
        return torch.tensor([i for i, n in enumerate(self.joint_names) if n in patterns])


def fake_env(**extra):
    robot = FakeEntity(
        joint_pos=[[0.0, 1.0], [2.0, -3.0], [0.5, 0.5]],
        joint_vel=[[1.0, -1.0], [0.0, 2.0], [0.0, 0.0]],
    )
    env = SimpleNamespace(scene={"robot": robot}, num_envs=N, device=torch.device("cpu"), **extra)
    return env


def test_joint_observations():
    env = fake_env()
    torch.testing.assert_close(mdp.joint_pos(env), env.scene["robot"].data.joint_pos)
    torch.testing.assert_close(mdp.joint_pos(env, joint_names=["b"]), torch.tensor([[1.0], [-3.0], [0.5]]))
    torch.testing.assert_close(
        mdp.joint_pos_rel(env, joint_names=["a"]), torch.tensor([[-0.1], [1.9], [0.4]])
    )
    torch.testing.assert_close(mdp.joint_vel_rel(env), env.scene["robot"].data.joint_vel)


def test_joint_rewards():
    env = fake_env()
    torch.testing.assert_close(mdp.joint_vel_l1(env), torch.tensor([2.0, 2.0, 0.0]))
    torch.testing.assert_close(mdp.joint_vel_l2(env), torch.tensor([2.0, 4.0, 0.0]))
    torch.testing.assert_close(
        mdp.joint_pos_target_l2(env, target=0.5, joint_names=["a"]), torch.tensor([0.25, 2.25, 0.0])
    )


def test_action_rewards_and_observation():
    action = torch.tensor([[1.0, 2.0], [0.0, 0.0], [-1.0, 1.0]])
    prev = torch.tensor([[1.0, 0.0], [1.0, 1.0], [-1.0, 1.0]])
    env = fake_env(action_manager=SimpleNamespace(action=action, prev_action=prev))
    torch.testing.assert_close(mdp.action_l2(env), torch.tensor([5.0, 0.0, 2.0]))
    torch.testing.assert_close(mdp.action_rate_l2(env), torch.tensor([4.0, 2.0, 0.0]))
    assert mdp.last_action(env) is action


def test_alive_and_terminated_exclude_time_outs():
    terminated = torch.tensor([True, False, False])
    env = fake_env(termination_manager=SimpleNamespace(terminated=terminated))
    torch.testing.assert_close(mdp.is_alive(env), torch.tensor([0.0, 1.0, 1.0]))
    torch.testing.assert_close(mdp.is_terminated(env), torch.tensor([1.0, 0.0, 0.0]))


def test_terminations():
    env = fake_env(episode_length_buf=torch.tensor([10, 299, 300]), max_episode_length=300)
    assert mdp.time_out(env).tolist() == [False, False, True]
    assert mdp.joint_pos_out_of_manual_limit(env, bounds=(-1.0, 1.5)).tolist() == [False, True, False]
    assert mdp.joint_pos_out_of_manual_limit(env, bounds=(-1.0, 1.5), joint_names=["b"]).tolist() == [
        False,
        True,
        False,
    ]
    assert mdp.root_height_below(env, minimum_height=0.2).tolist() == [False, True, False]


def test_generated_commands_reads_the_command_manager():
    command = torch.ones(N, 3)
    env = fake_env(
        command_manager=SimpleNamespace(get_command=lambda name: command if name == "vel" else None)
    )
    assert mdp.generated_commands(env, command_name="vel") is command
