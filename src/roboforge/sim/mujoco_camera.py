"""Camera images of every world from C MuJoCo's off-screen OpenGL renderer (`mujoco.Renderer`, EGL or OSMesa).

One renderer (one GL context) per camera sensor draws the worlds one after another: each world's state is
loaded into a scratch `MjData`, its positions recomputed (kinematics, centres of mass for tracking cameras,
cameras and lights), and the frame read into row `i` of numpy buffers that the torch outputs view, so the
images are not copied again. Depth comes back planar in metres; pixels at the far clipping plane (nothing
hit) are set to 0, as MuJoCo Warp reports them. Segmentation renders (object id, object type) pairs into a
scratch frame, mapped to body ids in row `i` of `segmentation`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import mujoco
import numpy as np
import torch

from roboforge.sim.camera import CameraRequest, body_ids_of, geom_body_table
from roboforge.utils.errors import UserInputError

if TYPE_CHECKING:
    from roboforge.sim.mujoco_backend import MujocoSimulator

_FAR_FRACTION = 0.99
"""Depth at or beyond this fraction of the far plane counts as no hit."""
_OFF_FLAGS = (
    mujoco.mjtRndFlag.mjRND_SHADOW,
    mujoco.mjtRndFlag.mjRND_REFLECTION,
    mujoco.mjtRndFlag.mjRND_SKYBOX,
)
"""Render effects switched off."""


def open_renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    """An off-screen renderer of `model` at `width` x `height`; one clear error when no GL platform works."""
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as err:  # no GL context: missing libraries, or MUJOCO_GL naming an absent platform
        raise UserInputError(
            f"camera sensors on the 'mujoco' backend need off-screen OpenGL (MUJOCO_GL="
            f"{os.environ.get('MUJOCO_GL')}: {err}): install libegl1 and libgl1-mesa-dri (or libosmesa6 with "
            "MUJOCO_GL=osmesa), or use the mjwarp backend (--sim mjwarp), which renders without OpenGL."
        ) from None


class MujocoCameraRenderer:
    """A camera rendered in every world by C MuJoCo (see module docstring)."""

    def __init__(self, sim: MujocoSimulator, request: CameraRequest):
        self.sim = sim
        self.request = request
        n, h, w = sim.num_worlds, request.height, request.width
        self.renderer = open_renderer(sim.model, w, h)
        for flag in _OFF_FLAGS:  # off, as in MuJoCo Warp's renderer (shadows cost ~100x on a software GL)
            self.renderer.scene.flags[flag] = 0
        self.data = mujoco.MjData(sim.model)
        model = sim.model
        self._far = float(model.vis.map.zfar * model.stat.extent) * _FAR_FRACTION
        self._rgb = np.zeros((n, h, w, 3), dtype=np.uint8) if request.rgb else None
        self._depth = np.zeros((n, h, w, 1), dtype=np.float32) if request.depth else None
        self.rgb = torch.from_numpy(self._rgb) if self._rgb is not None else None
        self.depth = torch.from_numpy(self._depth) if self._depth is not None else None
        self._pairs = np.zeros((h, w, 2), dtype=np.int32)
        self._bodies = torch.from_numpy(geom_body_table(model))
        self.segmentation = torch.full((n, h, w, 1), -1, dtype=torch.int32) if request.segmentation else None

    def render(self) -> None:
        renderer, data, cam = self.renderer, self.data, self.request.camera_id
        for i in range(self.sim.num_worlds):
            model = self.sim.load_world(i, data)
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            mujoco.mj_camlight(model, data)
            renderer.update_scene(data, camera=cam)
            if self._rgb is not None:
                renderer.render(out=self._rgb[i])
            if self._depth is not None:
                renderer.enable_depth_rendering()
                renderer.render(out=self._depth[i, :, :, 0])
                renderer.disable_depth_rendering()
            if self.segmentation is not None:
                self._render_segmentation(i)
        if self._depth is not None:
            self._depth[self._depth >= self._far] = 0.0

    def _render_segmentation(self, world: int) -> None:
        """Body ids of world `world`'s pixels (the scene is already updated)."""
        assert self.segmentation is not None
        self.renderer.enable_segmentation_rendering()
        self.renderer.render(out=self._pairs)
        self.renderer.disable_segmentation_rendering()
        self.segmentation[world] = body_ids_of(torch.from_numpy(self._pairs), self._bodies)

    def close(self) -> None:
        self.renderer.close()
