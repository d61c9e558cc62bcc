"""Camera frames of the simulated robot, rendered as the training env's C MuJoCo camera renders them.

The training backend (`sim/mujoco_camera.py`) draws a world by loading its state into a scratch `MjData`,
recomputing positions (kinematics, centres of mass for tracking cameras, cameras and lights) and rendering
the camera with shadows, reflections and skybox off; depth is planar metres with far-plane pixels set to 0.
`SimCamera` does the same on the deploy robot's `MjData`, so the same state gives the same pixels. With an
update period the frame is kept until the period has elapsed or the episode restarts, as the camera sensor does.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np

from roboforge.deploy.metadata import MetadataError
from roboforge.deploy.specs import CameraSpec
from roboforge.utils.errors import UserInputError

FAR_FRACTION = 0.99
"""Depth at or beyond this fraction of the far plane counts as no hit (as in training)."""
OFF_FLAGS = (
    mujoco.mjtRndFlag.mjRND_SHADOW,
    mujoco.mjtRndFlag.mjRND_REFLECTION,
    mujoco.mjtRndFlag.mjRND_SKYBOX,
)
"""Render effects switched off (as in training)."""
STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
"""The state copied into the scratch data before a frame is drawn."""


class SimCamera:
    """One camera of the deploy scene: `frames(data)` -> {'rgb': (H, W, 3) uint8, 'depth': (H, W, 1) float32}."""

    def __init__(self, model: mujoco.MjModel, spec: CameraSpec, step_dt: float):
        self.spec, self.model, self.step_dt = spec, model, step_dt
        self.camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, spec.camera)
        if self.camera_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise MetadataError(
                f"Camera sensor {spec.name!r} renders camera {spec.camera!r}, which the policy's scene lacks "
                f"(cameras: {', '.join(names) or 'none'}); export the policy again."
            )
        fovy = float(model.cam_fovy[self.camera_id])
        if abs(fovy - spec.fovy) > 1.0e-6:
            raise MetadataError(
                f"Camera {spec.camera!r} has a field of view of {fovy} degrees in the policy's scene but "
                f"{spec.fovy} in its metadata; export the policy again."
            )
        self.renderer = _open_renderer(model, spec.width, spec.height)
        for flag in OFF_FLAGS:
            self.renderer.scene.flags[flag] = 0
        self.scratch = mujoco.MjData(model)
        self.state = np.zeros(mujoco.mj_stateSize(model, STATE))
        self.far = float(model.vis.map.zfar * model.stat.extent) * FAR_FRACTION
        h, w = spec.height, spec.width
        self.held = {"rgb": np.zeros((h, w, 3), np.uint8), "depth": np.zeros((h, w, 1), np.float32)}
        self.age, self.due = 0.0, True

    def reset(self) -> None:
        """A new episode: the next read draws a new frame."""
        self.age, self.due = 0.0, True

    def advance(self) -> None:
        """One control step has passed (the sensor's `update`)."""
        self.age += self.step_dt
        if self.age >= self.spec.update_period - 1.0e-6:
            self.age, self.due = 0.0, True

    def frames(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        """Copies of the camera's current frames, drawn now from `data` if a new one is due."""
        if self.due or self.spec.update_period <= 0.0:
            self.due = False
            self._draw(data)
        return {k: v.copy() for k, v in self.held.items() if getattr(self.spec, k)}

    def _draw(self, data: mujoco.MjData) -> None:
        model, scratch = self.model, self.scratch
        mujoco.mj_getState(model, data, self.state, STATE)
        mujoco.mj_setState(model, scratch, self.state, STATE)
        mujoco.mj_kinematics(model, scratch)
        mujoco.mj_comPos(model, scratch)
        mujoco.mj_camlight(model, scratch)
        self.renderer.update_scene(scratch, camera=self.camera_id)
        if self.spec.rgb:
            self.renderer.render(out=self.held["rgb"])
        if self.spec.depth:
            depth = self.held["depth"]
            self.renderer.enable_depth_rendering()
            self.renderer.render(out=depth[:, :, 0])
            self.renderer.disable_depth_rendering()
            depth[depth >= self.far] = 0.0

    def close(self) -> None:
        self.renderer.close()


def _open_renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    """An off-screen renderer; one clear error when no OpenGL platform works."""
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as err:
        raise UserInputError(
            f"The policy sees camera images; rendering them needs off-screen OpenGL (MUJOCO_GL="
            f"{os.environ.get('MUJOCO_GL')}: {err}): install libegl1 and libgl1-mesa-dri (or libosmesa6 with "
            "MUJOCO_GL=osmesa)."
        ) from None
