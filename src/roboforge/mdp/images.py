"""Image observation terms `(env, **params) -> (num_envs, C, H, W)` float, read from a camera sensor.

Channels come first, as convolutional encoders take them (rsl_rl's `CNNModel`). An observation group of image
terms concatenates them on channels; a term's `history_length` stacks past frames on channels too (two frames
show velocities). The term config's noise, clip and scale apply element-wise after these functions.
"""

from __future__ import annotations

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.sensors.camera import CameraSensor
from roboforge.utils.config import ConfigError


def camera_sensor(env: TermEnv, sensor_name: str) -> CameraSensor:
    """The scene's camera sensor `sensor_name`; one clear error when there is none of that name."""
    sensor = env.scene.sensors.get(sensor_name)
    if not isinstance(sensor, CameraSensor):
        cameras = [n for n, s in env.scene.sensors.items() if isinstance(s, CameraSensor)]
        raise ConfigError(
            f"Image term: no camera sensor {sensor_name!r} in the scene. Cameras: {', '.join(cameras) or '(none)'}."
        )
    return sensor


def image_rgb(env: TermEnv, sensor_name: str = "camera", mean_subtract: bool = False) -> torch.Tensor:
    """Colour `(num_envs, 3, H, W)` in [0, 1]; with `mean_subtract`, minus each image's per-channel mean (as
    Isaac Lab's camera cart-pole feeds its network)."""
    rgb = camera_sensor(env, sensor_name).data.rgb
    if rgb is None:
        raise ConfigError(
            f"Image term image_rgb: camera {sensor_name!r} renders no colour; set its rgb=True."
        )
    image = rgb.permute(0, 3, 1, 2).float() / 255.0
    if mean_subtract:
        image = image - image.mean(dim=(2, 3), keepdim=True)
    return image


def image_depth(env: TermEnv, sensor_name: str = "camera", max_distance: float = 10.0) -> torch.Tensor:
    """Depth `(num_envs, 1, H, W)` as a fraction of `max_distance` (m), in [0, 1]: farther points and pixels that
    hit nothing read 1."""
    depth = camera_sensor(env, sensor_name).data.depth
    if depth is None:
        raise ConfigError(
            f"Image term image_depth: camera {sensor_name!r} renders no depth; set its depth=True."
        )
    if max_distance <= 0.0:
        raise ConfigError(f"Image term image_depth: max_distance {max_distance} must be > 0 (metres).")
    depth = depth.permute(0, 3, 1, 2)
    depth = torch.where(depth > 0.0, depth, max_distance)
    return depth.clamp(max=max_distance) / max_distance
