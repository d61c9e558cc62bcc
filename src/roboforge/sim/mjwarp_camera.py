"""Camera images of every world from MuJoCo Warp's batch ray-tracing renderer (`mujoco_warp.render`).

One render context per camera sensor. `render()` refits the scene's bounding-volume hierarchy to the
current geom poses and launches the renderer, on torch's current stream (inside the env's CUDA graph when
one is being captured). Depth is a zero-copy view of the context's output; colour is packed as one
uint32 per pixel (bytes b, g, r, a in memory), so one small copy kernel reorders it into `rgb`. Segmentation
comes as (geom id, object type) pairs per pixel, mapped to body ids into `segmentation` by a gather (no host
sync, so it joins the CUDA graph like the colour copy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco_warp as mjw
import torch
import warp as wp

from roboforge.sim.camera import CameraRequest, body_ids_of, geom_body_table

if TYPE_CHECKING:
    from roboforge.sim.mjwarp_backend import MjwarpSimulator

_RGB_FROM_BGRA = (2, 1, 0)
"""Byte order of a packed pixel in memory (little endian 0xAARRGGBB) -> r, g, b."""


class MjwarpCameraRenderer:
    """A camera rendered in every world by MuJoCo Warp (see module docstring)."""

    def __init__(self, sim: MjwarpSimulator, request: CameraRequest):
        self.sim = sim
        self.request = request
        n, h, w = sim.num_worlds, request.height, request.width
        with wp.ScopedDevice(sim.wp_device):
            self.context = mjw.create_render_context(
                sim.model,
                nworld=n,
                cam_res=(w, h),
                render_rgb=request.rgb,
                render_depth=request.depth,
                render_seg=request.segmentation,
                cam_active=[request.camera_id],
            )
        wp.synchronize_device(sim.wp_device)  # built on warp's stream; rendered on torch's
        self._name = f"render:{request.camera_id}:{id(self)}"
        self.rgb = torch.zeros(n, h, w, 3, dtype=torch.uint8, device=sim.device) if request.rgb else None
        packed = wp.to_torch(self.context.rgb_data)
        self._packed = packed.view(torch.uint8).view(n, h, w, 4) if request.rgb else packed
        self._order = torch.tensor(_RGB_FROM_BGRA, device=sim.device)
        self.depth = wp.to_torch(self.context.depth_data).view(n, h, w, 1) if request.depth else None
        self._pairs = wp.to_torch(self.context.seg_data).view(n, h, w, 2) if request.segmentation else None
        self.segmentation = None
        if request.segmentation:
            self._bodies = torch.from_numpy(geom_body_table(sim.model)).to(sim.device)
            self.segmentation = torch.full((n, h, w, 1), -1, dtype=torch.int32, device=sim.device)

    def _launch(self) -> None:
        mjw.refit_bvh(self.sim.m, self.sim.d, self.context)
        mjw.render(self.sim.m, self.sim.d, self.context)

    def render(self) -> None:
        self.sim.run_kernels(self._name, self._launch)
        if self.rgb is not None:
            torch.index_select(self._packed, 3, self._order, out=self.rgb)
        if self.segmentation is not None and self._pairs is not None:
            self.segmentation.copy_(body_ids_of(self._pairs, self._bodies))
