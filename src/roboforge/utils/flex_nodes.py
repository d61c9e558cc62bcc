"""Where a MuJoCo flex's nodes live in a compiled model, in numpy: what the training entity (`scene/deformable.py`,
torch) and the deploy runtime (`deploy/scene_state.py`) both read.

flexcomp makes each node (each vertex with `dof="full"`, each corner node of an interpolated flex) a body with
three slide joints, so a node's world position is its rest position plus the joint displacements along the
joints' world axes: `x = rest + A q`.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from roboforge.utils.errors import UserInputError


@dataclass(frozen=True)
class FlexNodeLayout:
    """A flex's node bodies and their joints' addresses, rest positions, joint axes and mass shares."""

    bodies: list[int]
    qpos_adr: np.ndarray
    """`(num_nodes * 3,)` qpos addresses, three per node."""
    dof_adr: np.ndarray
    """`(num_nodes * 3,)` qvel addresses."""
    rest_pos_w: np.ndarray
    """`(num_nodes, 3)` node positions at `qpos0`, world frame."""
    axes_w: np.ndarray
    """`(num_nodes, 3, 3)` each node's three joint axes as columns, world frame."""
    weights: np.ndarray
    """`(num_nodes,)` node mass / flex mass: the centre of mass is `weights @ positions`."""


def flex_node_layout(model: mujoco.MjModel, flex: int) -> FlexNodeLayout:
    """The layout of flex `flex`; a node body without three slide joints is a UserInputError naming it."""
    if int(model.flex_interp[flex]):
        adr, num = int(model.flex_nodeadr[flex]), int(model.flex_nodenum[flex])
        bodies = [int(b) for b in model.flex_nodebodyid[adr : adr + num]]
    else:
        adr, num = int(model.flex_vertadr[flex]), int(model.flex_vertnum[flex])
        bodies = [int(b) for b in model.flex_vertbodyid[adr : adr + num]]
    joints = [_slide_joints(model, b) for b in bodies]
    rest = mujoco.MjData(model)
    mujoco.mj_kinematics(model, rest)  # qpos0: every node at rest
    mass = np.array([model.body_mass[b] for b in bodies])
    return FlexNodeLayout(
        bodies=bodies,
        qpos_adr=np.array([model.jnt_qposadr[j] for js in joints for j in js], dtype=np.intp),
        dof_adr=np.array([model.jnt_dofadr[j] for js in joints for j in js], dtype=np.intp),
        rest_pos_w=np.array([rest.xpos[b] for b in bodies]),
        axes_w=np.array([np.stack([rest.xaxis[j] for j in js], axis=1) for js in joints]),
        weights=mass / mass.sum(),
    )


def _slide_joints(model: mujoco.MjModel, body: int) -> list[int]:
    """The three slide joints of a node body (flexcomp gives each node one per axis)."""
    adr, num = int(model.body_jntadr[body]), int(model.body_jntnum[body])
    joints = list(range(adr, adr + num))
    slide = mujoco.mjtJoint.mjJNT_SLIDE.value
    if num != 3 or any(int(model.jnt_type[j]) != slide for j in joints):
        raise UserInputError(f"Flex node body {model.body(body).name!r} does not have three slide joints.")
    return joints
