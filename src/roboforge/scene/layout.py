"""One entity's names, resolved once: what spec building adds and what the runtime entity reads.

`entity_layout` reads the entity's own spec (before it is attached under its name prefix): its named
bodies, its hinge/slide joints, whether its root is a free joint, and which joints each actuator group
drives. `entity_spec` adds exactly those actuators and the bodies' tracking sensors; the runtime `Entity`
looks the same names up in the compiled model (ids, qpos/qvel addresses, `sensordata` columns), so the
two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import torch

from roboforge.assets.actuators import ActuatorCfg, check_actuator_cfg, resolve_joints
from roboforge.assets.articulation import ArticulationCfg, EntityCfg
from roboforge.assets.deformable import DeformableObjectCfg
from roboforge.sensors.base import prefixed, sensor_columns
from roboforge.utils.config import ConfigError

TRACK_PREFIX = "_rf_"  # sensors the scene adds to track body poses and velocities
TRACK_SENSORS = {
    "pos": mujoco.mjtSensor.mjSENS_FRAMEPOS,
    "quat": mujoco.mjtSensor.mjSENS_FRAMEQUAT,
    "linvel": mujoco.mjtSensor.mjSENS_FRAMELINVEL,
    "angvel": mujoco.mjtSensor.mjSENS_FRAMEANGVEL,
}
_MOVING = (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)


@dataclass(frozen=True)
class ActuatorLayout:
    """One actuator group and the joints it drives (a joint belongs to the first group matching it)."""

    name: str
    cfg: ActuatorCfg
    joint_ids: list[int]
    """Indices into the entity's `joint_names`."""
    joint_names: list[str]
    """The group's joints; its MuJoCo actuators are named after them."""


@dataclass(frozen=True)
class EntityLayout:
    """The names of one entity's elements, without the entity prefix (see module docstring)."""

    name: str
    floating: bool
    """The root body has a free joint (the entity's root); else the root is the attachment frame."""
    body_names: list[str]
    """Named bodies in model order, the root first; each has tracking sensors."""
    joint_names: list[str]
    """Hinge and slide joints of those bodies in model order: the entity's joints."""
    actuators: list[ActuatorLayout]
    """Actuator groups in config order (articulations only)."""

    @property
    def prefix(self) -> str:
        """The entity's name prefix in the scene ('robot/')."""
        return prefixed(self.name, "")

    def scoped(self, name: str) -> str:
        """The scene-wide name of one of the entity's elements ('FR_calf' -> 'robot/FR_calf')."""
        return prefixed(self.name, name)

    @staticmethod
    def tracking_sensor(kind: str, body: str) -> str:
        """The entity-local name of `body`'s tracking sensor of `kind` (a key of TRACK_SENSORS)."""
        return f"{TRACK_PREFIX}{kind}:{body}"

    # lookups in the compiled scene model ---------------------------------------------------------
    def body_ids(self, model: mujoco.MjModel) -> list[int]:
        return [model.body(self.scoped(b)).id for b in self.body_names]

    def joint_ids(self, model: mujoco.MjModel) -> list[int]:
        return [model.joint(self.scoped(j)).id for j in self.joint_names]

    def root_joint_id(self, model: mujoco.MjModel) -> int | None:
        """The free joint of a floating base's root body; None for a fixed base."""
        if not self.floating:
            return None
        root = model.body(self.scoped(self.body_names[0]))
        adr = int(root.jntadr[0])
        free = mujoco.mjtJoint.mjJNT_FREE.value
        return next(j for j in range(adr, adr + int(root.jntnum[0])) if int(model.jnt_type[j]) == free)

    def actuator_ids(self, model: mujoco.MjModel, group: ActuatorLayout) -> list[int]:
        return [model.actuator(self.scoped(j)).id for j in group.joint_names]

    def tracking_columns(self, model: mujoco.MjModel, kind: str, device) -> torch.Tensor:
        """`sensordata` columns of every body's `kind` tracking sensor, body after body."""
        return sensor_columns(
            model, [self.scoped(self.tracking_sensor(kind, b)) for b in self.body_names], device
        )


def entity_layout(name: str, cfg: EntityCfg, spec: mujoco.MjSpec) -> EntityLayout:
    """The layout of entity `name` from its own spec (sites added, before it is attached)."""
    if isinstance(
        cfg, DeformableObjectCfg
    ):  # no named joints or tracked bodies: scene/deformable.py reads its nodes
        return EntityLayout(name=name, floating=False, body_names=[], joint_names=[], actuators=[])
    root = spec.worldbody.first_body()
    floating = root is not None and any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in root.joints)
    if root is not None and floating and not root.name:
        raise ConfigError(f"Entity {name!r}: the root body of a floating base needs a name.")
    bodies = [b for b in spec.bodies[1:] if b.name]
    joints = [j.name for b in bodies for j in b.joints if j.type in _MOVING]
    actuators: list[ActuatorLayout] = []
    if isinstance(cfg, ArticulationCfg):
        claimed: set[str] = set()
        for group_name, group in cfg.actuators.items():
            what = f"Entity {name!r}: actuators[{group_name!r}]"
            check_actuator_cfg(group, what)
            ids = resolve_joints(group.joint_names_expr, joints, f"{what}.joint_names_expr")
            ids = [i for i in ids if joints[i] not in claimed]
            names = [joints[i] for i in ids]
            claimed.update(names)
            actuators.append(ActuatorLayout(name=group_name, cfg=group, joint_ids=ids, joint_names=names))
    return EntityLayout(
        name=name,
        floating=floating,
        body_names=[b.name for b in bodies],
        joint_names=joints,
        actuators=actuators,
    )
