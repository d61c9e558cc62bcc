"""What a backend renders for a camera sensor: `CameraRequest` in, a `CameraRenderer` with torch outputs back.

Both backends render one camera of the model in every world at once into buffers that stay put
(`rgb`, `depth`), so observation terms read views of them. Depth is planar (the distance along the camera's
optical axis, as MuJoCo's renderer reports it) in metres, and 0 where the pixel's ray hits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True, kw_only=True)
class CameraRequest:
    """One camera of the compiled model to render in every world."""

    camera_id: int
    """Index of the camera in the MjModel."""
    width: int
    """Image width (pixels)."""
    height: int
    """Image height (pixels)."""
    rgb: bool = True
    """Render colour."""
    depth: bool = False
    """Render depth."""


class CameraRenderer(Protocol):
    """Renders its camera in every world; `render()` refreshes the buffers in place (no host sync on mjwarp)."""

    rgb: torch.Tensor | None
    """`(num_worlds, height, width, 3)` uint8, or None when not requested."""
    depth: torch.Tensor | None
    """`(num_worlds, height, width, 1)` float32 metres (0: no hit), or None when not requested."""

    def render(self) -> None:
        """Render the current state of every world (positions as of the last step, reset or forward)."""
        ...
