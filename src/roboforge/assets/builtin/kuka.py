"""KUKA LBR iiwa 14 R820, built from KUKA's published kinematics and limits.

Sources:
- Joint origins (link lengths 360 / 420 / 400 / 126 mm from the base to the flange, as in KUKA's
  LBR iiwa 14 R820 specification drawing): `iiwa_stack`'s `iiwa_description/urdf/iiwa14.xacro`
  (IFL-CAMP); the flange frame is 45 mm past link 7's joint frame, z out of the flange.
- Joint limits (A1, A3, A5: +-170 deg; A2, A4, A6: +-120 deg; A7: +-175 deg), peak torques
  (320, 320, 176, 176, 110, 40, 40 N m) and speeds (85, 85, 100, 75, 130, 135, 135 deg/s): KUKA's
  LBR iiwa brochure / specification (the table Drake's `iiwa_description` README quotes).
- Link masses and centres of mass: Drake's `iiwa14` model as packaged in MuJoCo Menagerie
  (`kuka_iiwa_14`), 30.6 kg with the base, against KUKA's 29.9 kg.
The zero pose is the arm pointing straight up. Inertias are approximations (see `serial_arm`).
"""

from __future__ import annotations

import math

import mujoco

from roboforge.assets.builtin.serial_arm import JointOrigin, SerialArmParams, serial_arm_spec

HALF_PI = math.pi / 2


def _sym(deg: float) -> tuple[float, float]:
    return (-math.radians(deg), math.radians(deg))


IIWA14 = SerialArmParams(
    name="iiwa14",
    base="link_0",
    joints=tuple(f"joint_a{i}" for i in range(1, 8)),
    links=tuple(f"link_{i}" for i in range(1, 8)),
    origins=(
        JointOrigin((0.0, 0.0, 0.1575)),
        JointOrigin((0.0, 0.0, 0.2025), (HALF_PI, 0.0, math.pi)),
        JointOrigin((0.0, 0.2045, 0.0), (HALF_PI, 0.0, math.pi)),
        JointOrigin((0.0, 0.0, 0.2155), (HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, 0.1845, 0.0), (-HALF_PI, math.pi, 0.0)),
        JointOrigin((0.0, 0.0, 0.2155), (HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, 0.081, 0.0), (-HALF_PI, math.pi, 0.0)),
    ),
    ranges=(_sym(170), _sym(120), _sym(170), _sym(120), _sym(170), _sym(120), _sym(175)),
    mass=(5.76, 6.35, 3.5, 3.5, 3.5, 1.8, 1.2),
    com=(
        (0.0, -0.03, 0.12),
        (0.0003, 0.059, 0.042),
        (0.0, 0.03, 0.13),
        (0.0, 0.067, 0.034),
        (0.0001, 0.021, 0.076),
        (0.0, 0.0006, 0.0004),
        (0.0, 0.0, 0.02),
    ),
    radius=(0.075, 0.07, 0.065, 0.065, 0.06, 0.055, 0.045),
    effort_limit=(320.0, 320.0, 176.0, 176.0, 110.0, 40.0, 40.0),
    velocity_limit=tuple(math.radians(v) for v in (85, 85, 100, 75, 130, 135, 135)),
    ee="flange",
    ee_origin=JointOrigin((0.0, 0.0, 0.045)),
    base_mass=5.0,
    base_radius=0.09,
)


def iiwa14_spec() -> mujoco.MjSpec:
    """KUKA LBR iiwa 14 R820 (820 mm reach, 14 kg payload) on a fixed base."""
    return serial_arm_spec(IIWA14)
