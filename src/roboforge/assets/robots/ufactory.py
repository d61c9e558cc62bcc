"""UFACTORY xArm 6 asset config, with actuator groups for position, velocity or torque control."""

from __future__ import annotations

from roboforge.assets import ArticulationCfg
from roboforge.assets.builtin.ufactory import XARM6, xarm6_spec
from roboforge.assets.robots.serial_arm import ArmDriveGains, serial_arm_cfg
from roboforge.assets.robots.universal_robots import ArmDrive

# Tool pointing down 0.4 m in front of the base, 0.3 m up.
XARM6_DEFAULT_JOINT_POS = (0.0, -0.15, -0.73, 0.0, 0.88, 0.0)
XARM6_GAINS = ArmDriveGains(
    stiffness=(1000.0,) * 3 + (250.0,) * 3,
    damping=(50.0,) * 3 + (10.0,) * 3,
    armature=(0.1,) * 3 + (0.05,) * 3,
)


def xarm6_cfg(drive: ArmDrive = "position") -> ArticulationCfg:
    """xArm 6, gravity compensated; "position": implicit PD (kp 1000 / 250, kd 50 / 10 on joints 1-3 /
    4-6), "velocity": implicit velocity drive, "torque": raw torques."""
    return serial_arm_cfg(XARM6, xarm6_spec, XARM6_GAINS, XARM6_DEFAULT_JOINT_POS, drive)
