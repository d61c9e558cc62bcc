"""Sensor configs and runtimes: a config adds MuJoCo sensors to the scene spec; its runtime reads them.

Every runtime reads the simulator's `sensordata` through column indices resolved once, updates its
buffers with torch ops only (no host sync), and resets by world mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import torch

if TYPE_CHECKING:
    from roboforge.sim.simulator import Simulator


@dataclass(kw_only=True)
class SensorCfg:
    """Base of sensor configs: what it measures on which entity."""

    entity_name: str = "robot"
    """Entity the sensor is mounted on."""

    def add_to_spec(self, spec: mujoco.MjSpec, name: str) -> None:
        """Add the MuJoCo sensors this sensor reads (names start with `name`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement add_to_spec().")

    def build(self, name: str, model: mujoco.MjModel, sim: Simulator) -> Sensor:
        """The runtime sensor bound to `sim` (`model`: the compiled scene, to find its columns)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build().")


class Sensor:
    """Runtime sensor: `update(dt)` once per env step after physics, `reset(mask)` on episode resets."""

    def update(self, dt: float) -> None:
        """Refresh the sensor's buffers from the latest physics state."""

    def reset(self, mask: torch.Tensor) -> None:
        """Clear per-episode buffers in the worlds selected by `mask (num_envs,)`."""


def prefixed(entity_name: str, name: str) -> str:
    """The scene-wide name of an entity's element ('robot' + 'FR_calf' -> 'robot/FR_calf')."""
    return f"{entity_name}/{name}"


def sensor_columns(model: mujoco.MjModel, names: list[str], device) -> torch.Tensor:
    """Indices into `sensordata` of the named MuJoCo sensors, concatenated in order."""
    cols: list[int] = []
    for name in names:
        sensor = model.sensor(name)
        cols.extend(range(int(sensor.adr[0]), int(sensor.adr[0]) + int(sensor.dim[0])))
    return torch.tensor(cols, dtype=torch.long, device=device)


def unprefixed_names(spec: mujoco.MjSpec, elements, entity_name: str) -> list[str]:
    """Names of an entity's elements (bodies, geoms, sites) in `spec`, with the entity prefix removed."""
    prefix = f"{entity_name}/"
    return [e.name[len(prefix) :] for e in elements if e.name.startswith(prefix)]
