"""What `roboforge train --video-interval` records, and its checks (no torch: bad options fail before the
heavy imports). The recording itself is `rl/train_video.py`."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from roboforge.render.frames import MAX_WORLDS, RenderCfg
from roboforge.utils.errors import UserInputError

VIDEO_EXTRA = "videos need imageio and its ffmpeg: pip install 'roboforge[video]' (imageio, imageio-ffmpeg)."
DEFAULT_LENGTH = 200
"""Env steps in one training clip unless `--video-length` says."""
MAX_LENGTH = 2000
"""Most env steps in one training clip."""


@dataclass(kw_only=True)
class TrainVideoCfg:
    """Clips of the training env (`train --video-interval`)."""

    interval: int
    """Iterations between the starts of two clips (a clip starts at iteration 0, interval, 2 x interval ...;
    one due while the last still records starts at the next multiple)."""
    length: int = DEFAULT_LENGTH
    """Env steps in one clip (recorded over as many iterations as it takes)."""
    render: RenderCfg = field(default_factory=lambda: RenderCfg(width=480, height=360))
    """Frame size and the worlds shown (`render.worlds`: world 0, or a grid of the first worlds)."""

    def check(self, num_envs: int | None = None) -> None:
        """One-line errors for values out of range (the worlds against `num_envs` once the env is built)."""
        if self.interval < 1:
            raise UserInputError(f"--video-interval must be >= 1, got {self.interval}.")
        if not 1 <= self.length <= MAX_LENGTH:
            raise UserInputError(f"--video-length {self.length}: give 1 to {MAX_LENGTH} env steps.")
        if not 1 <= self.render.worlds <= MAX_WORLDS:
            raise UserInputError(f"--video-worlds {self.render.worlds}: give 1 to {MAX_WORLDS}.")
        if num_envs is not None and self.render.worlds > num_envs:
            raise UserInputError(
                f"--video-worlds {self.render.worlds}: give 1 to {num_envs} (the env has {num_envs})."
            )
        if num_envs is not None:
            self.render.check(num_envs)


def train_video_cfg(interval: int | None, length: int | None, worlds: int | None) -> TrainVideoCfg | None:
    """The clips the command line asks for (None: off), checked, with the video extra installed."""
    if interval is None:
        if length is not None or worlds is not None:
            raise UserInputError(
                "--video-length and --video-worlds shape the clips of --video-interval; add --video-interval N."
            )
        return None
    cfg = TrainVideoCfg(interval=interval, length=DEFAULT_LENGTH if length is None else length)
    cfg.render.worlds = 1 if worlds is None else worlds
    cfg.check()
    check_video_extra()
    return cfg


def check_video_extra() -> None:
    """UserInputError naming the pip extra when imageio or its ffmpeg is missing."""
    if any(importlib.util.find_spec(name) is None for name in ("imageio", "imageio_ffmpeg")):
        raise UserInputError(VIDEO_EXTRA)
