"""Every registered task's env step is CUDA-graph safe, checked on the CPU.

A CUDA graph replays device work only: a host sync (`.item()`, a Python branch on a tensor, boolean
indexing) breaks capture, and a host-to-device copy (`torch.tensor([...])` inside the step) is
captured once and silently replays stale data. A `TorchFunctionMode` records such calls while the env
steps through resets, so a term that would break the GPU graph fails here first.
"""

from __future__ import annotations

import pytest
import torch

from conftest import make_task_env
from graph_util import HostCallRecorder
from roboforge.envs import list_tasks


@pytest.mark.parametrize("task", sorted(list_tasks()))
def test_env_step_has_no_host_sync(task):
    env = make_task_env(task, num_envs=4)
    actions = torch.zeros(env.num_envs, env.num_actions)
    env.reset()
    env.step(actions)  # first step may build caches
    env.episode_length_buf[:2] = env.max_episode_length - 1  # worlds 0 and 1 time out: masked resets run
    recorder = HostCallRecorder()
    with recorder:
        for _ in range(3):
            env.step(actions)
    assert not recorder.calls, f"{task}: the env step makes host calls {sorted(set(recorder.calls))}"


def test_filtered_joint_targets_make_no_host_sync():
    """`JointPositionActionCfg.ema_alpha` < 1: the filter and its reset stay on the device."""
    from roboforge.envs import load_cfg, make_env

    cfg = load_cfg("reach-ur5e", num_envs=4)
    cfg.sim.backend = "mujoco"
    cfg.actions["arm"].ema_alpha = 0.5
    env = make_env("reach-ur5e", cfg)
    actions = torch.zeros(env.num_envs, env.num_actions)
    env.reset()
    env.step(actions)
    env.episode_length_buf[:2] = env.max_episode_length - 1
    recorder = HostCallRecorder()
    with recorder:
        for _ in range(3):
            env.step(actions)
    assert not recorder.calls, f"the filtered action makes host calls {sorted(set(recorder.calls))}"
