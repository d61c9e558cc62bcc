"""What the simulated robot's perception sees in the exported scene: free objects and cylinder obstacles.

`SceneObjects` finds, in the compiled scene MJCF, every other entity with a free joint (an object such as the
lift task's cube: entity name = the prefix of its body name, 'cube/cube' -> 'cube') and the obstacle
cylinders on mocap bodies that the metadata's navigation terms name (`obstacle_asset`, `obstacle_bodies`,
as `roboforge.mdp.planar.MocapCylinders` resolves them). `MujocoSimRobot` puts their state into
`RobotState.object_pos_w` and `obstacles_w`; the sim-to-sim episodes reset and score them.
"""

from __future__ import annotations

import re

import mujoco
import numpy as np

from roboforge.deploy.metadata import MetadataError, PolicyMetadata


def obstacle_sources(meta: PolicyMetadata) -> list[tuple[str, str]]:
    """(entity, body regex) pairs of the obstacles the policy's terms and commands read."""
    found: list[tuple[str, str]] = []
    params = [t.params for t in meta.observations or [] if t.func == "range_scan"]
    params += [c.params for c in meta.command_terms if c.type == "NavigationCommandCfg"]
    for p in params:
        asset = p["obstacle_asset"]  # the export writes every parameter, defaults included
        pair = (asset, p["obstacle_bodies"])
        if asset is not None and pair not in found:
            found.append(pair)
    return found


class SceneObjects:
    """Free objects (qpos/qvel addresses by entity name) and mocap cylinder obstacles of one scene."""

    def __init__(self, model: mujoco.MjModel, meta: PolicyMetadata):
        robot_prefix = meta.scene.entity_prefix
        self.free: dict[str, tuple[int, int]] = {}
        for j in range(model.njnt):
            body = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.jnt_bodyid[j])) or ""
            if (
                model.jnt_type[j] != mujoco.mjtJoint.mjJNT_FREE
                or body.startswith(robot_prefix)
                or "/" not in body
            ):
                continue
            self.free.setdefault(body.split("/")[0], (int(model.jnt_qposadr[j]), int(model.jnt_dofadr[j])))
        mocap, radii = [], []
        for asset, pattern in obstacle_sources(meta):
            for b in range(model.nbody):
                name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or ""
                if not name.startswith(asset + "/") or not re.fullmatch(pattern, name[len(asset) + 1 :]):
                    continue
                geoms = range(int(model.body_geomadr[b]), int(model.body_geomadr[b] + model.body_geomnum[b]))
                cylinders = [g for g in geoms if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CYLINDER]
                if model.body_mocapid[b] < 0 or not cylinders:
                    raise MetadataError(
                        f"Scene body {name!r} must be a mocap body with a cylinder to be an obstacle."
                    )
                mocap.append(int(model.body_mocapid[b]))
                radii.append(float(model.geom_size[cylinders[0], 0]))
        self.mocap_ids = np.array(mocap, dtype=np.intp)
        self.radii = np.array(radii, dtype=np.float64)
        self.has_obstacles = bool(obstacle_sources(meta))

    def object_pos_w(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        """Each free object's root position `(3,)`, world frame."""
        return {name: data.qpos[q : q + 3].copy() for name, (q, _) in self.free.items()}

    def obstacles_w(self, data: mujoco.MjData) -> np.ndarray:
        """Obstacles `(K, 3)`: centre x, y (the mocap bodies' positions) and radius."""
        return np.column_stack((data.mocap_pos[self.mocap_ids, :2], self.radii))

    def free_joint(self, name: str) -> tuple[int, int]:
        """(qpos, qvel) address of object `name`'s free joint."""
        if name not in self.free:
            raise MetadataError(
                f"The scene has no free object {name!r} (objects: {', '.join(self.free) or 'none'})."
            )
        return self.free[name]
