"""Deformable objects (issue 19, part 5): a soft cube on MuJoCo flex bodies, its state, reset, stiffness
randomization, and the Panda lifting it (`lift-soft-cube-panda`)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch

from conftest import all_worlds, menagerie_has, world_mask
from managers_util import built_term
from roboforge import mdp
from roboforge.assets import InitialStateCfg
from roboforge.assets.deformable import DeformableObjectCfg
from roboforge.assets.robots.franka import PANDA_ARM_JOINTS
from roboforge.envs import make_env
from roboforge.mdp import deformable
from roboforge.scene.deformable import DeformableObject
from roboforge.scene.scene import Scene, SceneCfg
from roboforge.sim import SimCfg
from roboforge.sim.factory import make_simulator
from roboforge.tasks.lift.soft_lift_env_cfg import soft_lift_env_cfg
from roboforge.utils.config import ConfigError

N = 4
FLEX_FIELDS = ("flex_stiffness", "flex_damping")
panda = pytest.mark.skipif(not menagerie_has("franka_emika_panda"), reason="no franka_emika_panda model")


def soft_cube_env(z: float = 0.025, per_world: tuple[str, ...] = (), **cube_cfg) -> SimpleNamespace:
    """A bare env (scene + C simulator) with one 5 cm soft cube centred at height `z`, as terms see it."""
    cube = DeformableObjectCfg(init_state=InitialStateCfg(pos=(0.3, 0.1, z)), **cube_cfg)
    scene = Scene(SceneCfg(num_envs=N, entities={"cube": cube}))
    sim = make_simulator(copy.deepcopy(scene.model), N, SimCfg(backend="mujoco", timestep=0.005), per_world)
    scene.bind(sim)
    sim.reset(all_worlds(N))
    scene.reset_to_default(all_worlds(N))
    return SimpleNamespace(
        scene=scene, sim=sim, num_envs=N, device=sim.device, rng=torch.Generator().manual_seed(0)
    )


def cell_volume(cube: DeformableObject) -> torch.Tensor:
    """Signed volume (m^3) spanned by a 2 x 2 x 2 cube's edges from node 0 (125 cm^3 at rest) `(num_envs,)`."""
    p = cube.data.node_pos_w  # grid order, the last index fastest: node 4i + 2j + k
    x, y, z = p[:, 4] - p[:, 0], p[:, 2] - p[:, 0], p[:, 1] - p[:, 0]
    return (torch.linalg.cross(x, y) * z).sum(-1)


def extent(cube: DeformableObject, axis: int) -> torch.Tensor:
    """Size of the node cloud along `axis` `(num_envs,)`."""
    p = cube.data.node_pos_w[..., axis]
    return p.amax(1) - p.amin(1)


def test_state_tensors_have_per_world_shapes():
    env = soft_cube_env(z=0.2)
    cube = env.scene["cube"]
    assert isinstance(cube, DeformableObject) and cube.num_nodes == 8  # full, 2 x 2 x 2 vertices
    assert cube.data.node_pos_w.shape == (N, 8, 3) and cube.data.node_vel_w.shape == (N, 8, 3)
    assert cube.data.com_pos_w.shape == (N, 3)
    assert torch.allclose(cube.data.root_pos_w, torch.tensor([0.3, 0.1, 0.2]).expand(N, 3), atol=1e-6)
    assert torch.allclose(extent(cube, 0), torch.full((N,), 0.05), atol=1e-6)
    full = soft_cube_env(z=0.2, count=3).scene["cube"]
    assert full.data.node_pos_w.shape == (N, 27, 3)  # every vertex of the 3 x 3 x 3 grid is a node
    trilinear = soft_cube_env(z=0.2, count=3, dof="trilinear").scene["cube"]
    assert trilinear.data.node_pos_w.shape == (N, 8, 3)  # the cell's corners drive the 27 vertices


