"""Contact sensor: net contact force on bodies or geoms, and air/contact timers (feet).

One MuJoCo `contact` sensor per matched body or geom, reduced to the net force of all its contacts
(`data="found force"`, `reduce="netforce"`), in the global frame. MuJoCo Warp supports the same sensor,
so both backends fill `sensordata` identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import mujoco
import torch

from roboforge.sensors.base import Sensor, SensorCfg, prefixed, sensor_columns, unprefixed_names
from roboforge.utils.config import ConfigError, compile_regexes

NETFORCE_REDUCTION = 3  # MuJoCo contact sensor `reduce="netforce"`: one net force over all contacts

if TYPE_CHECKING:
    from roboforge.sim.simulator import Simulator


@dataclass(kw_only=True)
class ContactSensorCfg(SensorCfg):
    """Contacts of an entity's bodies (`body_names`) or geoms (`geom_names`): give exactly one."""

    body_names: list[str] = field(default_factory=list)
    """Regexes (full match) of bodies; a body's contact force sums all its geoms' contacts."""
    geom_names: list[str] = field(default_factory=list)
    """Regexes (full match) of geoms, e.g. the feet of a robot whose feet are geoms of the calf."""
    force_threshold: float = 1.0
    """Net force (N) above which an element counts as in contact."""
    track_air_time: bool = True
    """Keep air/contact timers (for feet air-time rewards)."""
    other_geom: str | None = None
    """Count only contacts against this geom, by its scene-wide name (`"ground"`, the plane of a scene without
    terrain, or an entity's geom as `"cube_a/cube"`): e.g. a palm pressing on an object. None: all contacts."""

    def _kind(self) -> tuple[list[str], mujoco.mjtObj]:
        if bool(self.body_names) == bool(self.geom_names):
            raise ConfigError("ContactSensorCfg: give exactly one of body_names or geom_names.")
        if self.body_names:
            return self.body_names, mujoco.mjtObj.mjOBJ_BODY
        return self.geom_names, mujoco.mjtObj.mjOBJ_GEOM

    def matched_names(self, spec: mujoco.MjSpec) -> list[str]:
        """Unprefixed names of the elements the regexes match, in model order."""
        patterns, objtype = self._kind()
        elements = spec.bodies if objtype == mujoco.mjtObj.mjOBJ_BODY else spec.geoms
        names = [n for n in unprefixed_names(spec, elements, self.entity_name) if n]
        field = "body_names" if objtype == mujoco.mjtObj.mjOBJ_BODY else "geom_names"
        compiled = compile_regexes(patterns, f"ContactSensorCfg.{field}")
        matched = [n for n in names if any(p.fullmatch(n) for p in compiled)]
        if not matched:
            kind = "bodies" if objtype == mujoco.mjtObj.mjOBJ_BODY else "geoms"
            raise ConfigError(
                f"ContactSensorCfg: {patterns} match no {kind} of entity {self.entity_name!r}. "
                f"Named {kind}: {', '.join(names) or '(none)'}."
            )
        return matched

    def add_to_spec(self, spec: mujoco.MjSpec, name: str) -> None:
        _, objtype = self._kind()
        fields = (mujoco.mjtConDataField.mjCONDATA_FOUND, mujoco.mjtConDataField.mjCONDATA_FORCE)
        dataspec = sum(1 << int(f) for f in fields)
        other = {}
        if self.other_geom is not None:
            if spec.geom(self.other_geom) is None:
                raise ConfigError(
                    f"ContactSensorCfg.other_geom: the scene has no geom {self.other_geom!r}; give a scene-wide "
                    "geom name such as 'ground' or 'cube_a/cube' (entity/geom), or None for all contacts."
                )
            other = {"reftype": mujoco.mjtObj.mjOBJ_GEOM, "refname": self.other_geom}
        for element in self.matched_names(spec):
            spec.add_sensor(
                name=f"{name}:{element}",
                type=mujoco.mjtSensor.mjSENS_CONTACT,
                objtype=objtype,
                objname=prefixed(self.entity_name, element),
                intprm=[dataspec, NETFORCE_REDUCTION, 1],
                **other,
            )

    def build(self, name: str, model: mujoco.MjModel, sim: Simulator) -> ContactSensor:
        return ContactSensor(name, self, model, sim)


