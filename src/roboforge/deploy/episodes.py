"""The training env's reset distribution and termination rules in numpy, for sim-to-sim episodes.

Reset events and terminations are read from the metadata and run by function name. Domain
randomization events (model fields, friction, mass, gains, pushes) are skipped (the check runs the
nominal robot) and reported as skipped; any other unknown event or termination is an error naming
the supported ones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from roboforge.deploy.command_sim import CommandSim
from roboforge.deploy.metadata import EventSpec, MetadataError, PolicyMetadata, TerminationSpec
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.rotations import quat_apply_inverse, quat_from_euler_xyz, quat_mul
from roboforge.deploy.runner import PolicyRunner
from roboforge.deploy.scene_rules import (
    COMMAND_TERMINATIONS,
    object_height_below,
    object_out_of_reach,
    reset_object_beside,
    reset_object_root_uniform,
)
from roboforge.deploy.sim_commands import command_sims
from roboforge.deploy.terrain import PatchSurvival
from roboforge.utils.errors import UserInputError
from roboforge.utils.stop_signals import StopSignals

# Domain randomization: the check runs the nominal robot, without pushes.
SKIPPED_EVENTS = (
    "randomize_model_field",
    "randomize_friction",
    "add_base_mass",
    "randomize_com",
    "randomize_actuator_gains",
    "randomize_joint_default_offsets",
    "push_by_setting_velocity",
)
EventFn = Callable[[MujocoSimRobot, np.random.Generator], None]
DoneFn = Callable[[MujocoSimRobot, int], bool]


def _joint_ids(robot: MujocoSimRobot, names: list[str] | None) -> np.ndarray:
    names = list(robot.joint_names) if names is None else names
    return np.array([robot.joint_names.index(n) for n in names], dtype=np.intp)


def _reset_joints_by_offset(term: EventSpec, meta: PolicyMetadata) -> EventFn:
    p = term.params
    lo_p, hi_p = p["position_range"]
    lo_v, hi_v = p["velocity_range"]
    limits = dict(zip(meta.robot.joint_names, meta.robot.joint_pos_limits, strict=True))

    def apply(robot: MujocoSimRobot, rng: np.random.Generator) -> None:
        ids = _joint_ids(robot, p.get("joint_names"))
        q, qd = robot.data.qpos[robot.qadr].copy(), robot.data.qvel[robot.dadr].copy()
        pos = robot.default_pos[ids] + rng.uniform(lo_p, hi_p, ids.size)
        vel = robot.default_vel[ids] + rng.uniform(lo_v, hi_v, ids.size)
        lim = np.array([limits[robot.joint_names[i]] for i in ids]).reshape(-1, 2)
        q[ids], qd[ids] = np.clip(pos, lim[:, 0], lim[:, 1]), vel
        robot.data.qpos[robot.qadr], robot.data.qvel[robot.dadr] = q, qd

    return apply


def _reset_root_state_uniform(term: EventSpec, meta: PolicyMetadata) -> EventFn:
    if term.params.get("asset_name", meta.robot.asset) != meta.robot.asset:
        return reset_object_root_uniform(term, meta)
    keys = ("x", "y", "z", "roll", "pitch", "yaw")
    pose_range = term.params.get("pose_range", {})
    vel_range = term.params.get("velocity_range") or {}
    root = np.asarray(meta.robot.default_root_state or [0, 0, 0, 1, 0, 0, 0] + [0] * 6, dtype=np.float64)

    def draw(ranges: dict, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(*ranges.get(k, (0.0, 0.0))) for k in keys])

    def apply(robot: MujocoSimRobot, rng: np.random.Generator) -> None:
        pose, vel = draw(pose_range, rng), draw(vel_range, rng)
        quat = quat_mul(root[3:7], quat_from_euler_xyz(*pose[3:]))
        robot.set_root_state(robot.env_origin + root[:3] + pose[:3], quat, vel[:3], vel[3:])

    return apply


def _time_out(term: TerminationSpec, meta: PolicyMetadata) -> DoneFn:
    limit = meta.control.max_episode_length
    return lambda robot, length: length >= limit


def _joint_pos_out_of_manual_limit(term: TerminationSpec, meta: PolicyMetadata) -> DoneFn:
    lo, hi = term.params["bounds"]
    names = term.params.get("joint_names")

    def done(robot: MujocoSimRobot, length: int) -> bool:
        q = robot.data.qpos[robot.qadr[_joint_ids(robot, names)]]
        return bool(np.any((q < lo) | (q > hi)))

    return done


def _root_height_below(term: TerminationSpec, meta: PolicyMetadata) -> DoneFn:
    if term.params.get("asset_name", meta.robot.asset) != meta.robot.asset:
        return object_height_below(term, meta)
    height = term.params["minimum_height"]
    return lambda robot, length: bool(robot.root_pos_w()[2] < height)


def _bad_orientation(term: TerminationSpec, meta: PolicyMetadata) -> DoneFn:
    limit = term.params["limit_angle"]

    def done(robot: MujocoSimRobot, length: int) -> bool:
        gravity_b = quat_apply_inverse(robot.root_pose_w()[1], np.array([0.0, 0.0, -1.0]))
        return bool(np.arccos(np.clip(-gravity_b[2], -1.0, 1.0)) > limit)

    return done


def _illegal_contact(term: TerminationSpec, meta: PolicyMetadata) -> DoneFn:
    """Net contact force of the listed bodies, read from the scene's contact sensors `<sensor>:<body>`
    (data `found force`: 4 values each)."""
    p = term.params
    prefix, patterns = f"{p['sensor_name']}:", p.get("body_names") or [".*"]
    threshold = p.get("threshold", 1.0)
    columns: list[np.ndarray] = []

    def done(robot: MujocoSimRobot, length: int) -> bool:
        if not columns:
            model = robot.model
            for i in range(model.nsensor):
                name = model.sensor(i).name
                if name.startswith(prefix) and any(re.fullmatch(pt, name[len(prefix) :]) for pt in patterns):
                    columns.append(np.arange(model.sensor_adr[i] + 1, model.sensor_adr[i] + 4))
            if not columns:
                raise MetadataError(
                    f"Termination {term.name!r}: the scene has no contact sensor {prefix}<body>."
                )
        forces = np.stack([robot.data.sensordata[c] for c in columns])
        return bool(np.any(np.linalg.norm(forces, axis=1) > threshold))

    return done


EVENTS: dict[str, Callable[[EventSpec, PolicyMetadata], EventFn]] = {
    "reset_joints_by_offset": _reset_joints_by_offset,
    "reset_root_state_uniform": _reset_root_state_uniform,
    "reset_object_beside": reset_object_beside,
}
TERMINATIONS: dict[str, Callable[[TerminationSpec, PolicyMetadata], DoneFn]] = {
    "time_out": _time_out,
    "joint_pos_out_of_manual_limit": _joint_pos_out_of_manual_limit,
    "root_height_below": _root_height_below,
    "bad_orientation": _bad_orientation,
    "illegal_contact": _illegal_contact,
    "object_out_of_reach": object_out_of_reach,
}


class EpisodeRules:
    """Reset events and termination terms of the training env, bound to a `MujocoSimRobot` (terminations that
    read a command's outcome, to its simulated command term in `sims`)."""

    def __init__(self, meta: PolicyMetadata, sims: dict[str, CommandSim] | None = None):
        self.meta = meta
        self.events: list[EventFn] = []
        self.skipped: list[str] = []
        for term in meta.events:
            if term.func in SKIPPED_EVENTS:
                self.skipped.append(f"{term.name} ({term.func}, {term.mode})")
            elif term.mode != "reset" or term.func not in EVENTS:
                raise MetadataError(
                    f"Event {term.name!r} ({term.func}, mode {term.mode}) is not reproduced by the sim-to-sim "
                    f"check; supported reset events: {', '.join(EVENTS)}."
                )
            else:
                self.events.append(EVENTS[term.func](term, meta))
        self.terms: dict[str, DoneFn] = {}
        self.time_out_terms = {term.name for term in meta.terminations if term.time_out}
        for term in meta.terminations:
            if term.func in COMMAND_TERMINATIONS:
                self.terms[term.name] = COMMAND_TERMINATIONS[term.func](term, meta, sims or {})
                continue
            if term.func not in TERMINATIONS:
                raise MetadataError(
                    f"Termination {term.name!r} ({term.func}) is not reproduced by the sim-to-sim check; "
                    f"supported: {', '.join([*TERMINATIONS, *COMMAND_TERMINATIONS])}."
                )
            self.terms[term.name] = TERMINATIONS[term.func](term, meta)

    def reset(self, robot: MujocoSimRobot, rng: np.random.Generator) -> None:
        """A terrain patch (if the scene has them), the default state there, then every reset event in order,
        then a forward pass."""
        robot.patch = robot.terrain.draw_patch(rng)
        robot.env_origin = robot.terrain.origin(robot.patch)
        robot.reset()
        for event in self.events:
            event(robot, rng)
        robot.forward()

    def dones(self, robot: MujocoSimRobot, length: int) -> dict[str, bool]:
        """Each termination term's flag after `length` control steps."""
        return {name: done(robot, length) for name, done in self.terms.items()}


@dataclass
class SimEpisodesResult:
    """What the deployed policy achieved in simulation, with the names `roboforge eval` uses."""

    episodes: int
    mean_episode_length: float
    max_episode_length: int
    metrics: dict[str, float] = field(default_factory=dict)
    safety: dict[str, int] = field(default_factory=dict)
    skipped_events: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    interrupted: bool = False
    """Stopped by Ctrl-C or SIGTERM before `episodes` had ended: the statistics cover those that had."""


def run_sim_episodes(
    runner: PolicyRunner,
    robot: MujocoSimRobot,
    episodes: int,
    seed: int = 0,
    commands: dict[str, np.ndarray] | None = None,
    on_step: Callable[[MujocoSimRobot], None] | None = None,
    on_episode: Callable[[int], None] | None = None,
) -> SimEpisodesResult:
    """Run `episodes` episodes with the training reset distribution, terminations and command terms
    (commands given in `commands` are held constant instead of sampled); `on_step(robot)` after every
    policy step (e.g. a video frame), `on_episode(episodes done)` after every episode (a progress bar).
    Ctrl-C or SIGTERM ends it early with the statistics of the episodes ended so far (`interrupted`)."""
    if episodes < 1:
        raise UserInputError(f"--episodes must be >= 1, got {episodes}.")
    sims = command_sims(runner.meta, robot, commands or {})
    rules = EpisodeRules(runner.meta, sims)
    rng = np.random.default_rng(seed)
    tally = _Tally(dict.fromkeys(rules.terms, 0), PatchSurvival(robot.terrain.patches))
    start = time.perf_counter()
    interrupted = False
    with StopSignals().installed() as stops:
        try:
            for done in range(1, episodes + 1):
                length, flags = _episode(runner, robot, rules, sims, rng, commands or {}, on_step)
                with stops.held():  # a stop waits until the episode is counted everywhere
                    tally.add(length, flags, rules, sims, robot.patch)
                if on_episode is not None:
                    on_episode(done)
        except KeyboardInterrupt:
            interrupted = True
    return SimEpisodesResult(
        episodes=len(tally.lengths),
        mean_episode_length=float(np.mean(tally.lengths)) if tally.lengths else 0.0,
        max_episode_length=runner.meta.control.max_episode_length,
        metrics=tally.metrics(),
        safety=dict(runner.safety.counts),
        skipped_events=rules.skipped,
        wall_s=time.perf_counter() - start,
        interrupted=interrupted,
    )


@dataclass
class _Tally:
    """What the ended episodes achieved: lengths, terminations, survival by terrain patch, command metrics."""

    ended: dict[str, int]
    by_patch: PatchSurvival
    lengths: list[int] = field(default_factory=list)
    survived: int = 0
    command_metrics: dict[str, list[float]] = field(default_factory=dict)

    def add(
        self,
        length: int,
        flags: dict[str, bool],
        rules: EpisodeRules,
        sims: dict[str, CommandSim],
        patch: int | None,
    ) -> None:
        self.lengths.append(length)
        for name, flag in flags.items():
            self.ended[name] += int(flag)
        failed = any(flag for name, flag in flags.items() if name not in rules.time_out_terms)
        self.survived += int(not failed)
        self.by_patch.add(patch, failed)
        for sim in sims.values():
            sim.end(failed)
            for key, value in sim.episode_metrics().items():
                self.command_metrics.setdefault(key, []).append(value)

    def metrics(self) -> dict[str, float]:
        """The episode metrics under `roboforge eval`'s names (none before the first episode ended)."""
        n = len(self.lengths)
        if n == 0:
            return {}
        metrics = {f"Episode_Termination/{name}": count / n for name, count in self.ended.items()}
        metrics["Episode/survived"] = self.survived / n
        metrics["Episode/length"] = float(np.mean(self.lengths))
        metrics.update({key: float(np.mean(values)) for key, values in self.command_metrics.items()})
        metrics.update(self.by_patch.metrics())
        return metrics


def _episode(runner, robot, rules, sims, rng, given, on_step=None) -> tuple[int, dict[str, bool]]:
    """One episode in the training env's order: reset, then step -> terminations -> command update."""
    dt, max_len = runner.meta.control.step_dt, runner.meta.control.max_episode_length
    rules.reset(robot, rng)
    runner.reset()
    for sim in sims.values():
        sim.reset(rng)
        sim.step(rng, 0, dt, max_len)  # the env updates commands right after a reset, too
    length, flags = 0, {}
    while True:
        commands = given | {name: sim.command for name, sim in sims.items()}
        for _ in range(runner.commands_per_step):  # 1, or a low-level policy's commands of one policy step
            robot.write_command(runner.step(robot.read_state(), robot.now(), commands))
        length += 1
        if on_step is not None:
            on_step(robot)
        flags = rules.dones(robot, length)
        if any(flags.values()) or length >= max_len:
            return length, flags
        for sim in sims.values():
            sim.step(rng, length, dt, max_len)
