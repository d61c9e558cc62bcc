"""Standalone deployment runtime: ONNX Runtime policy, observations from metadata, safety layer,
robot adapters (MuJoCo sim-to-sim, network example). Imports neither torch nor roboforge's training code."""

from roboforge.deploy.metadata import MetadataError, PolicyMetadata, load_metadata
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.observations import register_observation_term, supported_terms
from roboforge.deploy.robot import JointCommand, Robot, RobotState
from roboforge.deploy.runner import PolicyRunner
from roboforge.deploy.safety import SafetyCfg

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
