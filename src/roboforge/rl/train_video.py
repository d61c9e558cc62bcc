"""Clips of the training env while it trains (`roboforge train --video-interval N`), for every library.

Every `interval` iterations a clip of `length` env steps starts. While it records, a tap on the learner's
`StepRecorder` (the one object every library's rollout reports each env step to, also inside rsl_rl's
captured rollout) copies the shown worlds' state into preallocated device buffers at a device cursor:
no host sync, no Python branch on a tensor, the same kernels on every step, so it is captured into a CUDA
graph like the rest of the step. Between iterations the trainer reads the cursor (one host sync while a
clip records); a full clip is copied to the host once, rendered with C MuJoCo (`render/frames.py`) and
written to `videos/iter_<start>.mp4` in the run folder (complete or absent: `VideoWriter`), and to
tensorboard as an animated GIF image summary (tensorboard's `add_video` needs moviepy). Off, nothing is
attached: training runs exactly as without this module.

Command markers: the state the command terms draw from (the simulator's qpos, qvel and sensordata and each
term's `command`) is recorded too. To draw a frame's markers, the recorded rows are put back into the
shown worlds for a moment between iterations, `command_manager.markers(world)` reads them, and the live
rows are restored bit for bit before training continues. A term whose markers read other state of its own
would draw that state as it is at render time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from roboforge.render import VideoWriter, WorldRenderer
from roboforge.rl.train_video_cfg import TrainVideoCfg, check_video_extra

GIF_EVERY = 2
"""Tensorboard's GIF keeps every GIF_EVERY-th frame at 1/GIF_EVERY of the size (the MP4 keeps all)."""


class StateTap:
    """Copies the first `worlds` rows of state tensors into `(length, worlds, ...)` buffers, one row per call,
    while the device cursor is below `length` (graph-safe: masked `index_copy_` at the cursor)."""

    def __init__(self, sources: dict[str, Callable[[], torch.Tensor]], worlds: int, length: int):
        self.sources, self.worlds, self.length = sources, worlds, length
        self.buffers: dict[str, torch.Tensor] = {}
        for name, read in sources.items():
            live = read()
            self.buffers[name] = torch.zeros(
                (length, worlds, *live.shape[1:]), dtype=live.dtype, device=live.device
            )
        device = next(iter(self.buffers.values())).device
        self.cursor = torch.full((1,), length, dtype=torch.long, device=device)
        """Rows recorded so far; `length` when idle or full."""

    def __call__(self) -> None:
        active = self.cursor < self.length
        at = self.cursor.clamp(max=self.length - 1)
        for name, read in self.sources.items():
            buffer = self.buffers[name]
            row = read()[: self.worlds].unsqueeze(0)
            keep = buffer.index_select(0, at)
            mask = active.view(1, *([1] * (row.dim() - 1)))
            buffer.index_copy_(0, at, torch.where(mask, row, keep))
        self.cursor += active.long()

    def start(self) -> None:
        """Record from the next call on (a device write, outside the step)."""
        self.cursor.zero_()

    def stop(self) -> None:
        self.cursor.fill_(self.length)

    def recorded(self) -> int:
        """Rows recorded since `start` (host sync)."""
        return int(self.cursor.item())

    def rows(self, count: int) -> dict[str, torch.Tensor]:
        """The first `count` recorded rows of every source, on the host."""
        return {name: buffer[:count].cpu() for name, buffer in self.buffers.items()}


def marker_sources(env: Any) -> dict[str, Callable[[], torch.Tensor]]:
    """What the command terms that draw markers read: the simulator's qvel and sensordata and their
    commands (none when no term draws)."""
    from roboforge.managers.command_manager import CommandTerm

    commands = getattr(env, "command_manager", None)
    terms = getattr(commands, "terms", {}) or {}
    drawing = {n: t for n, t in terms.items() if type(t).markers is not CommandTerm.markers}
    if not drawing:
        return {}
    sim = env.sim
    sources: dict[str, Callable[[], torch.Tensor]] = {
        "qvel": lambda: sim.qvel,
        "sensordata": lambda: sim.sensordata,
    }
    for name, term in drawing.items():
        sources[f"command:{name}"] = lambda term=term: term.command
    return sources