@dataclass
class ContactSensorData:
    """Buffers `(num_envs, num_elements)` of a contact sensor (forces: `(..., 3)`, world frame)."""

    net_force_w: torch.Tensor
    in_contact: torch.Tensor
    current_air_time: torch.Tensor
    current_contact_time: torch.Tensor
    last_air_time: torch.Tensor
    last_contact_time: torch.Tensor


class ContactSensor(Sensor):
    """Net contact forces and air/contact timers of the matched bodies or geoms."""

    def __init__(self, name: str, cfg: ContactSensorCfg, model: mujoco.MjModel, sim: Simulator):
        self.cfg = cfg
        self.sim = sim
        prefix = f"{name}:"
        names = [model.sensor(i).name for i in range(model.nsensor)]
        self.body_names = [n[len(prefix) :] for n in names if n.startswith(prefix)]
        cols = sensor_columns(model, [prefix + n for n in self.body_names], sim.device).view(-1, 4)
        self._found_cols, self._force_cols = cols[:, 0], cols[:, 1:].reshape(-1)
        self._index_cache: dict[tuple[str, ...], torch.Tensor] = {}
        shape = (sim.num_worlds, len(self.body_names))
        zeros = lambda: torch.zeros(shape, device=sim.device)  # noqa: E731
        self.data = ContactSensorData(
            net_force_w=torch.zeros(*shape, 3, device=sim.device),
            in_contact=torch.zeros(shape, dtype=torch.bool, device=sim.device),
            current_air_time=zeros(),
            current_contact_time=zeros(),
            last_air_time=zeros(),
            last_contact_time=zeros(),
        )

    @property
    def num_bodies(self) -> int:
        return len(self.body_names)

    def body_index(self, patterns: list[str] | str | None) -> torch.Tensor | slice:
        """Index (tensor on the sensor's device, built once per patterns) of the matching elements; None: all."""
        if patterns is None:
            return slice(None)
        key = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        if key not in self._index_cache:
            self._index_cache[key] = torch.tensor(
                self.find_bodies(list(key)), dtype=torch.long, device=self.sim.device
            )
        return self._index_cache[key]

    def find_bodies(self, patterns: list[str] | str) -> list[int]:
        """Indices (sensor order) of the elements whose names fully match any regex."""
        patterns = [patterns] if isinstance(patterns, str) else patterns
        compiled = compile_regexes(patterns, "Contact sensor body names")
        ids = [i for i, n in enumerate(self.body_names) if any(p.fullmatch(n) for p in compiled)]
        if not ids:
            raise ConfigError(f"Contact sensor: {patterns} match none of {', '.join(self.body_names)}.")
        return ids

    def update(self, dt: float) -> None:
        d = self.data
        force = self.sim.sensordata[:, self._force_cols].float().view(-1, self.num_bodies, 3)
        # A `found` of 0 leaves stale force columns in MuJoCo; zero them.
        found = self.sim.sensordata[:, self._found_cols] > 0
        d.net_force_w[:] = force * found[..., None]
        in_contact = d.net_force_w.norm(dim=-1) > self.cfg.force_threshold
        d.in_contact[:] = in_contact
        if not self.cfg.track_air_time:
            return
        touched_down = in_contact & (d.current_air_time > 0)
        lifted_off = ~in_contact & (d.current_contact_time > 0)
        d.last_air_time[:] = torch.where(touched_down, d.current_air_time + dt, d.last_air_time)
        d.last_contact_time[:] = torch.where(lifted_off, d.current_contact_time + dt, d.last_contact_time)
        d.current_air_time[:] = torch.where(in_contact, 0.0, d.current_air_time + dt)
        d.current_contact_time[:] = torch.where(in_contact, d.current_contact_time + dt, 0.0)

    def compute_first_contact(self, dt: float, eps: float = 1.0e-8) -> torch.Tensor:
        """Elements `(num_envs, n)` that touched down within the last `dt` seconds."""
        t = self.data.current_contact_time
        return (t > 0.0) & (t < dt + eps)

    def compute_first_air(self, dt: float, eps: float = 1.0e-8) -> torch.Tensor:
        """Elements `(num_envs, n)` that lifted off within the last `dt` seconds."""
        t = self.data.current_air_time
        return (t > 0.0) & (t < dt + eps)

    def reset(self, mask: torch.Tensor) -> None:
        m = mask[:, None]
        d = self.data
        for buf in (d.current_air_time, d.current_contact_time, d.last_air_time, d.last_contact_time):
            buf.masked_fill_(m, 0.0)
        d.in_contact.masked_fill_(m, False)
        d.net_force_w.masked_fill_(m[..., None], 0.0)
