"""Camera sensor: RGB, depth and segmentation images of every world, rendered by the simulator backend.

The config names a camera of the model or adds one (on a body of the entity, or fixed in the world). The
runtime asks the simulator for a renderer of that camera (`Simulator.camera_renderer`: MuJoCo Warp's batch
ray tracer on mjwarp, C MuJoCo's OpenGL renderer on mujoco) and renders lazily: `update` and `reset` mark the
frame stale and the first read of `data` afterwards renders every world once. So a frame read by an
observation shows the state after the step's resets, and a step that reads no image renders none.

With `update_period > 0` the camera runs slower than the env: each world keeps its last frame until its
period has elapsed (or its episode restarts). The renderer still draws every world at every read (launches
inside a CUDA graph cannot be skipped), so a longer period does not save time; it models a slower sensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import torch

from roboforge.sensors.base import Sensor, SensorCfg, prefixed
from roboforge.sim.camera import CameraRequest
from roboforge.utils.config import ConfigError

if TYPE_CHECKING:
    from roboforge.sim.simulator import Simulator

MAX_SIDE = 1024
"""Largest image side (pixels)."""
MAX_TOTAL_PIXELS = 2**30
"""Most pixels of one camera over all worlds (4096 worlds of 512x512): about 4 GiB of colour and as much
depth, so a size override cannot ask for more memory than a GPU holds."""


@dataclass(kw_only=True)
class CameraSensorCfg(SensorCfg):
    """A camera of the model (`camera_name`) or a new one at `pos`/`quat` on `body_name` (None: fixed in the world).

    MuJoCo's camera convention: a camera looks along its frame's -z axis with +y up in the image.
    """

    camera_name: str | None = None
    """Existing camera: the entity's own (name without the entity prefix) or a camera of the world."""
    body_name: str | None = None
    """Body of the entity to mount a new camera on; None mounts it in the world (a fixed camera)."""
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Position (m) of a new camera in its body's frame (the world frame for a fixed camera)."""
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    """Orientation (w, x, y, z) of a new camera in its body's frame."""
    fovy: float = 45.0
    """Vertical field of view (degrees) of a new camera."""
    width: int = 64
    """Image width (pixels)."""
    height: int = 64
    """Image height (pixels)."""
    rgb: bool = True
    """Render colour: `data.rgb` `(num_envs, H, W, 3)` uint8."""
    depth: bool = False
    """Render depth: `data.depth` `(num_envs, H, W, 1)` float32, metres along the optical axis, 0 where
    nothing is hit."""
    segmentation: bool = False
    """Render instance segmentation: `data.segmentation` `(num_envs, H, W, 1)` int32, the MjModel body id of the
    geom each pixel shows (0: the world body, e.g. the ground; -1: nothing hit, or a flex). Not exportable:
    the deploy runtime renders rgb and depth only."""
    update_period: float = 0.0
    """Seconds between frames of a world; 0: a new frame at every env step."""

    def check(self) -> None:
        """One-line errors for sizes, field of view and outputs out of range."""
        if not (1 <= self.width <= MAX_SIDE and 1 <= self.height <= MAX_SIDE):
            raise ConfigError(
                f"CameraSensorCfg: image {self.width}x{self.height}: width and height must be 1 to {MAX_SIDE}."
            )
        if not (self.rgb or self.depth or self.segmentation):
            raise ConfigError(
                "CameraSensorCfg: rgb, depth and segmentation are all off; switch on at least one."
            )
        if not 0.0 < self.fovy < 180.0:
            raise ConfigError(f"CameraSensorCfg: fovy {self.fovy} must be between 0 and 180 degrees.")
        if self.update_period < 0.0:
            raise ConfigError(f"CameraSensorCfg: update_period {self.update_period} must be >= 0.")

    def add_to_spec(self, spec: mujoco.MjSpec, name: str) -> None:
        self.check()
        if self.camera_name is not None:
            self.model_camera(name, [c.name for c in spec.cameras])  # exists?
            return
        if self.body_name is None:
            body = spec.worldbody
        else:
            body = spec.body(prefixed(self.entity_name, self.body_name))
            if body is None:
                raise ConfigError(
                    f"CameraSensorCfg: entity {self.entity_name!r} has no body {self.body_name!r}."
                )
        body.add_camera(name=name, pos=list(self.pos), quat=list(self.quat), fovy=self.fovy)

    def model_camera(self, name: str, cameras: list[str]) -> str:
        """The scene name of the sensor's camera among `cameras` (the scene's camera names): the camera added
        under the sensor's `name`, the entity's `camera_name`, or a world camera of that name."""
        if self.camera_name is None:
            return name
        for candidate in (prefixed(self.entity_name, self.camera_name), self.camera_name):
            if candidate in cameras:
                return candidate
        raise ConfigError(
            f"CameraSensorCfg: no camera {self.camera_name!r} on entity {self.entity_name!r} or in the world. "
            f"Cameras: {', '.join(c for c in cameras if c) or '(none)'}."
        )

    def build(self, name: str, model: mujoco.MjModel, sim: Simulator) -> CameraSensor:
        return CameraSensor(name, self, model, sim)


