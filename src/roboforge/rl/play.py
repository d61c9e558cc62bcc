"""Play a trained policy, optionally mirrored into the MuJoCo viewer (world 0)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress

from roboforge.envs.episodes import EpisodeTracker
from roboforge.render import RenderCfg, VideoWriter, WorldRenderer
from roboforge.rl.evaluate import load_policy, policy_actions
from roboforge.rl.session import Session
from roboforge.utils.errors import UserInputError
from roboforge.utils.stop_signals import StopSignals


@dataclass
class PlayResult:
    """The episodes that ended while playing (means are None when none ended)."""

    episodes: int
    mean_return: float | None
    mean_episode_length: float | None
    max_episode_length: int
    video: str | None = None
    """The MP4 written, if one was asked for."""

    def line(self) -> str:
        """A one-line summary."""
        if not self.episodes:
            return f"no episode ended (episodes last up to {self.max_episode_length} steps)"
        return (
            f"{self.episodes} episodes ended, mean return {self.mean_return:.2f}, "
            f"mean length {self.mean_episode_length:.1f}/{self.max_episode_length}"
        )


@dataclass
class VideoRequest:
    """Record the first `length` steps of the worlds `render.worlds` shows into the MP4 `path`."""

    path: Path
    length: int
    render: RenderCfg


class Recorder:
    """Frames of an env's first worlds, with their command markers, into a video at the env's step rate."""

    def __init__(self, env, request: VideoRequest):
        request.render.check(env.num_envs)
        self.env, self.request = env, request
        self.renderer = WorldRenderer(env.scene.model, request.render)
        self.writer = VideoWriter(request.path, fps=1.0 / env.step_dt)

    def record(self) -> None:
        if self.writer.frames >= self.request.length:
            return
        worlds = self.request.render.worlds
        qpos = self.env.sim.qpos[:worlds].cpu().numpy().astype(np.float64)
        commands = getattr(self.env, "command_manager", None)
        markers = (
            [commands.markers(i) for i in range(worlds)] if commands and self.request.render.markers else None
        )
        self.writer.append(self.renderer.frame(qpos, markers))

    def close(self) -> Path:
        self.renderer.close()
        return self.writer.close()


def play_policy(
    session: Session, checkpoint: Path, steps: int, viewer: bool = False, video: VideoRequest | None = None
) -> PlayResult:
    """Run `steps` deterministic env steps (recording the first `video.length` into an MP4); returns
    what the episodes that ended achieved."""
    if viewer and not os.environ.get("DISPLAY"):
        raise UserInputError("--viewer needs a display (DISPLAY is not set).")
    policy = load_policy(session, checkpoint)
    env = session.env
    obs, _ = env.reset()
    recorder = Recorder(env, video) if video is not None else None
    tracker = EpisodeTracker(env.num_envs, session.device)
    handle = data = None
    if viewer:
        import mujoco.viewer

        data = mujoco.MjData(env.scene.model)
        handle = mujoco.viewer.launch_passive(env.scene.model, data)
    try:
        with (
            StopSignals().installed(),  # SIGTERM as Ctrl-C: the frames so far are written below
            Progress(disable=recorder is None) as progress,
            torch.inference_mode(),
        ):  # rendering is the slow part
            bar = progress.add_task("playing and recording", total=steps)
            for _ in range(steps):
                progress.advance(bar)
                obs, reward, terminated, time_outs, _ = env.step(policy_actions(session, policy, obs))
                dones = terminated | time_outs
                policy.reset(dones)
                tracker.step(reward, dones)
                if recorder is not None:
                    recorder.record()
                if handle is not None and data is not None:
                    data.qpos[:] = env.sim.qpos[0].cpu().numpy().astype(np.float64)
                    mujoco.mj_forward(env.scene.model, data)
                    handle.sync()
                    time.sleep(env.step_dt)
    finally:  # Ctrl-C or an error: the frames recorded so far still make a playable video
        if handle is not None:
            handle.close()
        written = str(recorder.close()) if recorder is not None else None
    mean_ret, mean_len, n = tracker.pop()
    return PlayResult(
        n, mean_ret if n else None, mean_len if n else None, int(env.max_episode_length), written
    )
