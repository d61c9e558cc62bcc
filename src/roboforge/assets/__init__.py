"""Asset configs, actuator models and model sources."""

from roboforge.assets.actuators import (
    ActuatorCfg,
    DCMotorActuatorCfg,
    IdealPDActuatorCfg,
    ImplicitActuatorCfg,
)
from roboforge.assets.articulation import ArticulationCfg, EntityCfg, InitialStateCfg, RigidObjectCfg
from roboforge.assets.deformable import DeformableObjectCfg
from roboforge.assets.sources import AssetError, BuiltinSpawnCfg, FileSpawnCfg, MenagerieSpawnCfg

__all__ = [
    "ActuatorCfg",
    "ArticulationCfg",
    "AssetError",
    "BuiltinSpawnCfg",
    "DCMotorActuatorCfg",
    "DeformableObjectCfg",
    "EntityCfg",
    "FileSpawnCfg",
    "IdealPDActuatorCfg",
    "ImplicitActuatorCfg",
    "InitialStateCfg",
    "MenagerieSpawnCfg",
    "RigidObjectCfg",
]
