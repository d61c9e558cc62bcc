"""A MuJoCo Warp contact filter for height fields: contacts whose normal points into the underside.

A height field is the graph of a height function, so a contact with it always pushes the other geom up or
sideways, never down. MuJoCo Warp 4.0's height-field narrowphase sometimes answers a foot caught against
a step's riser with contacts whose normal is (0, 0, -1), 4.5-18 cm deep, where C MuJoCo finds 2.4-3.0 cm
sideways for the same state (`scripts/mjwarp_hfield_depth.py`). The solver then pulls the foot through the
step and the world explodes.
The filter makes such contacts inactive (distance beyond any margin) before the constraints are built;
the sideways and upward contacts of the same pair stay.
"""

# Warp kernel bodies are Warp's language, not Python's: its array stubs do not type element access.
# pyright: reportIndexIssue=false, reportOperatorIssue=false

from __future__ import annotations

import mujoco
import warp as wp

_HFIELD = int(mujoco.mjtGeom.mjGEOM_HFIELD)
UNDERSIDE_NORMAL_Z = -0.1
"""Height-field contacts whose normal, taken out of the height field, has a z below this are dropped."""
_INACTIVE_DIST = 1.0e6


@wp.kernel
def _drop_underside_hfield_contacts(
    geom_type: wp.array[int],
    nacon: wp.array[int],
    contact_geom: wp.array[wp.vec2i],
    contact_frame: wp.array[wp.mat33],
    contact_dist: wp.array[float],
):
    conid = wp.tid()
    if conid >= nacon[0]:
        return
    geoms = contact_geom[conid]
    normal_z = contact_frame[conid][0, 2]  # row 0: the normal, from geom 0 to geom 1
    if geom_type[geoms[0]] == _HFIELD:
        out_of_hfield_z = normal_z
    elif geom_type[geoms[1]] == _HFIELD:
        out_of_hfield_z = -normal_z
    else:
        return
    if out_of_hfield_z < UNDERSIDE_NORMAL_Z:
        contact_dist[conid] = _INACTIVE_DIST


def drop_underside_hfield_contacts(m, d) -> None:
    """`mujoco_warp` contact-filter callback (`m.callback.contactfilter`): runs after collision detection,
    inside the captured step, before `make_constraint`."""
    wp.launch(
        _drop_underside_hfield_contacts,
        dim=d.naconmax,
        inputs=[m.geom_type, d.nacon, d.contact.geom, d.contact.frame, d.contact.dist],
    )


def has_height_field(model: mujoco.MjModel) -> bool:
    return bool((model.geom_type == _HFIELD).any())
