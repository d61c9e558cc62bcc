"""MP4 videos from frames, encoded by imageio with the ffmpeg binary of the `imageio-ffmpeg` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from roboforge.utils.errors import UserInputError


class VideoWriter:
    """Appends RGB frames `(H, W, 3) uint8` to an H.264 MP4 at `fps`; `close()` finishes the file.

    Written to `<name>.part.mp4` and renamed when closed, so a video that exists is complete.
    """

    def __init__(self, path: Path, fps: float):
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise UserInputError(
                "videos need imageio and its ffmpeg: pip install 'roboforge[video]' (imageio, imageio-ffmpeg)."
            ) from None
        if path.suffix.lower() != ".mp4":
            raise UserInputError(f"{path}: videos are MP4 files; give a name ending in .mp4.")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.frames = path, 0
        self._partial = path.with_name(path.stem + ".part.mp4")
        self._writer = imageio.get_writer(
            self._partial, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=7,
            macro_block_size=8,
        )  # fmt: skip

    def append(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame)
        self.frames += 1

    def close(self) -> Path:
        self._writer.close()
        self._partial.replace(self.path)
        return self.path


class Clip:
    """Up to `length` frames of one MuJoCo model's state (`add(qpos)` after each step) into the MP4 `path`:
    the deployment runtime's sim-to-sim videos, where the state is a plain `MjData`."""

    def __init__(self, model, path: Path, fps: float, length: int, render=None):
        from roboforge.render.frames import RenderCfg, WorldRenderer

        self.length = length
        self.renderer = WorldRenderer(model, render or RenderCfg())
        self.writer = VideoWriter(path, fps)

    def add(self, qpos: np.ndarray) -> None:
        if self.writer.frames < self.length:
            self.writer.append(self.renderer.tile(np.asarray(qpos, dtype=np.float64), []))

    def close(self) -> Path:
        self.renderer.close()
        return self.writer.close()
