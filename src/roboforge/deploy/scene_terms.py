"""Observation terms of the world around the robot, in numpy: an object's position in the robot's root frame
(lift), a deformable object's shape (its nodes about its centre of mass: the soft lift), a planar base's body-frame velocity and its planar range scan (navigation), the height scan of the
ground around a legged robot (rough terrain).

Each mirrors its training term on the same state (`tests/test_deploy_tasks.py` and `test_deploy_rough.py` compare them):
`roboforge.mdp.manipulation.object_position_b`, `roboforge.mdp.deformable.node_pos_rel`,
`roboforge.mdp.navigation.planar_velocity_b` and
`roboforge.mdp.range_scan.range_scan` (an analytic ray-circle and ray-wall intersection, not MuJoCo ray
casting: the training term sees only the obstacle cylinders and the arena walls, so this one does too) and
`roboforge.mdp.height_scan.height_scan` (the ground's height under a yaw-aligned grid of points, from
`RobotState.terrain_height_w`: the simulated robot's height field, a real robot's elevation map).
Object and obstacle positions come from `RobotState` (`object_pos_w`, `obstacles_w`): the simulated robot reads
them from the scene, a real robot from the user's perception. Parameters come from the metadata, where the
export writes every term's, the function's defaults included.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from roboforge.deploy.metadata import MetadataError, ObsTermSpec, PolicyMetadata
from roboforge.deploy.rotations import quat_apply_inverse, yaw_of
from roboforge.utils.errors import UserInputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from roboforge.deploy.observations import ObsContext

    TermFn = Callable[[ObsContext], np.ndarray]

PLANAR_JOINTS = ("x", "y", "yaw")
PARAMS = {
    "object_position_b": ("object_name", "robot_name"),
    "planar_velocity_b": ("asset_name", "joint_names"),
    "range_scan": (
        "num_rays",
        "max_range",
        "joint_names",
        "obstacle_asset",
        "obstacle_bodies",
        "arena_half_size",
    ),
    "height_scan": ("body_name", "size", "resolution", "offset_xy", "height_offset"),
    "node_pos_rel": ("asset_name",),
}
"""The parameters each term reads from the metadata (the export writes every term's, defaults included)."""


def term_params(spec: ObsTermSpec) -> dict[str, Any]:
    """The term's parameters as it trained with them; a metadata file without them is from an older export."""
    missing = [key for key in PARAMS.get(spec.func, ()) if key not in spec.params]
    if missing:
        raise MetadataError(
            f"Observation term {spec.name!r} ({spec.func}) lacks parameters {missing} in the metadata: the policy "
            "was exported by an older roboforge; export the checkpoint again."
        )
    return spec.params


def state_field(spec: ObsTermSpec, value: Any, field_name: str) -> Any:
    """`value` (a `RobotState` field the term reads); None is an error naming the field."""
    if value is None:
        raise UserInputError(
            f"Observation term {spec.name!r} needs RobotState.{field_name}; the state has none."
        )
    return value


def object_position_b(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """The object's position in the robot's root frame `(3,)`: R(base)^T (object - base)."""
    p = term_params(spec)
    name = p["object_name"]
    if p["robot_name"] != meta.robot.asset:
        raise MetadataError(
            f"Observation term {spec.name!r} measures from entity {p['robot_name']!r}; the runtime observes "
            f"only the controlled robot {meta.robot.asset!r}."
        )

    def fn(c: ObsContext) -> np.ndarray:
        if name not in c.object_pos_w:
            raise UserInputError(
                f"Observation term {spec.name!r} needs the position of object {name!r}: "
                f"RobotState.object_pos_w[{name!r}] (world frame, e.g. from perception)."
            )
        base_pos = state_field(spec, c.base_pos_w, "base_pos_w")
        base_quat = state_field(spec, c.base_quat_w, "base_quat_w")
        return quat_apply_inverse(base_quat, np.asarray(c.object_pos_w[name], dtype=np.float64) - base_pos)

    return fn


def node_pos_rel(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """A deformable object's shape `(num_nodes * 3,)`: its nodes relative to its centre of mass, world axes."""
    name = term_params(spec)["asset_name"]

    def fn(c: ObsContext) -> np.ndarray:
        if name not in c.object_nodes_w or name not in c.object_pos_w:
            raise UserInputError(
                f"Observation term {spec.name!r} needs the nodes and the centre of mass of deformable object "
                f"{name!r}: RobotState.object_nodes_w[{name!r}] (num_nodes, 3) and object_pos_w[{name!r}] (world "
                "frame, e.g. from perception)."
            )
        nodes = np.asarray(c.object_nodes_w[name], dtype=np.float64)
        if nodes.shape != (spec.dim // 3, 3):
            raise UserInputError(
                f"Observation term {spec.name!r}: RobotState.object_nodes_w[{name!r}] has shape {nodes.shape}; "
                f"the policy was trained with {spec.dim // 3} nodes: give ({spec.dim // 3}, 3)."
            )
        return (nodes - np.asarray(c.object_pos_w[name], dtype=np.float64)).ravel()

    return fn


def _planar_ids(spec: ObsTermSpec, meta: PolicyMetadata) -> np.ndarray:
    """Policy-order indices of the planar base's x, y and yaw joints."""
    names = spec.joint_names or list(term_params(spec)["joint_names"])
    known = {n: i for i, n in enumerate(meta.robot.joint_names)}
    if len(names) != 3 or any(n not in known for n in names):
        raise MetadataError(
            f"Observation term {spec.name!r} needs the x, y and yaw joints of a planar base; got {names} "
            f"(robot joints: {meta.robot.joint_names})."
        )
    return np.array([known[n] for n in names], dtype=np.intp)


def rotate(xy: np.ndarray, angle: float) -> np.ndarray:
    """Planar vectors `(..., 2)` turned by `angle` (rad, counter-clockwise)."""
    xy = np.asarray(xy, dtype=np.float64)
    c, s = math.cos(angle), math.sin(angle)
    return np.stack((c * xy[..., 0] - s * xy[..., 1], s * xy[..., 0] + c * xy[..., 1]), axis=-1)


def planar_velocity_b(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """Body-frame velocity `(3,)` of a planar base: forward, left (m/s), yaw rate (rad/s)."""
    ids = _planar_ids(spec, meta)

    def fn(c: ObsContext) -> np.ndarray:
        qd = c.joint_vel[ids]
        return np.array([*rotate(qd[:2], -float(c.joint_pos[ids[2]])), qd[2]])

    return fn


def ray_angles(num_rays: int) -> np.ndarray:
    """Ray angles `(num_rays,)` in the body frame, first straight ahead, counter-clockwise (float32 as trained)."""
    return np.arange(num_rays, dtype=np.float32) * np.float32(2.0 * math.pi / num_rays)


def planar_ranges(
    origin: np.ndarray,
    heading: float,
    angles: np.ndarray,
    obstacles: np.ndarray,
    max_range: float,
    half: float | None,
) -> np.ndarray:
    """Range `(R,)` from `origin (2,)` along rays at `heading + angles` to the nearest circle of `obstacles
    (K, 3)` (x, y, radius) or wall of `[-half, half]^2` (None: none), clamped to `max_range`; 0 inside a circle."""
    theta = heading + angles.astype(np.float64)
    dirs = np.stack((np.cos(theta), np.sin(theta)), axis=-1)  # (R, 2)
    ranges = np.full(theta.shape, max_range)
    if len(obstacles):
        rel = origin[None, :] - obstacles[:, :2]  # (K, 2)
        b = dirs @ rel.T  # (R, K)
        c = (rel**2).sum(-1) - obstacles[:, 2] ** 2  # (K,)
        disc = b**2 - c
        t = -b - np.sqrt(np.clip(disc, 0.0, None))
        t = np.where(c <= 0.0, 0.0, np.where((disc >= 0.0) & (t >= 0.0), t, np.inf))
        ranges = np.minimum(ranges, t.min(axis=1))
    if half is not None:
        for axis in range(2):
            d = dirs[:, axis]
            moving = np.abs(d) > 1e-9
            safe = np.where(moving, d, 1.0)
            wall = np.where(d > 0.0, half, -half)
            ranges = np.minimum(ranges, np.where(moving, (wall - origin[axis]) / safe, np.inf))
    return np.clip(ranges, 0.0, max_range)


def range_scan(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """Planar lidar `(num_rays,)` (m) among `RobotState.obstacles_w` and inside the arena's walls."""
    p = term_params(spec)
    ids = _planar_ids(spec, meta)
    angles = ray_angles(int(p["num_rays"]))
    max_range, half = float(p["max_range"]), p["arena_half_size"]
    root_xy = np.asarray((meta.robot.default_root_state or [0.0, 0.0])[:2], dtype=np.float64)
    sees_obstacles = p["obstacle_asset"] is not None
    none = np.zeros((0, 3))

    def fn(c: ObsContext) -> np.ndarray:
        obstacles = state_field(spec, c.obstacles_w, "obstacles_w") if sees_obstacles else none
        q = c.joint_pos[ids]
        return planar_ranges(root_xy + q[:2], float(q[2]), angles, obstacles, max_range, half)

    return fn


def scan_grid(size: list[float], resolution: float, offset_xy: list[float]) -> np.ndarray:
    """Scan points `(R, 2)` in the heading frame, x varying fastest (`GridPatternCfg.points_yaw`)."""
    xs = np.arange(-size[0] / 2, size[0] / 2 + 1e-9, resolution)
    ys = np.arange(-size[1] / 2, size[1] / 2 + 1e-9, resolution)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    return np.stack((grid_x.ravel(), grid_y.ravel()), axis=1) + np.asarray(offset_xy, dtype=np.float64)


def height_scan(spec: ObsTermSpec, meta: PolicyMetadata) -> TermFn:
    """`base z - ground z - height_offset` `(R,)` on a grid that turns with the base's heading (yaw only)."""
    p = term_params(spec)
    if p["body_name"] is not None:
        raise MetadataError(
            f"Observation term {spec.name!r} scans around body {p['body_name']!r}; the runtime knows the pose "
            "of the robot's root only (scan around the root, body_name None)."
        )
    points = scan_grid(p["size"], float(p["resolution"]), p["offset_xy"])
    if len(points) != spec.dim:
        raise MetadataError(
            f"Observation term {spec.name!r}: {len(points)} scan points, trained with {spec.dim}."
        )
    offset = float(p["height_offset"])

    def fn(c: ObsContext) -> np.ndarray:
        pos = state_field(spec, c.base_pos_w, "base_pos_w")
        yaw = yaw_of(state_field(spec, c.base_quat_w, "base_quat_w"))
        ground = state_field(spec, c.terrain_height_w, "terrain_height_w")
        xy = pos[:2] + rotate(points, yaw)
        return pos[2] - np.asarray(ground(xy), dtype=np.float64) - offset

    return fn


TERMS = {
    "height_scan": (height_scan, "roboforge.mdp.height_scan"),
    "node_pos_rel": (node_pos_rel, "roboforge.mdp.deformable"),
    "object_position_b": (object_position_b, "roboforge.mdp.manipulation"),
    "planar_velocity_b": (planar_velocity_b, "roboforge.mdp.navigation"),
    "range_scan": (range_scan, "roboforge.mdp.range_scan"),
}
"""Function name -> (factory, training module), registered by `observations.py`."""
OBJECT_TERMS = ("node_pos_rel",)
"""Terms whose `asset_name` names an observed object (its state in `RobotState`), not the controlled robot."""
