"""Asset configs, actuator models and model sources."""

from roboforge.assets.actuators import ActuatorCfg, IdealPDActuatorCfg, ImplicitActuatorCfg
from roboforge.assets.articulation import ArticulationCfg, EntityCfg, InitialStateCfg, RigidObjectCfg
from roboforge.assets.sources import AssetError, BuiltinSpawnCfg, FileSpawnCfg, MenagerieSpawnCfg

__all__ = [
    "ActuatorCfg",
    "ArticulationCfg",
    "AssetError",
    "BuiltinSpawnCfg",
    "EntityCfg",
    "FileSpawnCfg",
    "IdealPDActuatorCfg",
    "ImplicitActuatorCfg",
    "InitialStateCfg",
    "MenagerieSpawnCfg",
    "RigidObjectCfg",
]
