"""Standalone deployment runtime: ONNX Runtime policy, observations from metadata, safety layer,
robot adapters (MuJoCo sim-to-sim, network example). Imports neither torch nor roboforge's training code.

Names are imported on first use, so the `roboforge` command line starts without loading MuJoCo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roboforge.utils.lazy import lazy_getattr

if TYPE_CHECKING:
    from roboforge.deploy.metadata import MetadataError, PolicyMetadata, load_metadata
    from roboforge.deploy.mujoco_robot import MujocoSimRobot
    from roboforge.deploy.observations import register_observation_term, supported_terms
    from roboforge.deploy.robot import JointCommand, Robot, RobotState
    from roboforge.deploy.runner import PolicyRunner
    from roboforge.deploy.safety import SafetyCfg

_HOME = {
    "JointCommand": "roboforge.deploy.robot",
    "MetadataError": "roboforge.deploy.metadata",
    "MujocoSimRobot": "roboforge.deploy.mujoco_robot",
    "PolicyMetadata": "roboforge.deploy.metadata",
    "PolicyRunner": "roboforge.deploy.runner",
    "Robot": "roboforge.deploy.robot",
    "RobotState": "roboforge.deploy.robot",
    "SafetyCfg": "roboforge.deploy.safety",
    "load_metadata": "roboforge.deploy.metadata",
    "register_observation_term": "roboforge.deploy.observations",
    "supported_terms": "roboforge.deploy.observations",
}
__all__ = [
    "JointCommand",
    "MetadataError",
    "MujocoSimRobot",
    "PolicyMetadata",
    "PolicyRunner",
    "Robot",
    "RobotState",
    "SafetyCfg",
    "load_metadata",
    "register_observation_term",
    "supported_terms",
]
__getattr__ = lazy_getattr(__name__, _HOME)
