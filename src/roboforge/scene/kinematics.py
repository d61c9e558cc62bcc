"""Frames on an entity (a body or a site) and their world poses and Jacobians, in torch.

Poses come from the bodies' tracking sensors (see layout.py), so they work the same on both backends
and inside a CUDA graph. The geometric Jacobian of a frame with respect to hinge/slide joints is
`Jv = axis_w x (p_frame - anchor_w)`, `Jw = axis_w` (hinge) and `Jv = axis_w`, `Jw = 0` (slide).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import torch

from roboforge.utils.config import ConfigError
from roboforge.utils.math import quat_apply, quat_mul


@dataclass
class Frame:
    """A frame rigidly attached to one body of an entity."""

    name: str
    body_index: int
    """Index into the entity's bodies."""
    pos_b: torch.Tensor
    """Offset (3,) in the body frame."""
    quat_b: torch.Tensor
    """Rotation (4,) relative to the body frame (w, x, y, z)."""
    moved_by: torch.Tensor
    """Per entity joint: 1.0 if the joint is on the chain from the root to this frame's body, else 0.0."""


class JointKinematics:
    """Per-joint body index, anchor and axis (body frame) of an entity's hinge/slide joints."""

    def __init__(self, model: mujoco.MjModel, joint_ids: list[int], body_ids: list[int], device):
        index_of = {b: k for k, b in enumerate(body_ids)}
        self.body_index = torch.tensor([index_of[int(model.jnt_bodyid[j])] for j in joint_ids], device=device)
        self.anchor_b = torch.tensor(model.jnt_pos[joint_ids], dtype=torch.float32, device=device).reshape(
            -1, 3
        )
        self.axis_b = torch.tensor(model.jnt_axis[joint_ids], dtype=torch.float32, device=device).reshape(
            -1, 3
        )
        hinge = mujoco.mjtJoint.mjJNT_HINGE.value
        self.is_hinge = torch.tensor([int(model.jnt_type[j]) == hinge for j in joint_ids], device=device)
        self.joint_body_ids = [int(model.jnt_bodyid[j]) for j in joint_ids]


def resolve_frame(
    model: mujoco.MjModel, prefix: str, body_ids: list[int], kin: JointKinematics, name: str, device
) -> Frame:
    """The body or site `name` of the entity with name prefix `prefix`; unknown names raise."""
    index_of = {b: k for k, b in enumerate(body_ids)}
    full = prefix + name
    if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, full) >= 0:
        site = model.site(full)
        body = int(model.site_bodyid[site.id])
        pos, quat = model.site_pos[site.id], model.site_quat[site.id]
    elif mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, full) >= 0:
        body = model.body(full).id
        pos, quat = [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]
    else:
        bodies = [model.body(b).name.removeprefix(prefix) for b in body_ids]
        sites = [
            model.site(s).name.removeprefix(prefix)
            for s in range(model.nsite)
            if int(model.site_bodyid[s]) in index_of
        ]
        raise ConfigError(
            f"No body or site {name!r} on entity {prefix.rstrip('/')!r}. Bodies: {', '.join(bodies)}; "
            f"sites: {', '.join(sites) or '(none)'}."
        )
    chain, b = set(), body
    while b > 0:
        chain.add(b)
        b = int(model.body_parentid[b])
    moved_by = [1.0 if jb in chain else 0.0 for jb in kin.joint_body_ids]
    return Frame(
        name=name,
        moved_by=torch.tensor(moved_by, device=device),
        body_index=index_of[body],
        pos_b=torch.tensor(pos, dtype=torch.float32, device=device),
        quat_b=torch.tensor(quat, dtype=torch.float32, device=device),
    )


def frame_pose_w(
    body_pos_w: torch.Tensor, body_quat_w: torch.Tensor, frame: Frame
) -> tuple[torch.Tensor, torch.Tensor]:
    """World position `(N, 3)` and orientation `(N, 4)` of `frame` from body poses `(N, B, 3/4)`."""
    pos, quat = body_pos_w[:, frame.body_index], body_quat_w[:, frame.body_index]
    frame_pos = pos + quat_apply(quat, frame.pos_b.expand_as(pos))
    frame_quat = quat_mul(quat, frame.quat_b.expand_as(quat))
    return frame_pos, frame_quat


def jacobian_w(
    body_pos_w: torch.Tensor,
    body_quat_w: torch.Tensor,
    kin: JointKinematics,
    frame: Frame,
    joint_idx: torch.Tensor | slice,
) -> torch.Tensor:
    """Geometric Jacobian `(N, 6, k)` (linear rows first) of `frame` with respect to the selected joints."""
    frame_pos_w, _ = frame_pose_w(body_pos_w, body_quat_w, frame)
    bidx = kin.body_index[joint_idx]
    pos, quat = body_pos_w[:, bidx], body_quat_w[:, bidx]  # (N, k, 3/4)
    axis_w = quat_apply(quat, kin.axis_b[joint_idx].expand(pos.shape))
    anchor_w = pos + quat_apply(quat, kin.anchor_b[joint_idx].expand(pos.shape))
    hinge = kin.is_hinge[joint_idx][None, :, None]
    lever = frame_pos_w[:, None, :] - anchor_w
    jv = torch.where(hinge, torch.cross(axis_w, lever, dim=-1), axis_w)
    jw = torch.where(hinge, axis_w, torch.zeros_like(axis_w))
    return torch.cat((jv, jw), dim=-1).transpose(1, 2) * frame.moved_by[joint_idx]
