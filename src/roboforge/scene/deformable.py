"""A deformable object (MuJoCo flex, assets/deformable.py) bound to a simulator: its nodes as tensors.

Each node of the flex is a body with three slide joints, so its world position is its rest position plus
the slide displacements along the joints' world axes: `x = p0 + A q`. Node positions, velocities and the
centre of mass are torch functions of `qpos`/`qvel` (both backends, inside the CUDA graph). The object's
"root" is its centre of mass with the rest orientation, so the manipulation terms and the root-pose reset
event that read or write `data.root_pos_w` / `write_root_state` work on it unchanged.
"""

from __future__ import annotations

import mujoco
import torch

from roboforge.assets.deformable import FLEX_NAME, DeformableObjectCfg
from roboforge.scene.entity import Entity, EntityData
from roboforge.scene.layout import EntityLayout
from roboforge.sim.simulator import Simulator
from roboforge.utils.flex_nodes import flex_node_layout
from roboforge.utils.math import quat_apply, quat_apply_inverse


class DeformableData(EntityData):
    """Views of a deformable object's state: nodes `(num_envs, num_nodes, 3)` and centre of mass."""

    def __init__(self, obj: DeformableObject):
        super().__init__(obj)
        self._o = obj

    @property
    def node_pos_w(self) -> torch.Tensor:
        """Node positions `(num_envs, num_nodes, 3)`, world frame."""
        q = self._sim.qpos[:, self._o.node_qpos_adr].float().unflatten(1, (-1, 3))
        return self._o.node_rest_pos_w + torch.einsum("kij,nkj->nki", self._o.node_axes_w, q)

    @property
    def node_vel_w(self) -> torch.Tensor:
        """Node velocities `(num_envs, num_nodes, 3)`, world frame."""
        v = self._sim.qvel[:, self._o.node_dof_adr].float().unflatten(1, (-1, 3))
        return torch.einsum("kij,nkj->nki", self._o.node_axes_w, v)

    @property
    def com_pos_w(self) -> torch.Tensor:
        """Centre of mass `(num_envs, 3)` (node masses), world frame."""
        return (self.node_pos_w * self._o.node_weights[:, None]).sum(1)

    @property
    def com_lin_vel_w(self) -> torch.Tensor:
        """Velocity of the centre of mass `(num_envs, 3)`, world frame."""
        return (self.node_vel_w * self._o.node_weights[:, None]).sum(1)

    @property
    def root_pos_w(self) -> torch.Tensor:
        """The centre of mass `(num_envs, 3)`: where manipulation terms look for the object."""
        return self.com_pos_w

    @property
    def root_quat_w(self) -> torch.Tensor:
        """The rest orientation `(num_envs, 4)`: a deformed body has no single rotation."""
        return self._o.default_root_quat

    @property
    def root_lin_vel_w(self) -> torch.Tensor:
        """Velocity of the centre of mass `(num_envs, 3)`, world frame."""
        return self.com_lin_vel_w


class DeformableObject(Entity):
    """A flex object of the scene (see module docstring); no joints, actuators or tracked bodies."""

    data: DeformableData

    def __init__(self, cfg: DeformableObjectCfg, layout: EntityLayout, model: mujoco.MjModel, sim: Simulator):
        super().__init__(cfg, layout, model, sim)
        self.flex_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, layout.scoped(FLEX_NAME))
        nodes = flex_node_layout(model, self.flex_id)
        self.num_nodes, self.node_body_ids = len(nodes.bodies), nodes.bodies
        self.node_qpos_adr = torch.tensor(nodes.qpos_adr, dtype=torch.long, device=self.device)
        self.node_dof_adr = torch.tensor(nodes.dof_adr, dtype=torch.long, device=self.device)
        self.node_rest_pos_w = torch.tensor(nodes.rest_pos_w, dtype=torch.float32, device=self.device)
        self.node_axes_w = torch.tensor(nodes.axes_w, dtype=torch.float32, device=self.device)
        self._node_axes_inv = torch.linalg.inv(self.node_axes_w)
        self.node_weights = torch.tensor(nodes.weights, dtype=torch.float32, device=self.device)
        com = (self.node_rest_pos_w * self.node_weights[:, None]).sum(0)
        self.default_root_pos = com.repeat(self.num_envs, 1)
        rest_quat = self.default_root_quat[:1].expand(self.num_nodes, 4)
        # node offsets from the centre of mass in the object's rest frame `(num_nodes, 3)`
        self.node_offsets = quat_apply_inverse(rest_quat, self.node_rest_pos_w - com)
        self.data = DeformableData(self)

    @property
    def default_node_pos_w(self) -> torch.Tensor:
        """The undeformed shape at the default pose `(num_envs, num_nodes, 3)`."""
        return self.node_rest_pos_w.expand(self.num_envs, -1, -1)

    def write_root_state(
        self,
        pos_w: torch.Tensor,
        quat_w: torch.Tensor,
        lin_vel_w: torch.Tensor,
        ang_vel_b: torch.Tensor,
        mask,
    ) -> None:
        """Put the undeformed shape with its centre of mass at `pos_w (N, 3)`, orientation `quat_w (N, 4)`,
        moving rigidly (`lin_vel_w`, `ang_vel_b`), in the worlds selected by `mask`."""
        quat = quat_w[:, None].expand(-1, self.num_nodes, 4)
        arm = quat_apply(quat, self.node_offsets.expand(quat.shape[0], -1, -1))
        ang_w = quat_apply(quat_w, ang_vel_b)[:, None].expand_as(arm)
        pos = pos_w[:, None] + arm
        vel = lin_vel_w[:, None] + torch.cross(ang_w, arm, dim=-1)
        self.write_node_state(pos, vel, mask)

    def write_node_state(self, pos_w: torch.Tensor, vel_w: torch.Tensor, mask: torch.Tensor) -> None:
        """Set node positions and velocities `(num_envs, num_nodes, 3)` in the worlds selected by `mask`."""
        inv = self._node_axes_inv
        q = torch.einsum("kij,nkj->nki", inv, pos_w - self.node_rest_pos_w).flatten(1)
        v = torch.einsum("kij,nkj->nki", inv, vel_w).flatten(1)
        m = mask[:, None]
        qpos, qvel = self.sim.qpos, self.sim.qvel
        qpos[:, self.node_qpos_adr] = torch.where(m, q.to(qpos.dtype), qpos[:, self.node_qpos_adr])
        qvel[:, self.node_dof_adr] = torch.where(m, v.to(qvel.dtype), qvel[:, self.node_dof_adr])

    def reset_to_default(self, mask: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """The undeformed shape at rest at the default pose, in the selected worlds."""
        zeros = torch.zeros_like(self.default_root_pos)
        self.write_root_state(self.default_root_pos, self.default_root_quat, zeros, zeros, mask)
