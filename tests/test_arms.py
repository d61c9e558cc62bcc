"""Built-in Kinova Gen3, xArm 6 and LBR iiwa 14 (issue 19, part 4): kinematics against the makers' DH
tables, limits in the compiled model, gains that hold the arm, and the reach tasks on both backends."""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np
import pytest
import torch

from conftest import make_task_env
from roboforge.assets.builtin.kinova import GEN3, gen3_spec
from roboforge.assets.builtin.kuka import IIWA14, iiwa14_spec
from roboforge.assets.builtin.ufactory import XARM6, xarm6_spec
from roboforge.assets.robots.kinova import kinova_gen3_cfg
from roboforge.assets.robots.kuka import iiwa14_cfg
from roboforge.assets.robots.ufactory import xarm6_cfg
from roboforge.scene.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.tasks.reach.arms import IIWA14_ARM, KINOVA_GEN3_ARM, XARM6_ARM

PI = math.pi


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])


def _trans(x: float = 0.0, z: float = 0.0) -> np.ndarray:
    t = np.eye(4)
    t[0, 3], t[2, 3] = x, z
    return t


def kinova_dh(q: np.ndarray) -> np.ndarray:
    """Kinova Gen3 user guide, classic DH (base frame, then joints 1-7; theta = q + offset)."""
    d = (-(0.1564 + 0.1284), -(0.0054 + 0.0064), -(0.2104 + 0.2104), -(0.0064 + 0.0064))
    d += (-(0.2084 + 0.1059), 0.0, -(0.1059 + 0.0615))
    alpha = (PI / 2,) * 6 + (PI,)
    pose = _rx(PI)
    for i in range(7):
        pose = pose @ _rz(q[i] + (0.0 if i == 0 else PI)) @ _trans(z=d[i]) @ _rx(alpha[i])
    return pose


def xarm6_dh(q: np.ndarray) -> np.ndarray:
    """UFACTORY xArm 6 user manual, modified DH: Rx(alpha_i-1) Tx(a_i-1) Rz(q_i + offset_i) Tz(d_i)."""
    offset2 = -math.atan(0.2845 / 0.0535)
    rows = (  # alpha, a, offset, d
        (0.0, 0.0, 0.0, 0.267),
        (-PI / 2, 0.0, offset2, 0.0),
        (0.0, math.hypot(0.2845, 0.0535), -offset2, 0.0),
        (-PI / 2, 0.0775, 0.0, 0.3425),
        (PI / 2, 0.0, 0.0, 0.0),
        (-PI / 2, 0.076, 0.0, 0.097),
    )
    pose = np.eye(4)
    for qi, (alpha, a, offset, d) in zip(q, rows, strict=True):
        pose = pose @ _rx(alpha) @ _trans(x=a) @ _rz(qi + offset) @ _trans(z=d)
    return pose


def iiwa14_dh(q: np.ndarray) -> np.ndarray:
    """KUKA LBR iiwa 14 R820, classic DH: 360 / 420 / 400 / 126 mm, alternating twists."""
    d = (0.36, 0.0, 0.42, 0.0, 0.4, 0.0, 0.126)
    alpha = (-PI / 2, PI / 2, PI / 2, -PI / 2, -PI / 2, PI / 2, 0.0)
    pose = np.eye(4)
    for i in range(7):
        pose = pose @ _rz(q[i]) @ _trans(z=d[i]) @ _rx(alpha[i])
    return pose


ARMS = {
    "kinova-gen3": (GEN3, gen3_spec, kinova_gen3_cfg, kinova_dh, KINOVA_GEN3_ARM, 1e-3),
    "xarm6": (XARM6, xarm6_spec, xarm6_cfg, xarm6_dh, XARM6_ARM, 1e-9),
    "iiwa14": (IIWA14, iiwa14_spec, iiwa14_cfg, iiwa14_dh, IIWA14_ARM, 1e-9),
}
# Flange position at the zero pose as the makers state it (Kinova's DH table is rounded to 0.1 mm).
ZERO_POSE_EE = {
    "kinova-gen3": (0.0, -0.0246, 1.1873),
    "xarm6": (0.207, 0.0, 0.112),
    "iiwa14": (0.0, 0.0, 1.306),
}


@pytest.mark.parametrize("arm", ARMS)
def test_model_matches_the_makers_dh_table(arm):
    params, builder, _, dh, _, tol = ARMS[arm]
    model = builder().compile()
    data = mujoco.MjData(model)
    site = model.site(params.ee).id
    assert model.njnt == len(params.joints) and model.nu == 0
    rng = np.random.default_rng(0)
    for k in range(8):
        q = np.zeros(model.nq) if k == 0 else rng.uniform(-2.5, 2.5, model.nq)
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        pose = dh(q)
        np.testing.assert_allclose(data.site_xpos[site], pose[:3, 3], atol=tol)
        np.testing.assert_allclose(data.site_xmat[site].reshape(3, 3), pose[:3, :3], atol=1e-6)
        if k == 0:
            np.testing.assert_allclose(data.site_xpos[site], ZERO_POSE_EE[arm], atol=1e-3)