@dataclass
class CameraData:
    """The latest frames of every world (tensors that stay put; read them after each step)."""

    rgb: torch.Tensor | None
    """`(num_envs, H, W, 3)` uint8, or None without `rgb`."""
    depth: torch.Tensor | None
    """`(num_envs, H, W, 1)` float32 metres (0: nothing hit), or None without `depth`."""
    segmentation: torch.Tensor | None = None
    """`(num_envs, H, W, 1)` int32 body ids (-1: nothing hit), or None without `segmentation`."""


class CameraSensor(Sensor):
    """Renders the camera in every world on the first read of `data` after a step or reset (see module
    docstring)."""

    def __init__(self, name: str, cfg: CameraSensorCfg, model: mujoco.MjModel, sim: Simulator):
        self.cfg = cfg
        self.name = name
        if sim.num_worlds * cfg.width * cfg.height > MAX_TOTAL_PIXELS:
            raise ConfigError(
                f"Camera {name!r}: {sim.num_worlds} worlds of {cfg.width}x{cfg.height} pixels exceed "
                f"{MAX_TOTAL_PIXELS} pixels in all; use smaller images or fewer worlds (--num-envs)."
            )
        cameras = [model.camera(i).name for i in range(model.ncam)]
        self.camera_id = cameras.index(cfg.model_camera(name, cameras))
        request = CameraRequest(
            camera_id=self.camera_id,
            width=cfg.width,
            height=cfg.height,
            rgb=cfg.rgb,
            depth=cfg.depth,
            segmentation=cfg.segmentation,
        )
        self.renderer = sim.camera_renderer(request)
        self._stale = True
        self._held: CameraData | None = None
        if cfg.update_period > 0.0:  # frames kept per world between updates
            self._held = CameraData(*(None if x is None else x.clone() for x in self._frames()))
        self._age = torch.zeros(sim.num_worlds, device=sim.device)
        self._due = torch.ones(sim.num_worlds, dtype=torch.bool, device=sim.device)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the images."""
        return self.cfg.height, self.cfg.width

    @property
    def data(self) -> CameraData:
        """The current frames, rendered now if the state changed since the last render."""
        if self._stale:
            self._stale = False
            self.renderer.render()
            if self._held is not None:
                self._hold_due_frames(self._held)
        if self._held is not None:
            return self._held
        return CameraData(*self._frames())

    def _frames(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """The renderer's buffers in `CameraData` order: rgb, depth, segmentation."""
        r = self.renderer
        return r.rgb, r.depth, r.segmentation

    def _hold_due_frames(self, held: CameraData) -> None:
        """Copy the new frames of the worlds whose period has elapsed into the held frames."""
        due = self._due[:, None, None, None]
        kept_frames = (held.rgb, held.depth, held.segmentation)
        for new, kept in zip(self._frames(), kept_frames, strict=True):
            if new is not None and kept is not None:
                kept[:] = torch.where(due, new, kept)
        self._due.zero_()

    def update(self, dt: float) -> None:
        self._stale = True
        if self._held is None:
            return
        self._age += dt
        due = self._age >= self.cfg.update_period - 1.0e-6
        self._due |= due
        self._age.masked_fill_(due, 0.0)

    def reset(self, mask: torch.Tensor) -> None:
        """A restarted episode sees a new frame at its first read."""
        self._stale = True
        self._due |= mask
        self._age.masked_fill_(mask, 0.0)
