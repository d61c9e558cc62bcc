"""Observation terms of the classic locomotion tasks ('ant-manager'), in numpy: the torso's height and its state
against a heading target, as `roboforge.tasks.classic.mdp` computes them through `heading.heading_state`.

The heading frame is the torso's yaw-only frame (x along its heading in the ground plane, z up). The target that
`angle_to_target` and `heading_projection` measure is the command the terms name (`command_name`, a
`TargetCommandCfg`): its world xy position `(2,)`, passed like any command (`commands={'target': [x, y]}`; the
sim-to-sim check simulates it, `target_command_sim.py`). Velocities come from `RobotState.base_lin_vel_b` and
`base_ang_vel_b` turned into the world frame by `base_quat_w`; the torso position from `base_pos_w`. Each term
mirrors its training term on the same state (`tests/test_deploy_ant.py` compares them).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from roboforge.deploy.metadata import MetadataError, ObsTermSpec, PolicyMetadata
from roboforge.deploy.rotations import quat_apply, yaw_of
from roboforge.deploy.scene_terms import state_field
from roboforge.utils.errors import UserInputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from roboforge.deploy.observations import ObsContext

    TermFn = Callable[[ObsContext], np.ndarray]

MODULE = "roboforge.tasks.classic.mdp"
TARGET_COMMAND = "TargetCommandCfg"


class Heading(NamedTuple):
    """The torso's yaw (rad) and x axis in the world `(3,)`, and the unit ground direction to the target `(2,)`."""

    yaw: float
    axis_x: np.ndarray
    direction: np.ndarray


def heading_of(pos_w: np.ndarray, quat_w: np.ndarray, target_xy: np.ndarray) -> Heading:
    """The torso's heading against the target (`heading.heading_state`'s yaw, x axis and direction)."""
    w, x, y, z = (float(v) for v in quat_w)
    yaw = yaw_of(quat_w)
    to_target = np.asarray(target_xy, dtype=np.float64) - pos_w[:2]
    direction = to_target / max(float(np.linalg.norm(to_target)), 1e-6)
    axis_x = np.array((1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y)))
    return Heading(yaw, axis_x, direction)


def rotate_yaw_inverse(v_w: np.ndarray, yaw: float) -> np.ndarray:
    """A world vector `(3,)` in the frame turned by `yaw` about world z."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array((c * v_w[0] + s * v_w[1], -s * v_w[0] + c * v_w[1], v_w[2]))


def wrap_to_pi(angle: float) -> float:
    """An angle wrapped to [-pi, pi), as `roboforge.utils.math.wrap_to_pi`."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def _target_name(spec: ObsTermSpec, meta: PolicyMetadata) -> str:
    """The term's target command, checked to be a `TargetCommandCfg` of the training env."""
    name = spec.params.get("command_name")
    terms = {c.name: c for c in meta.command_terms}
    if name not in terms or terms[name].type != TARGET_COMMAND:
        raise MetadataError(
            f"Observation term {spec.name!r} ({spec.func}) reads the heading target of command {name!r}, which "
            f"is not a {TARGET_COMMAND} of the training env (commands: {', '.join(terms) or 'none'})."
        )
    asset = terms[name].params["asset_name"]
    if asset != meta.robot.asset:
        raise MetadataError(
            f"Command {name!r} measures entity {asset!r}; the runtime observes only the controlled robot "
            f"{meta.robot.asset!r}."
        )
    return name


def _pose(spec: ObsTermSpec, c: ObsContext, target: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(torso position, orientation, target xy) of the context; a missing one is a clear error."""
    if target not in c.commands:
        raise UserInputError(
            f"Observation term {spec.name!r} needs the heading target's world position: pass command {target!r} "
            f"(step(..., commands={{{target!r}: [x, y]}}) or `--command {target}=x,y`)."
        )
    pos = state_field(spec, c.base_pos_w, "base_pos_w")
    return pos, state_field(spec, c.base_quat_w, "base_quat_w"), c.commands[target]


def torso_height(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """Torso (root) height above z = 0 (m) `(1,)`."""
    return lambda c: state_field(spec, c.base_pos_w, "base_pos_w")[2:3]


def _velocity_heading(field_name: str) -> Callable[[ObsTermSpec, PolicyMetadata], TermFn]:
    def factory(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
        _target_name(spec, meta)  # the heading frame needs no target, but the training term reads one

        def fn(c: ObsContext) -> np.ndarray:
            quat = state_field(spec, c.base_quat_w, "base_quat_w")
            v_w = quat_apply(quat, state_field(spec, getattr(c, field_name), field_name))
            return rotate_yaw_inverse(v_w, yaw_of(quat))

        return fn

    return factory


def angle_to_target(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """Angle (rad) from the torso's heading to the target `(1,)`, in [-pi, pi)."""
    target = _target_name(spec, meta)

    def fn(c: ObsContext) -> np.ndarray:
        h = heading_of(*_pose(spec, c, target))
        return np.array([wrap_to_pi(math.atan2(h.direction[1], h.direction[0]) - h.yaw)])

    return fn


def heading_projection(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """Cosine between the torso's x axis and the target direction in the ground plane `(1,)`."""
    target = _target_name(spec, meta)

    def fn(c: ObsContext) -> np.ndarray:
        h = heading_of(*_pose(spec, c, target))
        return np.array([float(h.axis_x[:2] @ h.direction)])

    return fn


def joint_pos_limit_normalized(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """Every joint's position mapped linearly from its limits to [-1, 1] `(num_joints,)` (robot joint order)."""
    limits = np.asarray(meta.robot.joint_pos_limits, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(limits).all():
        raise MetadataError(
            f"Observation term {spec.name!r} normalizes by the joint limits, but joints "
            f"{[n for n, lim in zip(meta.robot.joint_names, limits, strict=True) if not np.isfinite(lim).all()]} "
            "are unlimited."
        )
    lower, upper = limits[:, 0], limits[:, 1]
    return lambda c: (2.0 * c.joint_pos - upper - lower) / (upper - lower)


TERMS = {
    "torso_height": (torso_height, MODULE),
    "lin_vel_heading": (_velocity_heading("base_lin_vel_b"), MODULE),
    "ang_vel_heading": (_velocity_heading("base_ang_vel_b"), MODULE),
    "angle_to_target": (angle_to_target, MODULE),
    "heading_projection": (heading_projection, MODULE),
    "joint_pos_limit_normalized": (joint_pos_limit_normalized, MODULE),
}
"""Function name -> (factory, training module), registered by `observations.py`."""