def test_a_dropped_soft_cube_falls_squashes_on_impact_and_comes_to_rest():
    env = soft_cube_env(z=0.2)
    cube = env.scene["cube"]
    heights, spreads = [], []
    for _ in range(200):  # 1 s
        env.sim.step()
        heights.append(cube.data.com_pos_w[:, 2].clone())
        spreads.append(extent(cube, 2))
    heights, spreads = torch.stack(heights), torch.stack(spreads)
    assert (heights[-1] - 0.025).abs().max() < 0.003, heights[-1]  # resting on the ground
    assert (spreads[:20] - 0.05).abs().max() < 1e-3  # falling freely: undeformed
    assert (spreads.amin(0) < 0.0495).all(), spreads.amin(0)  # the impact (1 m/s) squashes it by ~1 mm ...
    assert (spreads[-1] - 0.05).abs().max() < 5e-4  # ... and it springs back, sagging a little
    assert torch.isfinite(cube.data.node_vel_w).all()


def test_masked_reset_restores_the_default_shape_in_the_selected_worlds_only():
    env = soft_cube_env(z=0.2)
    cube = env.scene["cube"]
    for _ in range(60):
        env.sim.step()
    before = cube.data.node_pos_w.clone()
    mask = world_mask(True, False, True, False)
    cube.reset_to_default(mask)
    after = cube.data.node_pos_w
    assert torch.allclose(after[mask], cube.default_node_pos_w[mask], atol=1e-6)
    assert torch.equal(after[~mask], before[~mask])
    assert (cube.data.node_vel_w[mask] == 0).all() and (cube.data.node_vel_w[~mask] != 0).any()
    pos = torch.tensor([[0.5, 0.0, 0.3]]).expand(N, 3)
    quarter_turn = torch.tensor([[0.7071068, 0.0, 0.0, 0.7071068]]).expand(N, 4)
    cube.write_root_state(pos, quarter_turn, torch.zeros(N, 3), torch.zeros(N, 3), mask)
    assert torch.allclose(cube.data.com_pos_w[mask], pos[mask], atol=1e-5)
    assert torch.allclose(extent(cube, 1)[mask], torch.full((2,), 0.05), atol=1e-5)  # rigidly placed


def squeezed_height(env: SimpleNamespace, force: float = 10.0, steps: int = 300) -> torch.Tensor:
    """Height `(num_envs,)` of the cube on the ground under `force` (N) pressing its top nodes down."""
    cube = env.scene["cube"]
    top = cube.data.node_pos_w[0, :, 2] > cube.data.com_pos_w[0, 2]
    bodies = torch.tensor(cube.node_body_ids)[top]
    env.sim.xfrc_applied[:, bodies, 2] = -force / int(top.sum())
    for _ in range(steps):
        env.sim.step()
    return extent(cube, 2)


def test_stiffness_randomization_changes_the_deformation_per_world():
    env = soft_cube_env(per_world=FLEX_FIELDS)
    stiffer = world_mask(False, True, False, True)
    term = built_term(deformable.randomize_deformable_stiffness, env, event=True, young_scale=(2.0, 2.0))
    term(env, stiffer)
    nominal = env.sim.model_field("flex_stiffness")[0]
    assert torch.allclose(env.sim.model_field("flex_stiffness")[1], 2 * nominal)
    dent = 0.05 - squeezed_height(env)
    assert (dent > 0.0005).all(), dent  # 10 N dents 1e5 Pa foam by about a millimetre
    ratio = dent[~stiffer].mean() / dent[stiffer].mean()
    assert 1.6 < ratio < 2.4, f"twice the Young's modulus should about halve the dent: {dent}"
    assert mdp.deformable.randomize_deformable_stiffness.model_fields == FLEX_FIELDS  # type: ignore[attr-defined]


def test_per_world_flex_stiffness_on_mujoco_warp_is_one_clear_error():
    scene = Scene(SceneCfg(num_envs=2, entities={"cube": DeformableObjectCfg()}))
    with pytest.raises(ConfigError) as err:
        make_simulator(scene.model, 2, SimCfg(backend="mjwarp"), ("flex_stiffness",))
    message = str(err.value)
    assert "\n" not in message and "--sim mujoco" in message and "MuJoCo Warp" in message


def test_bad_soft_cube_configs_are_one_line_errors():
    for bad in (
        dict(count=1),
        dict(count=1000),
        dict(poisson=0.5),
        dict(init_state=InitialStateCfg(rot=(0.0, 0.0, 0.0, 1.0))),
    ):
        with pytest.raises(ConfigError, match="DeformableObjectCfg"):
            Scene(SceneCfg(num_envs=1, entities={"cube": DeformableObjectCfg(**bad)}))  # type: ignore[arg-type]