@pytest.mark.parametrize("arm", ARMS)
def test_limits_efforts_and_gains_are_in_the_compiled_model(arm):
    params, _, cfg_fn, _, _, _ = ARMS[arm]
    model = Scene(SceneCfg(num_envs=1, entities={"robot": cfg_fn()})).model
    assert model.nu == len(params.joints)
    for i in range(model.nu):
        joint = model.joint(int(model.actuator_trnid[i, 0]))
        k = params.joints.index(joint.name.removeprefix("robot/"))
        limits = params.ranges[k]
        assert bool(model.jnt_limited[joint.id]) == (limits is not None)
        if limits is not None:
            np.testing.assert_allclose(model.jnt_range[joint.id], limits)
        np.testing.assert_allclose(
            model.actuator_forcerange[i], [-params.effort_limit[k], params.effort_limit[k]]
        )
        assert model.actuator_gainprm[i, 0] > 0 and model.dof_armature[joint.dofadr[0]] > 0
    masses = [model.body(f"robot/{link}").mass[0] for link in params.links]
    np.testing.assert_allclose(masses, params.mass)


@pytest.mark.parametrize("arm", ARMS)
def test_default_pose_points_the_tool_down_inside_the_target_box(arm):
    params, builder, cfg_fn, _, reach, _ = ARMS[arm]
    model = builder().compile()
    data = mujoco.MjData(model)
    defaults = cfg_fn().init_state.joint_pos
    data.qpos[:] = [defaults[name] for name in params.joints]
    mujoco.mj_kinematics(model, data)
    pos, z_axis = (
        data.site_xpos[model.site(params.ee).id],
        data.site_xmat[model.site(params.ee).id][[2, 5, 8]],
    )
    r = reach.ranges
    for value, (lo, hi) in zip(pos, (r.pos_x, r.pos_y, r.pos_z), strict=True):
        assert lo <= value <= hi, (pos, r)
    np.testing.assert_allclose(z_axis, [0, 0, -1], atol=1e-2)


@pytest.mark.parametrize("arm", ARMS)
def test_gains_hold_the_initial_pose_without_gravity_compensation(arm):
    params, _, cfg_fn, _, _, _ = ARMS[arm]
    cfg = dataclasses.replace(cfg_fn(), gravity_compensation=False)
    scene = Scene(SceneCfg(num_envs=1, entities={"robot": cfg}))
    sim = make_simulator(scene.model, 1, SimCfg(backend="mujoco", timestep=0.005))
    scene.bind(sim)
    robot = scene["robot"]
    robot.reset_to_default(torch.ones(1, dtype=torch.bool))
    model, data = scene.model, mujoco.MjData(scene.model)
    site = model.site(f"robot/{params.ee}").id

    def ee_pos() -> np.ndarray:
        data.qpos[:] = sim.qpos[0].numpy()
        mujoco.mj_kinematics(model, data)
        return data.site_xpos[site].copy()

    start, drift = ee_pos(), 0.0
    for _ in range(200):  # 1 s
        robot.apply_actuators()
        sim.step()
        drift = max(drift, float(np.linalg.norm(ee_pos() - start)))
    assert drift > 1e-4, "gravity acts: the arm sags a little under its PD gains"
    assert drift < 0.03, f"{arm}: the end effector sagged {drift * 100:.1f} cm in 1 s"
    assert sim.qvel.abs().max() < 1e-3, "the arm settles"


@pytest.mark.parametrize("backend", ["mujoco", "mjwarp"])
@pytest.mark.parametrize("arm", ARMS)
def test_reach_task_builds_and_steps(arm, backend):
    params = ARMS[arm][0]
    env = make_task_env(f"reach-{arm}", num_envs=8, backend=backend)
    assert env.num_actions == len(params.joints)
    gen = torch.Generator().manual_seed(0)
    obs, _ = env.reset()
    for _ in range(10):
        obs, reward, *_ = env.step(torch.rand(8, env.num_actions, generator=gen) * 2 - 1)
    assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
    command = env.command_manager.terms["ee_pose"]
    assert torch.isfinite(command.metrics["position_error"]).all()
    joints = env.scene["robot"].data.joint_pos
    assert (joints - env.scene["robot"].default_joint_pos).abs().max() > 0.01, "the actions move the arm"
