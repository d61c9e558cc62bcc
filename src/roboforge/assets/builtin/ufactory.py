"""UFACTORY xArm 6, built from UFACTORY's published description.

Sources:
- Joint origins (the default kinematics), joint limits, peak torques (joints 1-2: 50 N m, 3-5: 32 N m,
  6: 20 N m), link masses and centres of mass (the default inertial set, `xarm6_type6_HT_BR2`):
  UFACTORY's `xarm_ros` / `xarm_description` (`urdf/xarm6`, `config/kinematics`, `config/link_inertial`).
- Joint speed limit 180 deg/s on every joint: the xArm 6 user manual's specifications.
The flange frame `link_eef` is link 6's frame (z out of the flange). The user manual's modified DH
table describes the same chain (a test checks one against the other). Inertias are approximations
(see `serial_arm`).
"""

from __future__ import annotations

import math

import mujoco

from roboforge.assets.builtin.serial_arm import JointOrigin, SerialArmParams, serial_arm_spec

HALF_PI = math.pi / 2
TWO_PI = 2 * math.pi

XARM6 = SerialArmParams(
    name="xarm6",
    base="link_base",
    joints=tuple(f"joint{i}" for i in range(1, 7)),
    links=tuple(f"link{i}" for i in range(1, 7)),
    origins=(
        JointOrigin((0.0, 0.0, 0.267)),
        JointOrigin((0.0, 0.0, 0.0), (-HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0535, -0.2845, 0.0)),
        JointOrigin((0.0775, 0.3425, 0.0), (-HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, 0.0, 0.0), (HALF_PI, 0.0, 0.0)),
        JointOrigin((0.076, 0.097, 0.0), (-HALF_PI, 0.0, 0.0)),
    ),
    ranges=(
        (-TWO_PI, TWO_PI),
        (-2.059, 2.0944),
        (-3.927, 0.19198),
        (-TWO_PI, TWO_PI),
        (-1.69297, math.pi),
        (-TWO_PI, TWO_PI),
    ),
    mass=(2.3814, 2.2675, 1.875, 1.3192, 1.33854, 0.17),
    com=(
        (0.00022, 0.02951, -0.0124),
        (0.03881, -0.22783, 0.03496),
        (0.07041, 0.11631, 0.0107),
        (-0.00018, 0.01798, -0.02291),
        (0.0651, 0.03096, 0.00315),
        (0.0, -0.00677, -0.01098),
    ),
    radius=(0.05, 0.045, 0.045, 0.04, 0.04, 0.035),
    effort_limit=(50.0, 50.0, 32.0, 32.0, 32.0, 20.0),
    velocity_limit=(math.pi,) * 6,
    ee="link_eef",
    ee_origin=JointOrigin((0.0, 0.0, 0.0)),
    base_mass=2.7,
)


def xarm6_spec() -> mujoco.MjSpec:
    """UFACTORY xArm 6 (700 mm reach, 5 kg payload) on a fixed base."""
    return serial_arm_spec(XARM6)
