"""Cart-pole balanced from pixels ('cartpole-rgb', 'cartpole-depth'): Isaac Lab's camera cart-pole on MuJoCo.

The task is 'cartpole' (same dynamics, resets, rewards and terminations); the policy and the critic see only
the images of a fixed camera in front of the rail, the last two frames stacked on channels so that
velocities can be read. As in Isaac Lab's `CartpoleRGBCameraEnv` / `CartpoleDepthCameraEnv`, colour is
scaled to [0, 1] and mean-subtracted per image; depth is scaled by a maximum distance and mean-subtracted
too (without it, 200 iterations on one H200 never balanced: the images are ~99% background at 1.0).

The built-in cart-pole's pole is 8 cm thick: at 64 pixels across 7 m of rail one pixel is 11 cm, so most of
the time no pixel ray would hit it. The camera variant adds massless, contact-free visual geoms (a 20 cm
pole and a larger cart) to the same bodies; masses and inertias are unchanged.
"""

from __future__ import annotations

import math
from typing import Literal

import mujoco

from roboforge import mdp
from roboforge.assets import ArticulationCfg, BuiltinSpawnCfg
from roboforge.assets.builtin.cartpole import cartpole_spec
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import ObservationGroupCfg, ObservationTermCfg
from roboforge.sensors import CameraSensorCfg
from roboforge.tasks.cartpole.cartpole_env_cfg import cartpole_env_cfg
from roboforge.tasks.cartpole.robot import cartpole_robot_cfg

IMAGE_SIZE = 64
"""Width and height (pixels) of the camera image."""
CAMERA_POS = (0.0, -5.0, 2.5)
"""Camera position (m): 5 m in front of the rail (which runs along x at 2 m height)."""
CAMERA_QUAT = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)
"""Rotation of +90 degrees about x: the camera looks along +y with +z up in the image."""
CAMERA_FOVY = 70.0
"""Vertical (and, square, horizontal) field of view (degrees): about +-3.5 m of rail at 5 m."""
MAX_DEPTH = 10.0
"""Depth (m) that reads 1 in the depth observation; nothing in view is farther."""
FRAMES = 2
"""Frames stacked in the observation."""


def cartpole_camera_spec() -> mujoco.MjSpec:
    """The built-in cart-pole with thicker visual geoms on the cart and pole (no mass, no contacts)."""
    spec = cartpole_spec()
    visual = {"contype": 0, "conaffinity": 0, "density": 0.0}
    spec.body("pole").add_geom(
        name="pole_visual", type=mujoco.mjtGeom.mjGEOM_CAPSULE, fromto=[0, 0, 0, 0, 0, 1.25],
        size=[0.1, 0, 0], rgba=[0.9, 0.6, 0.2, 1], **visual,
    )  # fmt: skip
    spec.body("cart").add_geom(
        name="cart_visual", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.3, 0.15, 0.15],
        rgba=[0.2, 0.5, 0.8, 1], **visual,
    )  # fmt: skip
    return spec


def cartpole_camera_robot_cfg() -> ArticulationCfg:
    """The cart-pole asset with the camera-friendly visual geoms."""
    cfg = cartpole_robot_cfg()
    cfg.spawn = BuiltinSpawnCfg(builder=cartpole_camera_spec)
    return cfg


def camera_cfg(kind: Literal["rgb", "depth"], size: int = IMAGE_SIZE) -> CameraSensorCfg:
    """The fixed camera looking at the cart-pole."""
    return CameraSensorCfg(
        pos=CAMERA_POS, quat=CAMERA_QUAT, fovy=CAMERA_FOVY, width=size, height=size,
        rgb=kind == "rgb", depth=kind == "depth",
    )  # fmt: skip


def image_group(kind: Literal["rgb", "depth"]) -> ObservationGroupCfg:
    """The policy's observation: the last `FRAMES` images of the camera."""
    if kind == "rgb":
        term = ObservationTermCfg(func=mdp.image_rgb, params={"mean_subtract": True}, history_length=FRAMES)
    else:
        term = ObservationTermCfg(
            func=mdp.image_depth,
            params={"max_distance": MAX_DEPTH, "mean_subtract": True},
            history_length=FRAMES,
        )
    return ObservationGroupCfg(terms={kind: term})


def cartpole_camera_env_cfg(
    kind: Literal["rgb", "depth"], num_envs: int = 1024, play: bool = False
) -> ManagerBasedRLEnvCfg:
    """'cartpole' observed through a camera: `kind` 'rgb' (colour) or 'depth'."""
    cfg = cartpole_env_cfg(num_envs=num_envs, play=play)
    cfg.scene.entities["robot"] = cartpole_camera_robot_cfg()
    cfg.scene.sensors["camera"] = camera_cfg(kind)
    cfg.observations = {"policy": image_group(kind)}
    return cfg


def cartpole_rgb_env_cfg(num_envs: int = 1024, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Cart-pole balanced from 64x64 colour images."""
    return cartpole_camera_env_cfg("rgb", num_envs, play)


def cartpole_depth_env_cfg(num_envs: int = 1024, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Cart-pole balanced from 64x64 depth images."""
    return cartpole_camera_env_cfg("depth", num_envs, play)
