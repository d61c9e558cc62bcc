"""Terrain contacts in MuJoCo Warp (CPU): feet shapes on the height field, far from its centre."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
import torch

from roboforge.terrains import BoxGridTerrainCfg, FlatTerrainCfg, Terrain, TerrainCfg, generate_terrain
from terrains_util import small_generator_cfg


# MuJoCo Warp --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_mjwarp_collides_feet_shapes_with_the_height_field():
    """Sphere, capsule, box and mesh dropped on box tops come to rest on them in MuJoCo Warp (CPU).

    Gentle drops (< 0.3 m): in mujoco-warp 4.0.0, box and mesh geoms hitting a height field faster than
    about 2.5 m/s (timestep 2 ms) can get wrong contact normals and tumble; spheres and capsules do not.
    """
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING
    import mujoco_warp as mjw

    spec = mujoco.MjSpec()
    terrain_cfg = TerrainCfg(
        generator=small_generator_cfg(
            num_rows=1, num_cols=1, sub_terrains={"boxes": BoxGridTerrainCfg(height_range=(0.1, 0.1))}
        )
    )
    generated = generate_terrain(terrain_cfg.generator)
    from roboforge.terrains import add_terrain_geom

    add_terrain_geom(spec, terrain_cfg, generated)
    corners = [[x, y, z] for x in (-0.04, 0.04) for y in (-0.04, 0.04) for z in (-0.04, 0.04)]
    spec.add_mesh(name="cube", uservert=np.ravel(corners).tolist())
    shapes = {
        "sphere": dict(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.04, 0, 0]),
        "capsule": dict(
            type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[0.04, 0.1, 0], quat=[0.7071068, 0, 0.7071068, 0]
        ),
        "box": dict(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.04, 0.04, 0.04]),
        "mesh": dict(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="cube"),
    }
    box_tops = [(-1.3, -1.3), (-1.3, 1.2), (1.2, -1.3), (1.2, 1.2)]  # centres of the flat tops of 0.5 m boxes
    for (name, geom), (x, y) in zip(shapes.items(), box_tops, strict=True):
        body = spec.worldbody.add_body(name=name, pos=[x, y, 0.2])  # box tops are within +-0.1 m
        body.add_freejoint()
        body.add_geom(name=name, **geom)
    model = spec.compile()
    terrain = Terrain(terrain_cfg, generated, model, 1, "cpu")
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with wp.ScopedDevice("cpu"):
        warp_model = mjw.put_model(model)
        warp_data = mjw.put_data(model, data, nworld=1, nconmax=64, njmax=256)
        for _ in range(300):
            mjw.step(warp_model, warp_data)
        xpos = warp_data.xpos.numpy()[0]
    for name in shapes:
        body = model.body(name).id
        ground = float(terrain.height_at(torch.tensor(xpos[body, :2], dtype=torch.float32)))
        assert abs(xpos[body, 2] - ground - 0.04) < 3e-3, (name, xpos[body], ground)


@pytest.mark.slow
def test_mjwarp_contacts_stay_shallow_far_from_the_terrain_centre():
    """A yawed foot sunk below the ground 40 m from the terrain's centre gets its true depth in MuJoCo Warp.

    Regression for height-field tiles: with one field for the whole terrain, mujoco-warp 4.0.0 reports
    metres-deep contacts there (and launches the robot).
    """
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING
    import mujoco_warp as mjw

    terrain_cfg = TerrainCfg(
        generator=small_generator_cfg(
            size=(8.0, 8.0), num_rows=2, num_cols=12, sub_terrains={"flat": FlatTerrainCfg()}
        )
    )
    generated = generate_terrain(terrain_cfg.generator)
    spec = mujoco.MjSpec()
    from roboforge.terrains import add_terrain_geom

    add_terrain_geom(spec, terrain_cfg, generated)
    foot = spec.worldbody.add_body(pos=[-3.0, 40.0, -0.015], quat=[math.cos(0.65), 0, 0, math.sin(0.65)])
    foot.add_freejoint()
    for x, y in ((-0.05, 0.025), (-0.05, -0.025), (0.12, 0.03), (0.12, -0.03)):
        foot.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.005, 0, 0], pos=[x, y, 0.0], mass=0.5)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with wp.ScopedDevice("cpu"):
        warp_model = mjw.put_model(model)
        warp_data = mjw.put_data(model, data, nworld=1, nconmax=64, njmax=256)
        mjw.forward(warp_model, warp_data)
        depth = warp_data.contact.dist.numpy()[: int(warp_data.nacon.numpy()[0])]
    assert len(depth) >= 4 and depth.min() > -0.03, depth


@pytest.mark.slow
def test_mjwarp_hfield_contacts_never_pull_a_foot_down_through_a_step():
    """Feet against the risers of 0.2 m stairs: mujoco-warp 4.0.0 answers some with the height field's
    underside (normal pointing down, several cm deep; C MuJoCo: sideways or up, 2.6 cm). roboforge's contact
    filter (on by default, `SimCfg.hfield_contact_filter`) leaves no such contact active; if this test finds none without the filter, MuJoCo Warp was fixed
    and the filter (`roboforge.sim.mjwarp_hfield`) can go."""
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING
    import mujoco_warp as mjw

    from roboforge.sim import SimCfg
    from roboforge.sim.mjwarp_backend import MjwarpSimulator
    from roboforge.terrains import PyramidStairsTerrainCfg, add_terrain_geom

    stairs = PyramidStairsTerrainCfg(step_height_range=(0.2, 0.2), platform_width=1.0)
    terrain_cfg = TerrainCfg(
        generator=small_generator_cfg(num_rows=1, num_cols=1, sub_terrains={"stairs": stairs})
    )
    generated = generate_terrain(terrain_cfg.generator)
    spec = mujoco.MjSpec()
    add_terrain_geom(spec, terrain_cfg, generated)
    feet_x = np.linspace(-1.5, -0.3, 25)  # 5 cm apart, across the risers of the stairs up to the platform
    for _ in feet_x:  # feet collide with the ground only (contype 0), not with each other
        foot = spec.worldbody.add_body()
        foot.add_freejoint()
        foot.add_geom(
            type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.023, 0, 0], mass=0.1, contype=0, conaffinity=1
        )
    model = spec.compile()
    terrain = Terrain(terrain_cfg, generated, model, 1, "cpu")
    data = mujoco.MjData(model)
    for i, x in enumerate(feet_x):  # each foot stands on the ground 3 cm before it, sunk by its radius
        ground = float(terrain.height_at(torch.tensor([[x - 0.03, 0.0]], dtype=torch.float32)))
        data.qpos[7 * i : 7 * i + 4] = [x, 0.0, ground, 1.0]
    mujoco.mj_forward(model, data)

    def downward_active_contacts(filtered: bool) -> int:
        cfg = SimCfg(device="cpu", nconmax=512, njmax=2048, hfield_contact_filter=filtered)
        sim = MjwarpSimulator(model, 1, cfg)  # installs the filter when asked (the default)
        sim.qpos[0] = torch.as_tensor(data.qpos, dtype=sim.qpos.dtype)
        with wp.ScopedDevice("cpu"):
            mjw.fwd_position(sim.m, sim.d)
            n = int(sim.d.nacon.numpy()[0])
            dist, frame = sim.d.contact.dist.numpy()[:n], sim.d.contact.frame.numpy()[:n]
            geom = sim.d.contact.geom.numpy()[:n]
        hfield_first = model.geom_type[geom[:, 0]] == mujoco.mjtGeom.mjGEOM_HFIELD
        up = np.where(hfield_first, frame[:, 0, 2], -frame[:, 0, 2])  # normal z out of the height field
        return int(((up < -0.1) & (dist < 0)).sum())

    assert downward_active_contacts(filtered=False) > 0  # the upstream defect is still there
    assert downward_active_contacts(filtered=True) == 0