class TrainVideo:
    """Starts, records and writes the clips of one training run (see the module docstring)."""

    def __init__(self, env: Any, recorder: Any, run_dir: Path, cfg: TrainVideoCfg):
        cfg.check(env.num_envs)
        check_video_extra()
        self.env, self.cfg, self.folder = env, cfg, run_dir / "videos"
        self.renderer = WorldRenderer(env.scene.model, cfg.render)  # no OpenGL: the error names packages
        drawn = marker_sources(env) if cfg.render.markers else {}
        self.sources: dict[str, Callable[[], torch.Tensor]] = {"qpos": lambda: env.sim.qpos, **drawn}
        self.draws_markers = bool(drawn)
        self.tap = StateTap(self.sources, cfg.render.worlds, cfg.length)
        recorder.taps.append(self.tap)
        self.started_at: int | None = None
        """Iteration at which the clip being recorded started; None when none records."""

    def before_iteration(self, iteration: int) -> None:
        """Start a clip at each multiple of `interval` (unless one still records)."""
        if self.started_at is None and iteration % self.cfg.interval == 0:
            self.tap.start()
            self.started_at = iteration

    def after_iteration(self, writer: Any) -> Path | None:
        """Write the clip once it is full (one host sync while one records); returns the MP4 written."""
        if self.started_at is None or self.tap.recorded() < self.cfg.length:
            return None
        return self._write(self.cfg.length, writer)

    def finish(self, writer: Any) -> Path | None:
        """At the end of training (or an interrupt): write the clip being recorded with the steps it has."""
        if self.started_at is None:
            return None
        count = self.tap.recorded()
        return self._write(count, writer) if count else None

    def close(self) -> None:
        self.renderer.close()

    def _write(self, count: int, writer: Any) -> Path:
        """Render the first `count` recorded steps into `videos/iter_<start>.mp4` (and tensorboard)."""
        start = self.started_at
        self.started_at = None
        self.tap.stop()
        rows = self.tap.rows(count)
        video = VideoWriter(self.folder / f"iter_{start:06d}.mp4", fps=1.0 / self.env.step_dt)
        gif: list[np.ndarray] = []
        with self._replay() as markers:
            for t in range(count):
                frame = self.renderer.frame(rows["qpos"][t].numpy().astype(np.float64), markers(rows, t))
                video.append(frame)
                if t % GIF_EVERY == 0:
                    gif.append(frame[::GIF_EVERY, ::GIF_EVERY])
        path = video.close()
        if writer is not None:
            height, width = gif[0].shape[:2]
            writer.add_gif(
                "Videos/train", encode_gif(gif, GIF_EVERY * self.env.step_dt), height, width, start
            )
        return path

    @contextlib.contextmanager
    def _replay(self) -> Iterator[Callable[[dict[str, torch.Tensor], int], list | None]]:
        """`markers(rows, t)`: recorded step `t` put into the shown worlds, their command markers read; the
        live rows are restored exactly on exit (None for every frame when no command term draws)."""
        if not self.draws_markers:
            yield lambda rows, t: None
            return
        worlds = self.cfg.render.worlds
        saved = {name: read()[:worlds].clone() for name, read in self.sources.items()}

        def markers(rows: dict[str, torch.Tensor], t: int) -> list:
            for name, read in self.sources.items():
                read()[:worlds].copy_(rows[name][t])
            return [self.env.command_manager.markers(w) for w in range(worlds)]

        try:
            yield markers
        finally:
            for name, value in saved.items():
                self.sources[name]()[:worlds].copy_(value)


def encode_gif(frames: list[np.ndarray], frame_s: float) -> bytes:
    """An animated, looping GIF of RGB frames shown `frame_s` seconds each (imageio's pillow plugin)."""
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=frame_s * 1000, loop=0)
