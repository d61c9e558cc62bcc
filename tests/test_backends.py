"""Physics backends: C MuJoCo (`mujoco`) and MuJoCo Warp on the CPU (`mjwarp`) give the same numbers."""

from __future__ import annotations

import os
import subprocess
import sys

import mujoco
import numpy as np
import pytest
import torch

from conftest import BACKENDS, ROOT, all_worlds, cartpole_motor_model, requires_go1, world_mask
from roboforge.assets import ArticulationCfg, ImplicitActuatorCfg, InitialStateCfg, MenagerieSpawnCfg
from roboforge.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator, resolve_backend

N = 4
POLE_START = torch.tensor([0.1, -0.2, 0.3, 0.05], dtype=torch.float64)


def cartpole_sim(backend: str, num_worlds: int = N, per_world_fields: tuple[str, ...] = ()):
    return make_simulator(cartpole_motor_model(), num_worlds, SimCfg(backend=backend), per_world_fields)


def run_cartpole(sim, controls: torch.Tensor) -> torch.Tensor:
    """Start the poles at POLE_START, apply `controls (steps, N)`; qpos trajectory `(steps, N, 2)` in float64."""
    sim.qpos[:, 1] = POLE_START.to(sim.qpos.dtype)
    traj = []
    for ctrl in controls:
        sim.ctrl[:, 0] = ctrl.to(sim.ctrl.dtype)
        sim.step()
        traj.append(sim.qpos.double().clone())
    return torch.stack(traj)


@pytest.mark.slow  # compiles MuJoCo Warp kernels
def test_cartpole_parity_200_steps():
    g = torch.Generator().manual_seed(0)
    controls = (torch.rand(200, N, generator=g) * 2 - 1) * 20.0
    traj = {b: run_cartpole(cartpole_sim(b), controls) for b in BACKENDS}
    moved = (traj["mujoco"][-1] - traj["mujoco"][0]).abs()
    assert (moved > 0.1).all(), "the controls should move cart and pole noticeably"
    assert torch.isfinite(traj["mjwarp"]).all()
    err = (traj["mujoco"] - traj["mjwarp"]).abs().max().item()
    assert err < 1e-5, f"backends diverge by {err:.2e}"


def test_mujoco_backend_matches_plain_mj_step():
    """The rollout-based backend steps exactly like mj_step on a single MjData."""
    model = cartpole_motor_model()
    sim = make_simulator(model, N, SimCfg(backend="mujoco"))
    g = torch.Generator().manual_seed(1)
    controls = (torch.rand(50, N, generator=g) * 2 - 1) * 20.0
    traj = run_cartpole(sim, controls)
    data = mujoco.MjData(model)
    data.qpos[1] = POLE_START[2].item()
    for k in range(50):
        data.ctrl[0] = controls[k, 2].item()
        mujoco.mj_step(model, data)
    np.testing.assert_allclose(traj[-1, 2].numpy(), data.qpos, rtol=0, atol=1e-12)


GO1_JOINTS = {".*_thigh_joint": 0.9, ".*_calf_joint": -1.8}
# With these joint angles the feet are ~0.27 m below the base. Starting at 0.35 m the robot would fall for
# ~60 steps before touching the ground, so 20 steps would never exercise contacts: start with feet on it.
GO1_HEIGHT = 0.28


def go1_scene(num_envs: int) -> Scene:
    robot = ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml"),
        init_state=InitialStateCfg(pos=(0.0, 0.0, GO1_HEIGHT), joint_pos=dict(GO1_JOINTS)),
        actuators={"legs": ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness=35.0, damping=0.5)},
    )
    return Scene(SceneCfg(num_envs=num_envs, entities={"robot": robot}))


