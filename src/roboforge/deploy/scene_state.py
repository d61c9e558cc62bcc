"""What the simulated robot's perception sees in the exported scene: free objects, deformable objects and
cylinder obstacles.

`SceneObjects` finds, in the compiled scene MJCF, every other entity with a free joint (an object such as the
lift task's cube: entity name = the prefix of its body name, 'cube/cube' -> 'cube'), every flex (a deformable
object such as the soft cube: 'cube/soft' -> 'cube'; its nodes are bodies with three slide joints, so a node's
position is its rest position plus the joints' displacements along their axes, as training computes it) and
the obstacle cylinders on mocap bodies that the metadata's navigation terms name (`obstacle_asset`,
`obstacle_bodies`, as `roboforge.mdp.planar.MocapCylinders` resolves them). `MujocoSimRobot` puts their state
into `RobotState.object_pos_w` (a deformable object's centre of mass, as its training `root_pos_w`),
`object_nodes_w` and `obstacles_w`; the sim-to-sim episodes reset and score them.
"""

from __future__ import annotations

import re

import mujoco
import numpy as np

from roboforge.deploy.metadata import MetadataError, PolicyMetadata
from roboforge.deploy.rotations import quat_apply
from roboforge.utils.flex_nodes import flex_node_layout


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


class FlexNodes:
    """One deformable object's nodes: positions `rest + A q` from their slide joints, centre of mass by node mass."""

    def __init__(self, model: mujoco.MjModel, flex: int):
        layout = flex_node_layout(model, flex)
        self.qadr, self.dadr = layout.qpos_adr, layout.dof_adr
        self.rest, self.axes, self.weights = layout.rest_pos_w, layout.axes_w, layout.weights
        self.axes_inv = np.linalg.inv(self.axes)
        self.rest_com = self.weights @ self.rest
        self.offsets = self.rest - self.rest_com  # the undeformed shape about its centre of mass

    def nodes_w(self, data: mujoco.MjData) -> np.ndarray:
        """Node positions `(num_nodes, 3)`, world frame."""
        return self.rest + np.einsum("kij,kj->ki", self.axes, data.qpos[self.qadr].reshape(-1, 3))

    def com_w(self, data: mujoco.MjData) -> np.ndarray:
        """Centre of mass `(3,)`, world frame."""
        return self.weights @ self.nodes_w(data)

    def place(
        self,
        data: mujoco.MjData,
        com_w: np.ndarray,
        quat_w: np.ndarray,
        lin_vel_w: np.ndarray,
        ang_vel_b: np.ndarray,
    ) -> None:
        """The undeformed shape with its centre of mass at `com_w`, turned by `quat_w`, moving rigidly (as
        training's `DeformableObject.write_root_state`)."""
        arm = np.array([quat_apply(quat_w, o) for o in self.offsets])
        vel = lin_vel_w + np.cross(quat_apply(quat_w, ang_vel_b), arm)
        data.qpos[self.qadr] = np.einsum("kij,kj->ki", self.axes_inv, com_w + arm - self.rest).ravel()
        data.qvel[self.dadr] = np.einsum("kij,kj->ki", self.axes_inv, vel).ravel()


class SceneObjects:
    """Free objects (qpos/qvel addresses by entity name), deformable objects (`FlexNodes` by entity name) and
    mocap cylinder obstacles of one scene."""

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
        self.deformable: dict[str, FlexNodes] = {}
        for f in range(model.nflex):
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_FLEX, f) or ""
            if "/" in name and not name.startswith(robot_prefix):
                self.deformable.setdefault(name.split("/")[0], FlexNodes(model, f))
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
        """Each free object's root position and each deformable object's centre of mass `(3,)`, world frame."""
        found = {name: data.qpos[q : q + 3].copy() for name, (q, _) in self.free.items()}
        return found | {name: nodes.com_w(data) for name, nodes in self.deformable.items()}

    def object_nodes_w(self, data: mujoco.MjData) -> dict[str, np.ndarray] | None:
        """Each deformable object's node positions `(num_nodes, 3)`, world frame (None: the scene has none)."""
        return {name: nodes.nodes_w(data) for name, nodes in self.deformable.items()} or None

    def obstacles_w(self, data: mujoco.MjData) -> np.ndarray:
        """Obstacles `(K, 3)`: centre x, y (the mocap bodies' positions) and radius."""
        return np.column_stack((data.mocap_pos[self.mocap_ids, :2], self.radii))

    def require(self, name: str) -> None:
        """A MetadataError unless the scene has object `name` (free or deformable)."""
        if name not in self.free and name not in self.deformable:
            known = [*self.free, *self.deformable]
            raise MetadataError(f"The scene has no object {name!r} (objects: {', '.join(known) or 'none'}).")

    def free_joint(self, name: str) -> tuple[int, int]:
        """(qpos, qvel) address of object `name`'s free joint."""
        if name not in self.free:
            raise MetadataError(
                f"The scene has no free object {name!r} (objects: {', '.join(self.free) or 'none'})."
            )
        return self.free[name]
