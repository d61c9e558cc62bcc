"""KUKA LBR iiwa 14 R820 asset config, with actuator groups for position, velocity or torque control."""

from __future__ import annotations

from roboforge.assets import ArticulationCfg
from roboforge.assets.builtin.kuka import IIWA14, iiwa14_spec
from roboforge.assets.robots.serial_arm import ArmDriveGains, serial_arm_cfg
from roboforge.assets.robots.universal_robots import ArmDrive

# Flange pointing down 0.55 m in front of the base, 0.4 m up.
IIWA14_DEFAULT_JOINT_POS = (0.0, 0.51, 0.0, -1.59, 0.0, 1.04, 0.0)
IIWA14_GAINS = ArmDriveGains(
    stiffness=(2000.0,) * 4 + (500.0,) * 3,
    damping=(150.0,) * 4 + (25.0,) * 3,
    armature=(0.1,) * 7,
    torque_damping=5.0,
)


def iiwa14_cfg(drive: ArmDrive = "position") -> ArticulationCfg:
    """LBR iiwa 14, gravity compensated; "position": implicit PD (kp 2000 / 500, kd 150 / 25 on A1-A4 /
    A5-A7), "velocity": implicit velocity drive, "torque": raw torques."""
    return serial_arm_cfg(IIWA14, iiwa14_spec, IIWA14_GAINS, IIWA14_DEFAULT_JOINT_POS, drive)
