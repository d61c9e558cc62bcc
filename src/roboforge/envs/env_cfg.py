"""Typed configs of the two env kinds."""

from __future__ import annotations

from dataclasses import dataclass, field

from roboforge.managers import (
    ActionTermCfg,
    CommandTermCfg,
    CurriculumTermCfg,
    EventTermCfg,
    ObservationGroupCfg,
    RewardTermCfg,
    TerminationTermCfg,
)
from roboforge.scene.scene import SceneCfg
from roboforge.sim.simulator import SimCfg


@dataclass(kw_only=True)
class BaseEnvCfg:
    """What every RL env has: a scene, physics settings, control rate and episode length."""

    scene: SceneCfg
    """Worlds and what is in them."""
    sim: SimCfg = field(default_factory=SimCfg)
    """Physics backend, device and timestep."""
    decimation: int = 2
    """Physics steps per env (policy) step."""
    episode_length_s: float = 5.0
    """Episode length in seconds (time-out)."""
    seed: int = 42
    """Seed of the env's random generator (events, noise, commands)."""
    max_joint_vel: float = 1.0e4
    """Any |qvel| above this (or a NaN) marks a world as exploded: it is reset and counted in `nan_resets`."""


@dataclass(kw_only=True)
class ManagerBasedRLEnvCfg(BaseEnvCfg):
    """An env assembled from managers and term functions."""

    actions: dict[str, ActionTermCfg]
    """Action terms in order; the policy's action vector is their concatenation."""
    observations: dict[str, ObservationGroupCfg]
    """Observation groups, e.g. 'policy' and 'critic'."""
    rewards: dict[str, RewardTermCfg]
    """Reward terms."""
    terminations: dict[str, TerminationTermCfg]
    """Termination terms (mark time-outs with time_out=True)."""
    events: dict[str, EventTermCfg] = field(default_factory=dict)
    """Startup / reset / interval events (resets, domain randomization)."""
    commands: dict[str, CommandTermCfg] = field(default_factory=dict)
    """Command terms."""
    curriculum: dict[str, CurriculumTermCfg] = field(default_factory=dict)
    """Curriculum terms."""


@dataclass(kw_only=True)
class DirectRLEnvCfg(BaseEnvCfg):
    """An env whose task class writes its own action, observation, reward, done and reset code."""

    action_dim: int
    """Size of the action vector."""
    observation_dims: dict[str, int]
    """Size of each observation group, e.g. {'policy': 4}."""
    deploy_twin: str | None = None
    """A registered manager-based task that is this task step for step (same observations, actions, commands,
    resets and terminations; a test must show it). `roboforge export` then describes the policy with the
    twin's terms, so the torch-free deploy runtime can run it; without one, a direct env's export has no
    observation layout and deploy refuses it."""
