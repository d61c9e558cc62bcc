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


def host_calls_of_steps(env) -> list[str]:
    """The host calls of three env steps, two worlds timing out (masked resets run) in the first."""
    actions = torch.zeros(env.num_envs, env.num_actions)
    env.reset()
    env.step(actions)  # first step may build caches
    env.episode_length_buf[:2] = env.max_episode_length - 1  # worlds 0 and 1 time out: masked resets run
    recorder = HostCallRecorder()
    with recorder:
        for _ in range(3):
            env.step(actions)
    return sorted(set(recorder.calls))


@pytest.mark.parametrize("task", sorted(list_tasks()))
def test_env_step_has_no_host_sync(task):
    calls = host_calls_of_steps(make_task_env(task, num_envs=4))
    assert not calls, f"{task}: the env step makes host calls {calls}"


def test_filtered_joint_targets_make_no_host_sync():
    """`JointPositionActionCfg.ema_alpha` < 1: the filter and its reset stay on the device."""
    from roboforge.envs import load_cfg, make_env

    cfg = load_cfg("reach-ur5e", num_envs=4)
    cfg.sim.backend = "mujoco"
    cfg.actions["arm"].ema_alpha = 0.5
    calls = host_calls_of_steps(make_env("reach-ur5e", cfg))
    assert not calls, f"the filtered action makes host calls {calls}"
