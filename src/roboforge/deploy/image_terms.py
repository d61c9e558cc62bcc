"""Image observation terms in numpy, as `roboforge.mdp.images` computes them: `(C, H, W)` float32 per frame.

A term reads its camera's frames from the robot state (`ObsContext.images[sensor]['rgb' | 'depth']`, the
training camera's `(H, W, 3)` uint8 / `(H, W, 1)` float32 metres); `ImageTerm` applies clip and scale and
stacks the last frames on channels, oldest first, refilled with the first frame after a reset, as the
training observation manager does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from roboforge.deploy.specs import ObsTermSpec
from roboforge.utils.errors import UserInputError

if TYPE_CHECKING:
    from roboforge.deploy.metadata import PolicyMetadata
    from roboforge.deploy.observations import ObsContext

IMAGE_MODULE = "roboforge.mdp.images"
ImageFn = Callable[["ObsContext"], np.ndarray]


def _frame(ctx: ObsContext, spec: ObsTermSpec, kind: str, channels: int) -> np.ndarray:
    """The `(H, W, channels)` frame `kind` of the term's camera; one clear error when the state lacks it."""
    sensor = spec.params["sensor_name"]
    frame = ctx.images.get(sensor, {}).get(kind)
    shape = (*(spec.shape or [0, 0, 0])[1:], channels)
    if frame is None or frame.shape != shape:
        got = "none" if frame is None else f"shape {frame.shape}"
        raise UserInputError(
            f"Observation term {spec.name!r} needs the {kind} frame {shape} of camera {sensor!r} in "
            f"RobotState.images[{sensor!r}][{kind!r}]; got {got}."
        )
    return frame


def image_rgb(spec: ObsTermSpec, meta: PolicyMetadata) -> ImageFn:
    """Colour in [0, 1] `(3, H, W)`; with `mean_subtract`, minus each channel's mean."""
    mean_subtract = bool(spec.params.get("mean_subtract", False))

    def fn(ctx: ObsContext) -> np.ndarray:
        image = _frame(ctx, spec, "rgb", 3).transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
        if mean_subtract:
            image = image - image.mean(axis=(1, 2), keepdims=True, dtype=np.float32)
        return image

    return fn


def image_depth(spec: ObsTermSpec, meta: PolicyMetadata) -> ImageFn:
    """Depth as a fraction of `max_distance` `(1, H, W)`: farther points and no-hit pixels read 1; with
    `mean_subtract` (absent from exports older than the parameter), minus the image's mean."""
    limit = np.float32(spec.params.get("max_distance", 10.0))
    mean_subtract = bool(spec.params.get("mean_subtract", False))

    def fn(ctx: ObsContext) -> np.ndarray:
        depth = _frame(ctx, spec, "depth", 1).transpose(2, 0, 1).astype(np.float32)
        depth = np.minimum(np.where(depth > 0.0, depth, limit), limit) / limit
        if mean_subtract:
            depth = depth - depth.mean(axis=(1, 2), keepdims=True, dtype=np.float32)
        return depth

    return fn


def push_history(history: np.ndarray, x: np.ndarray, fresh: bool) -> None:
    """Append `x` to a ring of past values, oldest first; after a reset (`fresh`) every slot becomes `x`."""
    if fresh:
        history[:] = x
    else:
        history[:-1] = history[1:]
        history[-1] = x


class ImageTerm:
    """One bound image term: its channels `slice` in its group's image, clip, scale and frame history."""

    def __init__(self, spec: ObsTermSpec, fn: ImageFn, start: int):
        self.spec, self.fn = spec, fn
        shape = tuple(spec.shape or ())
        self.length = max(spec.history_length, 1)
        self.slice = slice(start, start + shape[0] * self.length)
        self.history = np.zeros((self.length, *shape), dtype=np.float32)
        self.fresh = True

    def write(self, ctx: ObsContext, out: np.ndarray) -> None:
        """Write the stacked frames into `out[slice]` (`out`: the group's `(C, H, W)` image)."""
        x = self.fn(ctx)
        if self.spec.clip is not None:
            x = np.clip(x, np.float32(self.spec.clip[0]), np.float32(self.spec.clip[1]))
        if self.spec.scale is not None:
            x = x * np.float32(self.spec.scale)
        push_history(self.history, x, self.fresh)
        self.fresh = False
        out[self.slice] = self.history.reshape(-1, *self.history.shape[2:])
