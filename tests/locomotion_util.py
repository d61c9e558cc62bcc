"""Shared pieces of the locomotion tests: a small fake env with a fake robot (3 worlds)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from conftest import world_mask
from roboforge.utils.math import quat_from_euler_xyz

N = 3


# --- fake env -------------------------------------------------------------------------------------------
class FakeScene(dict):
    """`scene[name]` entities plus the attributes commands and contact terms read."""

    def __init__(self, entities, env_origins=None, sensors=None, terrain=None):
        super().__init__(entities)
        self.env_origins = env_origins if env_origins is not None else torch.zeros(N, 3)
        self.sensors = sensors or {}
        if terrain is not None:
            self.terrain = terrain


def fake_robot(yaw=(0.0, 0.0, 0.0), pos=None, lin_vel_b=None, ang_vel_b=None):
    yaw_t = torch.tensor(yaw)
    quat = quat_from_euler_xyz(torch.zeros(N), torch.zeros(N), yaw_t)
    data = SimpleNamespace(
        root_quat_w=quat,
        root_pos_w=pos if pos is not None else torch.zeros(N, 3),
        root_lin_vel_b=lin_vel_b if lin_vel_b is not None else torch.zeros(N, 3),
        root_ang_vel_b=ang_vel_b if ang_vel_b is not None else torch.zeros(N, 3),
    )
    return SimpleNamespace(name="robot", data=data, default_root_pos=torch.tensor([[0.0, 0.0, 0.3]] * N))


def fake_env(robot=None, **scene_kwargs):
    scene = FakeScene({"robot": robot or fake_robot()}, **scene_kwargs)
    return SimpleNamespace(
        scene=scene,
        num_envs=N,
        device=torch.device("cpu"),
        rng=torch.Generator().manual_seed(0),
        max_episode_length=100,
        episode_length_buf=torch.zeros(N, dtype=torch.long),
        step_dt=0.02,
    )


ALL = world_mask(True, True, True)
