"""What the velocity task needs to know about each legged robot: feet, contacts, gains of its rewards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from roboforge.assets import ArticulationCfg
from roboforge.assets.robots.unitree import g1_cfg, go1_cfg, h1_cfg
from roboforge.sensors import ContactSensorCfg


@dataclass(kw_only=True)
class LeggedRobot:
    """A robot's entry in the velocity task family."""

    name: str
    """Task id suffix ('go1')."""
    articulation: Callable[[], ArticulationCfg]
    """Asset config factory."""
    feet: ContactSensorCfg
    """Contact sensor on the feet (air time, contact states)."""
    base_contact_bodies: list[str]
    """Bodies whose contact with the ground ends the episode (a fall)."""
    undesired_contact_bodies: list[str] = field(default_factory=list)
    """Bodies whose contacts are penalized (e.g. thighs)."""
    biped: bool = False
    """Humanoid reward set (single-stance air time, feet slide, joint deviation) instead of the quadruped one."""
    lin_vel_x: tuple[float, float] = (-1.0, 1.0)
    """Forward velocity command range (m/s)."""
    lin_vel_y: tuple[float, float] = (-1.0, 1.0)
    """Sideways velocity command range (m/s)."""
    ang_vel_z: tuple[float, float] = (-1.0, 1.0)
    """Yaw-rate command range (rad/s)."""
    add_base_mass: tuple[float, float] = (-1.0, 3.0)
    """Range (kg) added to the base mass at startup."""
    base_body: str = "trunk"
    """The floating base body."""
    deviation_joints: dict[str, list[str]] = field(default_factory=dict)
    """Biped: joint groups kept near their defaults {reward name: joint regexes}."""
    ankle_joints: list[str] = field(default_factory=list)
    """Biped: joints whose soft-limit violations are penalized."""
    leg_joints: list[str] = field(default_factory=lambda: [".*"])
    """Joints whose torques and accelerations are penalized."""
    box_height_range: tuple[float, float] = (0.02, 0.15)
    """Rough terrain: largest box height (m) at the lowest and the highest level."""
    rough_amplitude_range: tuple[float, float] = (0.01, 0.08)
    """Rough terrain: noise amplitude (m) of the random rough ground at the lowest and the highest level."""
    nconmax: int = 32
    """Contacts per world to allocate on the GPU."""
    njmax: int = 128
    """Constraint rows per world to allocate on the GPU."""


GO1 = LeggedRobot(
    name="go1",
    articulation=go1_cfg,
    feet=ContactSensorCfg(geom_names=["FL", "FR", "RL", "RR"], force_threshold=1.0),
    base_contact_bodies=["trunk"],
    undesired_contact_bodies=[".*_thigh"],
    # Isaac Lab's Go1 rough task lowers the boxes and the rough ground by the same amounts for this robot
    box_height_range=(0.025, 0.1),
    rough_amplitude_range=(0.01, 0.06),
)

G1 = LeggedRobot(
    name="g1",
    articulation=g1_cfg,
    feet=ContactSensorCfg(body_names=[".*_ankle_roll_link"], force_threshold=5.0),
    base_contact_bodies=["pelvis", "torso_link"],
    biped=True,
    lin_vel_x=(-0.5, 1.0),
    lin_vel_y=(-0.5, 0.5),
    base_body="pelvis",
    deviation_joints={
        "joint_deviation_hip": [".*_hip_yaw_joint", ".*_hip_roll_joint"],
        "joint_deviation_arms": [".*_shoulder_.*_joint", ".*_elbow_joint", ".*_wrist_.*_joint"],
        "joint_deviation_waist": ["waist_.*_joint"],
    },
    ankle_joints=[".*_ankle_.*_joint"],
    leg_joints=[".*_hip_.*_joint", ".*_knee_joint", ".*_ankle_.*_joint"],
    nconmax=48,
    njmax=192,
)

H1 = LeggedRobot(
    name="h1",
    articulation=h1_cfg,
    feet=ContactSensorCfg(body_names=[".*_ankle_link"], force_threshold=5.0),
    base_contact_bodies=["pelvis", "torso_link"],
    biped=True,
    lin_vel_x=(-0.5, 1.0),
    lin_vel_y=(-0.5, 0.5),
    base_body="pelvis",
    deviation_joints={
        "joint_deviation_hip": [".*_hip_yaw", ".*_hip_roll"],
        "joint_deviation_arms": [".*_shoulder_.*", ".*_elbow"],
        "joint_deviation_torso": ["torso"],
    },
    ankle_joints=[".*_ankle"],
    leg_joints=[".*_hip_.*", ".*_knee", ".*_ankle"],
    add_base_mass=(-2.0, 5.0),
    nconmax=48,
    njmax=192,
)
