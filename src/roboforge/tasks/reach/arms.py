"""The arms the reach tasks know: their asset config, arm joints, end effector and target ranges."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from roboforge.assets import ArticulationCfg
from roboforge.assets.builtin.kinova import GEN3
from roboforge.assets.builtin.kuka import IIWA14
from roboforge.assets.builtin.serial_arm import SerialArmParams
from roboforge.assets.builtin.ufactory import XARM6
from roboforge.assets.robots.franka import PANDA_ARM_JOINTS, panda_cfg
from roboforge.assets.robots.kinova import kinova_gen3_cfg
from roboforge.assets.robots.kuka import iiwa14_cfg
from roboforge.assets.robots.serial_arm import effort_scale
from roboforge.assets.robots.ufactory import xarm6_cfg
from roboforge.assets.robots.universal_robots import ArmDrive, ur5e_cfg, ur10e_cfg
from roboforge.mdp.commands import PoseRanges

POINT_DOWN = {"roll": (math.pi, math.pi), "pitch": (0.0, 0.0), "yaw": (-math.pi, math.pi)}


@dataclass(kw_only=True)
class ReachArm:
    """Robot-specific facts a reach task needs."""

    name: str
    """Short name used in task ids."""
    robot: Callable[[ArmDrive], ArticulationCfg]
    """Asset config for a drive type ('position', 'velocity', 'torque')."""
    arm_joints: list[str]
    """Regexes of the arm joints the policy drives."""
    ee_frame: str
    """End-effector body or site."""
    ranges: PoseRanges
    """Target ranges in the robot's root frame."""
    effort_scale: dict[str, float]
    """Torque (N m) per unit action in the effort control mode, by joint regex."""
    nconmax: int | None = None
    """Contacts per world to allocate on the GPU (None: MuJoCo Warp's estimate from the model)."""
    njmax: int | None = None
    """Constraint rows per world to allocate on the GPU (None: MuJoCo Warp's estimate from the model)."""


UR5E_ARM = ReachArm(
    name="ur5e",
    robot=ur5e_cfg,
    arm_joints=[".*"],
    ee_frame="tool0",
    ranges=PoseRanges(pos_x=(0.3, 0.6), pos_y=(-0.25, 0.25), pos_z=(0.2, 0.55), **POINT_DOWN),
    effort_scale={"wrist.*": 3.0, ".*": 15.0},
)

UR10E_ARM = ReachArm(
    name="ur10e",
    robot=ur10e_cfg,
    arm_joints=[".*"],
    ee_frame="tool0",
    ranges=PoseRanges(pos_x=(0.45, 0.85), pos_y=(-0.3, 0.3), pos_z=(0.25, 0.7), **POINT_DOWN),
    effort_scale={"wrist.*": 6.0, ".*": 30.0},
)

PANDA_ARM = ReachArm(
    name="panda",
    robot=lambda drive: panda_cfg(drive, hand=True),
    arm_joints=PANDA_ARM_JOINTS,
    ee_frame="hand",
    ranges=PoseRanges(pos_x=(0.35, 0.65), pos_y=(-0.2, 0.2), pos_z=(0.25, 0.55), **POINT_DOWN),
    effort_scale={"joint[5-7]": 2.0, ".*": 10.0},
    # An exploring policy presses the hand onto the floor, which squeezes the fingers together: up to 74
    # contacts (60 finger on finger) and 300 constraint rows in a world (C MuJoCo, 64 worlds, random actions
    # held 100 steps, 2026-12-07). MuJoCo Warp's estimate for this model, 48 and 64, dropped contacts in 0.35%
    # of the world-steps of a reach-panda-ik-rel run (4.4% over its first 100 iterations; H100, 2026-12-07).
    nconmax=128,
    njmax=512,
)
# Relative IK turns the hand the short way to the commanded yaw, and joint 7 (+-2.8973 rad) cannot turn it
# a full circle: with yaw drawn from the whole circle, an IK-rel policy of 2000 iterations ended 0.19-0.57
# rad off for yaws in [-180, -120) deg, its joint 7 at the limit, and 0.05-0.07 rad elsewhere (2-core CPU,
# 2026-12-07).
# The two-finger hand looks the same after a half-turn, so a half-turn of yaw about its default heading
# holds every grasp orientation. Joint-position control picks joint 7 directly and keeps the full circle.
PANDA_IK_ARM = replace(PANDA_ARM, ranges=replace(PANDA_ARM.ranges, yaw=(-math.pi / 2, math.pi / 2)))


Range = tuple[float, float]


def _builtin_arm(
    name: str,
    params: SerialArmParams,
    robot: Callable[[ArmDrive], ArticulationCfg],
    x: Range,
    y: Range,
    z: Range,
) -> ReachArm:
    """A built-in serial arm: all joints driven, the flange site as end effector, tool-down targets."""
    return ReachArm(
        name=name,
        robot=robot,
        arm_joints=[".*"],
        ee_frame=params.ee,
        ranges=PoseRanges(pos_x=x, pos_y=y, pos_z=z, **POINT_DOWN),
        effort_scale=effort_scale(params),
    )


# Target boxes (m) around each arm's default pose; when they were chosen, damped least-squares IK from
# the default pose reached 100 random targets in each with the tool down at a random yaw.
KINOVA_GEN3_ARM = _builtin_arm("kinova-gen3", GEN3, kinova_gen3_cfg, (0.35, 0.65), (-0.2, 0.2), (0.2, 0.5))
XARM6_ARM = _builtin_arm("xarm6", XARM6, xarm6_cfg, (0.3, 0.5), (-0.2, 0.2), (0.15, 0.4))
IIWA14_ARM = _builtin_arm("iiwa14", IIWA14, iiwa14_cfg, (0.4, 0.7), (-0.25, 0.25), (0.2, 0.6))
