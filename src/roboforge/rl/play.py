"""Play a trained policy, optionally mirrored into the MuJoCo viewer (world 0)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from roboforge.rl.evaluate import load_policy
from roboforge.rl.session import Session
from roboforge.rl.trainer import EpisodeTracker


def play_policy(session: Session, checkpoint: Path, steps: int, viewer: bool = False) -> str:
    """Run `steps` deterministic env steps; returns a one-line summary of the episodes that ended."""
    if viewer and not os.environ.get("DISPLAY"):
        raise ValueError("--viewer needs a display (DISPLAY is not set).")
    policy = load_policy(session, checkpoint)
    venv, env = session.venv, session.env
    obs, _ = venv.reset()
    tracker = EpisodeTracker(env.num_envs, session.device)
    handle = data = None
    if viewer:
        import mujoco.viewer

        data = mujoco.MjData(env.scene.model)
        handle = mujoco.viewer.launch_passive(env.scene.model, data)
    with torch.inference_mode():
        for _ in range(steps):
            obs, reward, dones, _ = venv.step(policy(obs))
            policy.reset(dones)
            tracker.step(reward, dones)
            if handle is not None and data is not None:
                data.qpos[:] = env.sim.qpos[0].cpu().numpy().astype(np.float64)
                mujoco.mj_forward(env.scene.model, data)
                handle.sync()
                time.sleep(env.step_dt)
    if handle is not None:
        handle.close()
    mean_ret, mean_len, n = tracker.pop()
    return (
        f"{n} episodes ended, mean return {mean_ret:.2f}, mean length {mean_len:.1f}/{env.max_episode_length}"
    )