@pytest.mark.slow
@requires_go1
def test_go1_contact_parity_20_steps():
    steps = 20
    g = torch.Generator().manual_seed(0)
    offsets = (torch.rand(steps, N, 12, generator=g) * 2 - 1) * 0.3
    traj, ctrls = {}, {}
    for backend in BACKENDS:
        scene = go1_scene(N)
        sim = make_simulator(scene.model, N, SimCfg(backend=backend))
        scene.bind(sim)
        robot = scene["robot"]
        assert robot.is_floating and robot.num_joints == 12
        sim.reset(all_worlds(N))
        scene.reset_to_default(all_worlds(N))
        sim.forward()
        states, controls = [], []
        for k in range(steps):
            robot.joint_pos_target[:] = robot.default_joint_pos + offsets[k]
            scene.apply_actuators()
            controls.append(sim.ctrl.double().clone())
            sim.step()
            states.append(torch.cat((sim.qpos, sim.qvel), 1).double().clone())
        traj[backend], ctrls[backend] = torch.stack(states), torch.stack(controls)
    # the robot really stands on the ground: replay world 0 in plain MuJoCo and count contacts
    scene = go1_scene(1)
    data = mujoco.MjData(scene.model)
    data.qpos[:] = traj["mujoco"][0, 0, : scene.model.nq].numpy()  # after step 1; replay the rest
    data.qvel[:] = traj["mujoco"][0, 0, scene.model.nq :].numpy()
    ncon = []
    for k in range(1, steps):
        data.ctrl[:] = ctrls["mujoco"][k, 0].numpy()
        mujoco.mj_step(scene.model, data)
        ncon.append(data.ncon)
    assert max(ncon) >= 4, f"expected foot contacts, got {ncon}"
    qpos_err = (
        (traj["mujoco"][..., : scene.model.nq] - traj["mjwarp"][..., : scene.model.nq]).abs().max().item()
    )
    assert qpos_err < 1e-4, f"Go1 qpos differs by {qpos_err:.2e} between backends"
    z = traj["mujoco"][-1, :, 2]
    assert ((z > 0.2) & (z < 0.32)).all(), f"base height {z.tolist()} should stay near the start height"


