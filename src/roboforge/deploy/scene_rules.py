"""Reset events and terminations of scenes with objects and goals, in numpy, for sim-to-sim episodes:
an object's root reset (`reset_root_state_uniform` with another `asset_name`, `reset_object_beside`), the object terminations of
manipulation tasks (`root_height_below` of an object, `object_out_of_reach`) and the navigation command's
outcome terminations (`goal_reached`, `obstacle_touched`). The object's default root state is its free
joint's `qpos0` in the exported scene (where the training config placed it)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from roboforge.deploy.command_sim import CommandSim
from roboforge.deploy.metadata import EventSpec, MetadataError, PolicyMetadata, TerminationSpec
from roboforge.deploy.mujoco_robot import MujocoSimRobot
from roboforge.deploy.navigation_command_sim import NavigationCommandSim
from roboforge.deploy.rotations import quat_from_euler_xyz, quat_mul

EventFn = Callable[[MujocoSimRobot, np.random.Generator], None]
DoneFn = Callable[[MujocoSimRobot, int], bool]
POSE_KEYS = ("x", "y", "z", "roll", "pitch", "yaw")


def draw_pose(ranges: dict, rng: np.random.Generator) -> np.ndarray:
    """Uniform (x, y, z, roll, pitch, yaw) from a training `pose_range`/`velocity_range` dict (missing: 0)."""
    return np.array([rng.uniform(*ranges.get(k, (0.0, 0.0))) for k in POSE_KEYS])


def reset_object_root_uniform(term: EventSpec, meta: PolicyMetadata) -> EventFn:
    """An object's root = its default pose + uniform offsets (orientation offsets after the default), velocity uniform;
    a deformable object's undeformed shape is placed so (its root is its centre of mass)."""
    name = term.params["asset_name"]
    pose_range, vel_range = term.params.get("pose_range", {}), term.params.get("velocity_range") or {}

    def apply(robot: MujocoSimRobot, rng: np.random.Generator) -> None:
        pose, vel = draw_pose(pose_range, rng), draw_pose(vel_range, rng)
        nodes = robot.scene_objects.deformable.get(name)
        if nodes is not None:
            # the undeformed shape about its rest centre of mass; the rest orientation is the identity
            # (DeformableObjectCfg checks it), so the drawn angles are the orientation
            quat = quat_from_euler_xyz(*pose[3:])
            nodes.place(robot.data, nodes.rest_com + pose[:3], quat, vel[:3], vel[3:])
            return
        q, v = robot.scene_objects.free_joint(name)
        default = robot.model.qpos0[q : q + 7]
        d = robot.data
        d.qpos[q : q + 3] = default[:3] + pose[:3]
        d.qpos[q + 3 : q + 7] = quat_mul(default[3:7], quat_from_euler_xyz(*pose[3:]))
        d.qvel[v : v + 6] = vel

    return apply


def reset_object_beside(term: EventSpec, meta: PolicyMetadata) -> EventFn:
    """`reset_object_beside`: the object at its default height and orientation, at rest, beside the anchor's
    (already reset) position: x offset uniform in `offset_x`, y offset uniform in `offset_y` on a side drawn
    at random."""
    p = term.params
    name, anchor = p["asset_name"], p["anchor_name"]
    (x_lo, x_hi), (y_lo, y_hi) = p["offset_x"], p["offset_y"]

    def apply(robot: MujocoSimRobot, rng: np.random.Generator) -> None:
        q, v = robot.scene_objects.free_joint(name)
        qa, _ = robot.scene_objects.free_joint(anchor)
        d = robot.data
        side = -1.0 if rng.uniform() < 0.5 else 1.0
        offset = np.array([rng.uniform(x_lo, x_hi), side * rng.uniform(y_lo, y_hi)])
        d.qpos[q : q + 2] = d.qpos[qa : qa + 2] + offset
        d.qpos[q + 2 : q + 7] = robot.model.qpos0[q + 2 : q + 7]
        d.qvel[v : v + 6] = 0.0

    return apply


def object_height_below(term: TerminationSpec, meta: PolicyMetadata) -> DoneFn:
    """The object's root is lower than `minimum_height` (m, world z)."""
    name, height = term.params["asset_name"], term.params["minimum_height"]
    return lambda robot, length: bool(robot.scene_objects.object_pos_w(robot.data)[name][2] < height)


def object_out_of_reach(term: TerminationSpec, meta: PolicyMetadata) -> DoneFn:
    """The object is farther than `max_distance` (m) from the robot's root."""
    name, limit = term.params["object_name"], term.params["max_distance"]
    if term.params["robot_name"] != meta.robot.asset:
        raise MetadataError(
            f"Termination {term.name!r} measures from an entity other than the controlled robot."
        )

    def done(robot: MujocoSimRobot, length: int) -> bool:
        offset = robot.scene_objects.object_pos_w(robot.data)[name] - robot.root_pos_w()
        return bool(np.linalg.norm(offset) > limit)

    return done


def _navigation_flag(flag: str) -> Callable[[TerminationSpec, PolicyMetadata, dict[str, CommandSim]], DoneFn]:
    def factory(term: TerminationSpec, meta: PolicyMetadata, sims: dict[str, CommandSim]) -> DoneFn:
        name = term.params["command_name"]
        sim = sims.get(name)
        if not isinstance(sim, NavigationCommandSim):
            raise MetadataError(
                f"Termination {term.name!r} reads the outcome of navigation command {name!r}; let the check "
                "simulate that command (do not pass it with --command)."
            )

        def done(robot: MujocoSimRobot, length: int) -> bool:
            sim.update_outcome()  # the state of this step, as the training term does
            return bool(getattr(sim, flag))

        return done

    return factory


COMMAND_TERMINATIONS = {
    "goal_reached": _navigation_flag("success"),
    "obstacle_touched": _navigation_flag("touched"),
}
"""Terminations that read a simulated command term: factory(term, meta, command sims)."""
