"""Kinova Gen3 (7 joints) asset config, with actuator groups for position, velocity or torque control."""

from __future__ import annotations

import math

from roboforge.assets import ArticulationCfg
from roboforge.assets.builtin.kinova import GEN3, gen3_spec
from roboforge.assets.robots.serial_arm import ArmDriveGains, serial_arm_cfg
from roboforge.assets.robots.universal_robots import ArmDrive

# Tool pointing down 0.5 m in front of the base, 0.35 m up (the elbow as in Kinova's home pose).
GEN3_DEFAULT_JOINT_POS = (0.0, 0.53, math.pi, -1.46, 0.0, -1.15, 0.0)
GEN3_GAINS = ArmDriveGains(
    stiffness=(1000.0,) * 4 + (250.0,) * 3,
    damping=(50.0,) * 4 + (10.0,) * 3,
    armature=(0.1,) * 4 + (0.05,) * 3,
)


def kinova_gen3_cfg(drive: ArmDrive = "position") -> ArticulationCfg:
    """Kinova Gen3, gravity compensated; "position": implicit PD (kp 1000 / 250, kd 50 / 10 on the
    large / small actuators), "velocity": implicit velocity drive, "torque": raw torques."""
    return serial_arm_cfg(GEN3, gen3_spec, GEN3_GAINS, GEN3_DEFAULT_JOINT_POS, drive)