@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_mask_resets_only_masked_worlds(backend):
    model = cartpole_motor_model()
    sim = make_simulator(model, N, SimCfg(backend=backend))
    run_cartpole(sim, torch.full((10, N), 15.0))
    qpos, qvel = sim.qpos.clone(), sim.qvel.clone()
    assert (qvel.abs() > 0.01).all()
    mask = world_mask(True, False, True, False)
    sim.reset(mask)
    qpos0 = torch.as_tensor(model.qpos0, dtype=sim.qpos.dtype).expand(2, -1)
    torch.testing.assert_close(sim.qpos[mask], qpos0)
    assert (sim.qvel[mask] == 0).all()
    assert (sim.ctrl[mask] == 0).all()
    torch.testing.assert_close(sim.qpos[~mask], qpos[~mask])
    torch.testing.assert_close(sim.qvel[~mask], qvel[~mask])
    assert (sim.ctrl[~mask] == 15.0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_tensors_are_views_written_in_place(backend):
    model = cartpole_motor_model()
    sim = make_simulator(model, 2, SimCfg(backend=backend))
    assert (
        sim.qpos.shape == (2, model.nq)
        and sim.qvel.shape == (2, model.nv)
        and sim.ctrl.shape == (2, model.nu)
    )
    qpos = sim.qpos
    sim.qvel[1, 0] = 1.0  # cart moving in world 1 only
    sim.step()
    assert sim.qpos is qpos or sim.qpos.data_ptr() == qpos.data_ptr()
    assert qpos[1, 0] > 0.0 and qpos[0, 0] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_world_damping_changes_only_selected_worlds(backend):
    sim = cartpole_sim(backend, per_world_fields=("dof_damping",))
    damping = sim.model_field("dof_damping")
    assert damping.shape == (N, 2)
    default = damping.clone()
    new = default.clone()
    new[:, 0] = 50.0  # heavy viscous damping on the cart
    mask = world_mask(False, True, False, True)
    sim.write_model_field("dof_damping", new, mask)
    field = sim.model_field("dof_damping")
    torch.testing.assert_close(field[mask], new[mask])
    torch.testing.assert_close(field[~mask], default[~mask])
    sim.qvel[:, 0] = 2.0  # every cart starts with the same velocity
    for _ in range(30):
        sim.step()
    v = sim.qvel[:, 0].double()
    assert abs(v[0] - v[2]) < 1e-6 and abs(v[1] - v[3]) < 1e-6
    assert v[1].abs() < 0.5 * v[0].abs(), f"damped carts should slow down: {v.tolist()}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_world_qpos0_is_the_reset_state(backend):
    sim = cartpole_sim(backend, num_worlds=3, per_world_fields=("qpos0",))
    qpos0 = sim.model_field("qpos0").clone()
    qpos0[:, 1] = 0.5
    sim.write_model_field("qpos0", qpos0, world_mask(False, True, True))
    sim.qvel[:] = 1.0
    sim.step()
    moved = sim.qpos[2].clone()
    sim.reset(world_mask(True, True, False))
    torch.testing.assert_close(sim.qpos[0], torch.zeros(2, dtype=sim.qpos.dtype))
    torch.testing.assert_close(sim.qpos[1], torch.tensor([0.0, 0.5], dtype=sim.qpos.dtype))
    torch.testing.assert_close(sim.qpos[2], moved)
    assert (sim.qvel[:2] == 0).all() and (sim.qvel[2] != 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_field_not_declared_per_world_raises(backend):
    sim = cartpole_sim(backend, num_worlds=2)
    with pytest.raises(KeyError, match="per_world_fields"):
        sim.model_field("dof_damping")


def test_make_simulator_rejects_unknown_field_and_zero_worlds():
    with pytest.raises(ValueError, match=r"'jnt_range' cannot be set per world. Allowed: .*dof_damping"):
        make_simulator(cartpole_motor_model(), 2, SimCfg(backend="mujoco"), ("jnt_range",))
    with pytest.raises(ValueError, match="num_worlds must be >= 1"):
        make_simulator(cartpole_motor_model(), 0, SimCfg(backend="mujoco"))


def test_simcfg_timestep_overrides_model():
    sim = make_simulator(cartpole_motor_model(), 1, SimCfg(backend="mujoco", timestep=0.004))
    assert sim.timestep == pytest.approx(0.004)


def test_simcfg_solver_iterations_override_model():
    cfg = SimCfg(backend="mujoco", iterations=7, ls_iterations=11)
    sim = make_simulator(cartpole_motor_model(), 1, cfg)
    assert (sim.model.opt.iterations, sim.model.opt.ls_iterations) == (7, 11)


def test_resolve_backend():
    assert resolve_backend("auto", "cpu") == "mujoco"
    assert resolve_backend("auto", "cuda") == "mjwarp"
    assert resolve_backend("mjwarp", "cpu") == "mjwarp"
    assert resolve_backend("mujoco", "cpu") == "mujoco"
    with pytest.raises(ValueError, match=r"'mujoco' backend runs on the CPU.*--sim mjwarp"):
        resolve_backend("mujoco", "cuda")
    with pytest.raises(ValueError, match=r"Unknown sim backend 'physx'.*auto, mjwarp, mujoco"):
        resolve_backend("physx", "cpu")


def test_make_simulator_auto_on_cpu_is_c_mujoco():
    sim = make_simulator(cartpole_motor_model(), 2, SimCfg())
    assert type(sim).__name__ == "MujocoSimulator"
    assert sim.qpos.dtype == torch.float64


_FALLING_BOX = """
<mujoco>
  <worldbody>
    <geom type="plane" size="1 1 0.1"/>
    <body pos="0 0 0.2"><freejoint/><geom type="box" size="0.05 0.05 0.05"/></body>
  </worldbody>
</mujoco>
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropped_contact_rows_are_reported_per_world(backend):
    """A box landing on a plane needs 16 constraint rows (4 contacts, pyramidal cones). MuJoCo Warp with room
    for 4 per world drops rows, and the simulator reports those worlds (once; the flags are cleared); C
    MuJoCo grows its arena and drops nothing."""
    model = mujoco.MjModel.from_xml_string(_FALLING_BOX)
    sim = make_simulator(model, 2, SimCfg(backend=backend, njmax=4, nconmax=8))
    assert not sim.pop_buffer_overflows().any(), "in the air: no contacts yet"
    for _ in range(150):  # 0.3 s: the box has landed
        sim.step()
    assert sim.pop_buffer_overflows().tolist() == ([True, True] if backend == "mjwarp" else [False, False])
    if backend == "mjwarp":
        sim.step()
        assert sim.pop_buffer_overflows().all(), "still resting on the plane: rows dropped again"


WARP_CHATTER = ("Warp 1.", "Module ", "took", "CUDA Toolkit", "Kernel cache", "NVIDIA CUDA driver")
"""Pieces of the lines Warp printed on every mjwarp run (~44 on the CPU): its banner, one line per module
loaded, and the native library's warning that no NVIDIA driver was found."""


def test_mjwarp_is_quiet():
    """Building and stepping a MuJoCo Warp simulator prints nothing of Warp's (a fresh process: Warp prints its
    banner once, at its first init)."""
    script = (
        "from conftest import cartpole_motor_model\n"  # the same Warp settings as here: kernels cached
        "from roboforge.sim import SimCfg, make_simulator\n"
        "make_simulator(cartpole_motor_model(), 2, SimCfg(backend='mjwarp', device='cpu')).step()\n"
        "print('stepped')\n"
    )
    path = os.pathsep.join([str(ROOT / "tests"), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert done.stdout == "stepped\n", output
    assert not [line for line in output.splitlines() if any(piece in line for piece in WARP_CHATTER)], output
