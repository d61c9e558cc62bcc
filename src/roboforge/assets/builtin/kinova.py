"""Kinova Gen3, 7 joints (no gripper), built from Kinova's published description.

Sources:
- Joint origins, link masses and centres of mass: Kinova's `kortex_description`
  (`arms/gen3/7dof/urdf`, ros2_kortex), the bracelet with the vision module; `end_effector_link`
  is the tool flange frame, 61.5 mm past the bracelet joint, z out of the tool.
- Joint limits (joints 2, 4, 6: +-128.9, +-147.8, +-120.3 deg; 1, 3, 5, 7 turn without limit): the
  Kinova Gen3 user guide's arm specifications (MuJoCo Menagerie's `kinova_gen3` uses the same).
- Peak torques (large actuators, joints 1-4: 39 N m; small, 5-7: 9 N m) and speeds (80 and 70 deg/s):
  the `<limit effort velocity>` of kortex_description's joints.
The zero pose is the arm pointing straight up; the user guide's DH table describes the same chain (a
test checks one against the other). Inertias are approximations (see `serial_arm`).
"""

from __future__ import annotations

import math

import mujoco

from roboforge.assets.builtin.serial_arm import JointOrigin, SerialArmParams, serial_arm_spec

HALF_PI = math.pi / 2
LARGE, SMALL = 39.0, 9.0
LARGE_SPEED, SMALL_SPEED = math.radians(80.0), math.radians(70.0)

GEN3 = SerialArmParams(
    name="kinova_gen3",
    base="base_link",
    joints=tuple(f"joint_{i}" for i in range(1, 8)),
    links=(
        "shoulder_link",
        "half_arm_1_link",
        "half_arm_2_link",
        "forearm_link",
        "spherical_wrist_1_link",
        "spherical_wrist_2_link",
        "bracelet_link",
    ),
    origins=(
        JointOrigin((0.0, 0.0, 0.15643), (math.pi, 0.0, 0.0)),
        JointOrigin((0.0, 0.005375, -0.12838), (HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, -0.21038, -0.006375), (-HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, 0.006375, -0.21038), (HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, -0.20843, -0.006375), (-HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, 0.00017505, -0.10593), (HALF_PI, 0.0, 0.0)),
        JointOrigin((0.0, -0.10593, -0.00017505), (-HALF_PI, 0.0, 0.0)),
    ),
    ranges=(
        None,
        (-math.radians(128.9), math.radians(128.9)),
        None,
        (-math.radians(147.8), math.radians(147.8)),
        None,
        (-math.radians(120.3), math.radians(120.3)),
        None,
    ),
    mass=(1.3773, 1.1636, 1.1636, 0.9302, 0.6781, 0.6781, 0.5),
    com=(
        (-2.3e-05, -0.010364, -0.07336),
        (-4.4e-05, -0.09958, -0.013278),
        (-4.4e-05, -0.006641, -0.117892),
        (-1.8e-05, -0.075478, -0.015006),
        (1e-06, -0.009432, -0.063883),
        (1e-06, -0.045483, -0.00965),
        (0.000281, 0.011402, -0.029798),
    ),
    radius=(0.05, 0.045, 0.045, 0.04, 0.035, 0.035, 0.035),
    effort_limit=(LARGE, LARGE, LARGE, LARGE, SMALL, SMALL, SMALL),
    velocity_limit=(LARGE_SPEED,) * 4 + (SMALL_SPEED,) * 3,
    ee="end_effector_link",
    ee_origin=JointOrigin((0.0, 0.0, -0.061525), (math.pi, 0.0, 0.0)),
    base_mass=1.697,
    base_radius=0.05,
)


def gen3_spec() -> mujoco.MjSpec:
    """Kinova Gen3 7-DoF arm (902 mm reach, 4 kg payload) on a fixed base."""
    return serial_arm_spec(GEN3)