def test_a_trilinear_flex_on_mujoco_warp_is_one_clear_error():
    """MuJoCo Warp 4.0.0 let a trilinear cube slip out of the Panda's grasp (see assets/deformable.py)."""
    cube = DeformableObjectCfg(dof="trilinear")
    scene = Scene(SceneCfg(num_envs=2, entities={"cube": cube}))
    with pytest.raises(ConfigError) as err:
        make_simulator(scene.model, 2, SimCfg(backend="mjwarp"))
    message = str(err.value)
    assert "\n" not in message and "dof='full'" in message and "--sim mujoco" in message
    assert make_simulator(scene.model, 2, SimCfg(backend="mujoco")).num_worlds == 2


@panda
def test_soft_lift_task_builds_and_steps():
    """On the C backend; MuJoCo Warp's run is the grasp test below (and tests/test_envs.py)."""
    env = make_env("lift-soft-cube-panda", soft_lift_env_cfg(num_envs=2))
    for _ in range(5):
        obs, reward, *_ = env.step(torch.zeros(2, 8))
    assert obs["policy"].shape == (2, 36 + 24)  # lift's observations + the 8 nodes' offsets
    assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
    assert env.pop_episode_stats()["sim_overflows"] == 0.0
    com = env.scene["cube"].data.root_pos_w
    assert (com[:, 2] - 0.025).abs().max() < 0.003 and ((com[:, 0] > 0.35) & (com[:, 0] < 0.65)).all()


@panda
def test_soft_lift_with_stiffness_randomization_needs_the_c_backend():
    cfg = soft_lift_env_cfg(num_envs=2, randomize_stiffness=True)
    cfg.sim.backend = "mjwarp"
    with pytest.raises(ConfigError, match="--sim mujoco"):
        make_env("lift-soft-cube-panda", cfg)
    cfg.sim.backend = "mujoco"
    env = make_env("lift-soft-cube-panda", cfg)
    young = env.sim.model_field("flex_stiffness")[:, 0]
    assert young.unique().numel() == 2  # one draw per world at the first reset


@panda
@pytest.mark.parametrize("backend", ["mujoco", "mjwarp"])
def test_scripted_grasp_squeezes_and_lifts_the_soft_cube(backend):
    """Both backends hold the cube (a trilinear one slipped out on MuJoCo Warp), with room for every contact."""
    arm = mdp.DifferentialIKActionCfg(joint_names=PANDA_ARM_JOINTS, body_name="tcp", ik_method="dls")
    n = 2
    cfg = soft_lift_env_cfg(num_envs=n, arm_action=arm)
    cfg.sim.backend = backend
    env = make_env("lift-soft-cube-panda", cfg)
    cube = env.scene["cube"]
    start = cube.data.root_pos_w.clone()
    down = torch.tensor([0.0, 1.0, 0.0, 0.0]).expand(n, 4)

    def go(dz: float, grip: float, steps: int) -> None:
        action = torch.cat((start + torch.tensor([0.0, 0.0, dz]), down, torch.full((n, 1), grip)), dim=1)
        for _ in range(steps):
            env.step(action)

    go(0.10, 1.0, 25)  # above the cube, open
    go(0.0, 1.0, 25)  # around it
    go(0.0, -1.0, 15)  # close
    squeezed = torch.minimum(extent(cube, 0), extent(cube, 1))
    volumes = []
    for k in range(1, 21):  # lift 20 cm over 0.4 s
        go(0.2 * k / 20, -1.0, 1)
        volumes.append(cell_volume(cube))
    go(0.2, -1.0, 5)
    assert (squeezed < 0.048).all(), squeezed  # the fingers dent the foam (4 mm at 1e5 Pa)
    # ... without collapsing (at 5e4 Pa the held cube's volume fell to 73 cm^3 while lifting, then to 30)
    assert torch.stack(volumes).amin() > 100e-6, torch.stack(volumes).amin(0)
    assert (cube.data.root_pos_w[:, 2] > 0.14).all(), cube.data.root_pos_w[:, 2]
    assert env.pop_episode_stats()["sim_overflows"] == 0.0
