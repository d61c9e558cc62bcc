"""Image observation terms `(env, **params) -> (num_envs, C, H, W)` float, read from a camera sensor.

Channels come first, as convolutional encoders take them (rsl_rl's `CNNModel`). An observation group of image
terms concatenates them on channels; a term's `history_length` stacks past frames on channels too (two frames
show velocities). The term config's noise, clip and scale apply element-wise after these functions.
`segmentation_mask` turns a camera's body ids into one 0/1 channel per named group of an entity's bodies.
"""

from __future__ import annotations

import torch

from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.sensors.camera import MAX_TOTAL_PIXELS, CameraSensor
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


def image_depth(
    env: TermEnv, sensor_name: str = "camera", max_distance: float = 10.0, mean_subtract: bool = False
) -> torch.Tensor:
    """Depth `(num_envs, 1, H, W)` as a fraction of `max_distance` (m), in [0, 1]: farther points and pixels that
    hit nothing read 1. With `mean_subtract`, minus each image's mean: a scene that fills few pixels is
    otherwise a near-constant image of ones, which the encoder's first layer sees as one large offset."""
    depth = camera_sensor(env, sensor_name).data.depth
    if depth is None:
        raise ConfigError(
            f"Image term image_depth: camera {sensor_name!r} renders no depth; set its depth=True."
        )
    if max_distance <= 0.0:
        raise ConfigError(f"Image term image_depth: max_distance {max_distance} must be > 0 (metres).")
    depth = depth.permute(0, 3, 1, 2)
    depth = torch.where(depth > 0.0, depth, max_distance).clamp(max=max_distance) / max_distance
    if mean_subtract:
        depth = depth - depth.mean(dim=(2, 3), keepdim=True)
    return depth


class segmentation_mask(ManagerTermBase):
    """Masks `(num_envs, k, H, W)` float 0/1: channel `c` is 1 where the pixel shows a body of `entity_name`
    matching the regex `body_names[c]` (full match; a regex may match several bodies: `[".*"]` is the whole
    entity). Reads the camera's `segmentation` (MjModel body ids)."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        p = self.params
        self.sensor = camera_sensor(env, p["sensor_name"])
        if not self.sensor.cfg.segmentation:
            raise ConfigError(
                f"Image term segmentation_mask: camera {p['sensor_name']!r} renders no segmentation; "
                "set its segmentation=True."
            )
        self.table = self._channel_table(env, p["entity_name"], list(p["body_names"]))

    def _channel_table(self, env: TermEnv, entity_name: str, body_names: list[str]) -> torch.Tensor:
        """`(nbody + 1, k)` float: row `b + 1` holds the channels body `b` lights (row 0: no body)."""
        height, width = self.sensor.image_shape
        channels = len(body_names)
        if channels == 0 or env.num_envs * height * width * channels > MAX_TOTAL_PIXELS:
            raise ConfigError(
                f"Image term segmentation_mask: {channels} masks of {env.num_envs} worlds of {width}x{height} "
                f"pixels; name 1 to {MAX_TOTAL_PIXELS // (env.num_envs * height * width)} body regexes."
            )
        entity = env.scene[entity_name]
        table = torch.zeros(env.scene.model.nbody + 1, channels)
        for channel, pattern in enumerate(body_names):
            ids, _ = entity.find_bodies(pattern)
            table[[entity.body_ids[i] + 1 for i in ids], channel] = 1.0
        return table.to(env.device)

    def __call__(
        self,
        env: TermEnv,
        sensor_name: str = "camera",
        entity_name: str = "robot",
        body_names: tuple[str, ...] = (".*",),
    ) -> torch.Tensor:
        ids = self.sensor.data.segmentation
        assert ids is not None  # checked in __init__
        return self.table[ids[..., 0].long() + 1].permute(0, 3, 1, 2)
