"""IMU: angular velocity, linear acceleration and orientation of a site, in the site's frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import torch

from roboforge.sensors.base import Sensor, SensorCfg, prefixed, sensor_columns
from roboforge.utils.config import ConfigError
from roboforge.utils.math import quat_apply_inverse

if TYPE_CHECKING:
    from roboforge.sim.simulator import Simulator

_KINDS = {
    "gyro": mujoco.mjtSensor.mjSENS_GYRO,
    "accelerometer": mujoco.mjtSensor.mjSENS_ACCELEROMETER,
    "quat": mujoco.mjtSensor.mjSENS_FRAMEQUAT,
}


@dataclass(kw_only=True)
class ImuCfg(SensorCfg):
    """An IMU at an existing site of the entity, or at a new site on a body (`body_name` + `offset`)."""

    site_name: str | None = None
    """Existing site to mount on (e.g. Go1's 'imu')."""
    body_name: str | None = None
    """Body to mount a new site on, when `site_name` is None."""
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Position (m) of the new site in the body frame."""

    def _site(self, spec: mujoco.MjSpec, name: str) -> str:
        if self.site_name is not None:
            if spec.site(prefixed(self.entity_name, self.site_name)) is None:
                sites = [s.name for s in spec.sites if s.name.startswith(f"{self.entity_name}/")]
                raise ConfigError(
                    f"ImuCfg: no site {self.site_name!r}. Sites: {', '.join(sites) or '(none)'}."
                )
            return prefixed(self.entity_name, self.site_name)
        if self.body_name is None:
            raise ConfigError("ImuCfg: give site_name (an existing site) or body_name (to add one).")
        body = spec.body(prefixed(self.entity_name, self.body_name))
        if body is None:
            raise ConfigError(f"ImuCfg: entity {self.entity_name!r} has no body {self.body_name!r}.")
        site = f"{name}:site"
        body.add_site(name=site, pos=list(self.offset))
        return site

    def add_to_spec(self, spec: mujoco.MjSpec, name: str) -> None:
        site = self._site(spec, name)
        for kind, sensor_type in _KINDS.items():
            spec.add_sensor(
                name=f"{name}:{kind}", type=sensor_type, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=site
            )

    def build(self, name: str, model: mujoco.MjModel, sim: Simulator) -> Imu:
        return Imu(name, model, sim)


class Imu(Sensor):
    """Reads gyro, accelerometer and orientation; views, so no buffers to update."""

    def __init__(self, name: str, model: mujoco.MjModel, sim: Simulator):
        self.sim = sim
        self._cols = {kind: sensor_columns(model, [f"{name}:{kind}"], sim.device) for kind in _KINDS}
        self._gravity_w = torch.tensor([0.0, 0.0, -1.0], device=sim.device)

    @property
    def ang_vel_b(self) -> torch.Tensor:
        """Angular velocity `(num_envs, 3)` (rad/s), sensor frame."""
        return self.sim.sensordata[:, self._cols["gyro"]].float()

    @property
    def lin_acc_b(self) -> torch.Tensor:
        """Proper linear acceleration `(num_envs, 3)` (m/s^2; +9.81 up at rest), sensor frame."""
        return self.sim.sensordata[:, self._cols["accelerometer"]].float()

    @property
    def quat_w(self) -> torch.Tensor:
        """Sensor orientation `(num_envs, 4)` (w, x, y, z), world frame."""
        return self.sim.sensordata[:, self._cols["quat"]].float()

    @property
    def projected_gravity_b(self) -> torch.Tensor:
        """Unit gravity direction `(num_envs, 3)` in the sensor frame."""
        return quat_apply_inverse(self.quat_w, self._gravity_w.expand(self.sim.num_worlds, 3))
