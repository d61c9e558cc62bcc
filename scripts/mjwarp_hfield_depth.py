"""MuJoCo Warp's height-field contacts against C MuJoCo's for the same robot states (2026-12-04).

The states in mjwarp_hfield_states.json are Go1 poses on the rough terrain of `velocity-rough-go1`, each
taken one env step before a world exploded in MuJoCo Warp (a trained policy on levels 4-9). For each
state this prints the deepest contact (m, negative = penetration) that each engine finds:

    MENAGERIE_ROOT=... python scripts/mjwarp_hfield_depth.py [--device cpu|cuda]

Measured on the CPU with mujoco / mujoco-warp 4.0.0: C MuJoCo 2.4-3.0 cm, MuJoCo Warp 4.5-18 cm at
stair and box edges (foot spheres and calf capsules against the height field). Neither
`opt.ccd_iterations=200` nor a 0.1 m height-field base changes MuJoCo Warp's depths. Many of the deep
ones point down, out of the height field's underside (others up); the last column is what is left after roboforge's
filter (`roboforge.sim.mjwarp_hfield`) drops those.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mujoco
import mujoco_warp as mjw
import numpy as np
import warp as wp

import roboforge.tasks  # noqa: F401  (registers the task)
from roboforge.rl.session import build_session
from roboforge.sim.mjwarp_hfield import drop_underside_hfield_contacts


def deepest_mjwarp(model: mujoco.MjModel, qpos: np.ndarray, device: str, filtered: bool) -> list[float]:
    """The deepest active contact (the filter leaves dropped contacts at a distance of 1e6 m)."""
    model.opt.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)  # MuJoCo Warp refuses the flag
    with wp.ScopedDevice(device):
        m = mjw.put_model(model)
        if filtered:
            m.callback.contactfilter = drop_underside_hfield_contacts
        d = mjw.put_data(model, mujoco.MjData(model), nworld=len(qpos), nconmax=96, njmax=384)
        wp.copy(d.qpos, wp.array(qpos.astype(np.float32), dtype=float))
        mjw.fwd_position(m, d)
        n = int(d.nacon.numpy()[0])
        dist, world = d.contact.dist.numpy()[:n], d.contact.worldid.numpy()[:n]
    return [float(dist[world == w].min()) for w in range(len(qpos))]


def deepest_c(model: mujoco.MjModel, qpos: np.ndarray) -> list[float]:
    data, out = mujoco.MjData(model), []
    for q in qpos:
        data.qpos[:] = q
        mujoco.mj_forward(model, data)
        out.append(float(data.contact.dist[: data.ncon].min()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    states = json.loads((Path(__file__).parent / "mjwarp_hfield_states.json").read_text())
    qpos = np.array(states["qpos"])
    model = build_session(states["task"], num_envs=1, device="cpu", sim="mujoco").env.sim.model
    c = deepest_c(model, qpos)
    raw = deepest_mjwarp(model, qpos, args.device, filtered=False)
    kept = deepest_mjwarp(model, qpos, args.device, filtered=True)
    print(f"{'terrain':20s} level  C MuJoCo  MuJoCo Warp  filtered  (deepest contact, m)")
    for (kind, level), a, b, f in zip(states["kinds_levels"], c, raw, kept, strict=True):
        print(f"{kind:20s} {level:5d}  {a:8.3f}  {b:11.3f}  {f:8.3f}")


if __name__ == "__main__":
    main()
