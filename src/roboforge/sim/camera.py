"""What a backend renders for a camera sensor: `CameraRequest` in, a `CameraRenderer` with torch outputs back.

Both backends render one camera of the model in every world at once into buffers that stay put
(`rgb`, `depth`, `segmentation`), so observation terms read views of them. Depth is planar (the distance along
the camera's optical axis, as MuJoCo's renderer reports it) in metres, and 0 where the pixel's ray hits nothing.
Segmentation is the MjModel body id of the geom a pixel shows (0: the world body, e.g. the ground), -1 where
the ray hits nothing or something that is not a geom (a flex); both renderers report (object id, object type)
pairs that `body_ids_of` maps to bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import mujoco
import numpy as np
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
    segmentation: bool = False
    """Render the body id of every pixel."""


class CameraRenderer(Protocol):
    """Renders its camera in every world; `render()` refreshes the buffers in place (no host sync on mjwarp)."""

    rgb: torch.Tensor | None
    """`(num_worlds, height, width, 3)` uint8, or None when not requested."""
    depth: torch.Tensor | None
    """`(num_worlds, height, width, 1)` float32 metres (0: no hit), or None when not requested."""
    segmentation: torch.Tensor | None
    """`(num_worlds, height, width, 1)` int32 body ids (-1: no geom hit), or None when not requested."""

    def render(self) -> None:
        """Render the current state of every world (positions as of the last step, reset or forward)."""
        ...


def geom_body_table(model: mujoco.MjModel) -> np.ndarray:
    """`(ngeom + 1,)` int32: entry 0 is -1 (no geom), entry `g + 1` the body of geom `g`."""
    return np.concatenate(([-1], model.geom_bodyid)).astype(np.int32)


def body_ids_of(pairs: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Body ids `(..., 1)` int32 of `(..., 2)` (object id, object type) pairs, `table` from `geom_body_table`:
    geoms give their body, everything else (no hit: (-1, -1), flexes, decorations) -1. Graph-safe."""
    objid, objtype = pairs[..., :1], pairs[..., 1:]
    row = torch.where(objtype == int(mujoco.mjtObj.mjOBJ_GEOM), objid.long() + 1, 0)
    return table[row.clamp(0, table.shape[0] - 1)]
