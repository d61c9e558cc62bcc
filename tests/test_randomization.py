"""Domain-randomization events on Menagerie Go1: in the masked worlds exactly the named model-field
entries (or gains, defaults, velocities) change, and nothing else in the model or state does."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from conftest import requires_go1, world_mask
from managers_util import built_term
from roboforge import mdp
from roboforge.assets import (
    ArticulationCfg,
    DCMotorActuatorCfg,
    ImplicitActuatorCfg,
    InitialStateCfg,
    MenagerieSpawnCfg,
)
from roboforge.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.sim.simulator import PER_WORLD_FIELDS, Backend

pytestmark = requires_go1
N = 3
MASK = world_mask(True, False, True)
LEGS: dict[str, Any] = {"stiffness": 25.0, "damping": 0.6, "effort_limit": 23.7}


@pytest.fixture(scope="module")
def scene() -> Scene:
    """Go1 with implicit front legs and DC-motor rear legs (compiled once: meshes take seconds)."""
    robot = ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 0.3), joint_pos={".*_thigh_joint": 0.9, ".*_calf_joint": -1.8}
        ),
        actuators={
            "front": ImplicitActuatorCfg(joint_names_expr=["F[LR]_.*"], **LEGS),
            "rear": DCMotorActuatorCfg(
                joint_names_expr=["R[LR]_.*"], saturation_effort=23.7, velocity_limit=30.0, **LEGS
            ),
        },
    )
    return Scene(SceneCfg(num_envs=N, entities={"robot": robot}))


def make_env(scene: Scene, backend: Backend = "mujoco") -> SimpleNamespace:
    """A bare env (scene + simulator with every per-world field) as event terms see it."""
    # a copy per simulator: the C backend sets model flags that MuJoCo Warp rejects
    sim = make_simulator(copy.deepcopy(scene.model), N, SimCfg(backend=backend), PER_WORLD_FIELDS)
    scene.bind(sim)
    sim.reset(world_mask(*[True] * N))
    scene.reset_to_default(world_mask(*[True] * N))
    return SimpleNamespace(
        scene=scene, sim=sim, num_envs=N, device=sim.device, rng=torch.Generator().manual_seed(3)
    )


def snapshot(env) -> dict[str, torch.Tensor]:
    robot = env.scene["robot"]
    snap = {f: env.sim.model_field(f).clone() for f in PER_WORLD_FIELDS}
    snap |= {"qpos": env.sim.qpos.clone(), "qvel": env.sim.qvel.clone()}
    snap["default_joint_pos"] = robot.default_joint_pos.clone()
    for g in robot.actuator_groups:
        snap[f"{g.cfg.joint_names_expr[0]}.kp"] = g.stiffness.clone()
        snap[f"{g.cfg.joint_names_expr[0]}.kd"] = g.damping.clone()
    return snap


def assert_changes_exactly(before, after, expected: dict[str, torch.Tensor]) -> None:
    """`expected[key]`: bool mask of the entries that must change; every other entry must stay the same."""
    for key, old in before.items():
        changed = after[key] != old
        want = expected.get(key, torch.zeros_like(changed))
        assert torch.equal(changed, want), (
            f"{key}: changed {changed.nonzero().tolist()}, expected {want.nonzero().tolist()}"
        )


def entries(shape, worlds=MASK, rows=None, cols=None) -> torch.Tensor:
    """Bool mask `shape = (N, rows[, cols])` selecting `worlds` x `rows` (None: all) x `cols` (None: all)."""
    row_mask = torch.zeros(shape[1], dtype=torch.bool)
    row_mask[slice(None) if rows is None else torch.tensor(rows)] = True
    mask = worlds[:, None] & row_mask[None, :]
    if len(shape) == 3:
        col_mask = torch.zeros(shape[2], dtype=torch.bool)
        col_mask[slice(None) if cols is None else cols] = True
        mask = mask[:, :, None] & col_mask[None, None, :]
    return mask


def geom_ids(env, names: list[str]) -> list[int]:
    return [env.sim.model.geom(n).id for n in names]


def robot_geoms(env) -> list[int]:
    bodies = set(env.scene["robot"].body_ids)
    return [g for g in range(env.sim.model.ngeom) if int(env.sim.model.geom_bodyid[g]) in bodies]


def test_model_fields_are_declared(scene):
    assert mdp.randomize_friction.model_fields == ("geom_friction",)  # type: ignore[attr-defined]
    assert mdp.add_base_mass.model_fields == ("body_mass",)  # type: ignore[attr-defined]
    assert mdp.randomize_com.model_fields == ("body_ipos",)  # type: ignore[attr-defined]
    gains = mdp.randomize_actuator_gains.model_fields  # type: ignore[attr-defined]
    assert gains == ("actuator_gainprm", "actuator_biasprm")


def test_randomize_friction(scene):
    env = make_env(scene)
    shape = env.sim.model_field("geom_friction").shape
    robot = built_term(mdp.randomize_friction, env, event=True, friction_range=(0.3, 0.5))
    feet_params = {"friction_range": (1.5, 2.0), "operation": "scale", "geom_names": ["F[LR]"]}
    feet_scaled = built_term(mdp.randomize_friction, env, event=True, **feet_params)
    ground_params = {"friction_range": (0.4, 0.6), "asset_name": None, "geom_names": ["ground"]}
    ground = built_term(mdp.randomize_friction, env, event=True, **ground_params)
    before = snapshot(env)
    robot(env, MASK)
    after = snapshot(env)
    expected = entries(shape, rows=robot_geoms(env), cols=0)
    assert_changes_exactly(before, after, {"geom_friction": expected})
    values = after["geom_friction"][expected]
    assert ((values >= 0.3) & (values <= 0.5)).all()
    # named feet only, scaled; then the scene's ground by its full name
    before = after
    feet_scaled(env, MASK)
    after = snapshot(env)
    feet = entries(shape, rows=geom_ids(env, ["robot/FL", "robot/FR"]), cols=0)
    assert_changes_exactly(before, after, {"geom_friction": feet})
    nominal = float(env.sim.model.geom("robot/FL").friction[0])
    assert (after["geom_friction"][feet] >= 1.5 * nominal - 1e-9).all()
    before = after
    ground(env, MASK)
    assert_changes_exactly(before, snapshot(env), {"geom_friction": entries(shape, rows=[0], cols=0)})


def test_add_base_mass_and_randomize_com(scene):
    env = make_env(scene)
    trunk = env.sim.model.body("robot/trunk").id
    add_mass = built_term(mdp.add_base_mass, env, event=True, mass_range=(1.0, 2.0))
    before = snapshot(env)
    add_mass(env, MASK)
    after = snapshot(env)
    mass_shape = before["body_mass"].shape
    assert_changes_exactly(before, after, {"body_mass": entries(mass_shape, rows=[trunk])})
    added = after["body_mass"][:, trunk] - before["body_mass"][:, trunk]
    assert ((added[MASK] >= 1.0) & (added[MASK] <= 2.0)).all()
    add_mass(env, MASK)  # draws around the nominal mass: no drift
    again = env.sim.model_field("body_mass")[:, trunk] - before["body_mass"][:, trunk]
    assert ((again[MASK] >= 1.0) & (again[MASK] <= 2.0)).all()
    before = snapshot(env)
    com_range = {"x": (-0.05, 0.05), "y": (0.01, 0.02), "z": (-0.02, -0.01)}
    built_term(mdp.randomize_com, env, event=True, com_range=com_range)(env, MASK)
    after = snapshot(env)
    ipos = entries(before["body_ipos"].shape, rows=[trunk])
    assert_changes_exactly(before, after, {"body_ipos": ipos})
    shift = after["body_ipos"][:, trunk] - before["body_ipos"][:, trunk]
    assert ((shift[MASK, 1] >= 0.01) & (shift[MASK, 1] <= 0.02)).all()
    # thighs, by regex, get mass too
    before = after
    built_term(mdp.add_base_mass, env, event=True, mass_range=(0.1, 0.2), body_names=[".*_thigh"])(env, MASK)
    thighs = [env.sim.model.body(f"robot/{leg}_thigh").id for leg in ("FR", "FL", "RR", "RL")]
    assert_changes_exactly(before, snapshot(env), {"body_mass": entries(mass_shape, rows=thighs)})


def test_randomize_actuator_gains_implicit_and_dc_motor(scene):
    env = make_env(scene)
    robot = env.scene["robot"]
    front, rear = robot.actuator_groups
    ctrl = [env.sim.model.actuator(f"robot/{leg}_thigh_joint").id for leg in ("FR", "FL")]
    front_cols = [front.joint_names.index(f"{leg}_thigh_joint") for leg in ("FR", "FL")]
    rear_cols = [rear.joint_names.index(f"{leg}_thigh_joint") for leg in ("RR", "RL")]
    before = snapshot(env)
    gains = {"stiffness_range": (0.5, 0.8), "damping_range": (1.2, 1.5), "joint_names": [".*_thigh_joint"]}
    built_term(mdp.randomize_actuator_gains, env, event=True, **gains)(env, MASK)
    after = snapshot(env)
    gain, bias = before["actuator_gainprm"].shape, before["actuator_biasprm"].shape
    kp_front, kp_rear = before["F[LR]_.*.kp"].shape, before["R[LR]_.*.kp"].shape
    expected = {
        "actuator_gainprm": entries(gain, rows=ctrl, cols=0),
        "actuator_biasprm": entries(bias, rows=ctrl, cols=1) | entries(bias, rows=ctrl, cols=2),
        "F[LR]_.*.kp": entries(kp_front, rows=front_cols),
        "F[LR]_.*.kd": entries(kp_front, rows=front_cols),
        "R[LR]_.*.kp": entries(kp_rear, rows=rear_cols),
        "R[LR]_.*.kd": entries(kp_rear, rows=rear_cols),
    }
    assert_changes_exactly(before, after, expected)
    kp = after["actuator_gainprm"][:, front.ctrl_ids, 0]
    torch.testing.assert_close(-after["actuator_biasprm"][:, front.ctrl_ids, 1], kp)
    torch.testing.assert_close(front.stiffness, kp.float())  # the group mirrors the model's gains
    torch.testing.assert_close(front.damping, -after["actuator_biasprm"][:, front.ctrl_ids, 2].float())
    scale = rear.stiffness[MASK][:, rear_cols] / 25.0
    assert ((scale >= 0.5) & (scale <= 0.8)).all()


def test_randomize_joint_default_offsets_moves_defaults_and_action_offsets(scene):
    env = make_env(scene)
    robot = env.scene["robot"]
    action = mdp.JointPositionActionCfg(joint_names=[".*"], scale=0.25).build(env)
    env.action_manager = SimpleNamespace(terms={"legs": action})
    offset_before = action.offset.clone()
    before = snapshot(env)
    offsets = {"offset_range": (0.01, 0.05), "joint_names": [".*_calf_joint"]}
    built_term(mdp.randomize_joint_default_offsets, env, event=True, **offsets)(env, MASK)
    after = snapshot(env)
    calves, _ = robot.find_joints(".*_calf_joint")
    expected = entries(before["default_joint_pos"].shape, rows=calves)
    assert_changes_exactly(before, after, {"default_joint_pos": expected})
    torch.testing.assert_close(
        action.offset - offset_before, robot.default_joint_pos - before["default_joint_pos"]
    )


@pytest.mark.parametrize("backend", ["mujoco"])
def test_push_by_setting_velocity(scene, backend: Backend):
    env = make_env(scene, backend)
    before = snapshot(env)
    velocity_range = {"x": (0.5, 1.0), "yaw": (-1.0, -0.5)}
    built_term(mdp.push_by_setting_velocity, env, event=True, velocity_range=velocity_range)(env, MASK)
    after = snapshot(env)
    expected = entries(before["qvel"].shape, rows=[0]) | entries(before["qvel"].shape, rows=[5])
    assert_changes_exactly(before, after, {"qvel": expected})  # root frame = world at the default pose


def test_mjwarp_cpu_gains_and_friction(scene):
    """The same writes on MuJoCo Warp's per-world arrays (float32, batched on the world axis)."""
    env = make_env(scene, "mjwarp")
    robot = env.scene["robot"]
    front = robot.actuator_groups[0]
    before = snapshot(env)
    gains = {"stiffness_range": (0.5, 0.8), "damping_range": (1.2, 1.5)}
    built_term(mdp.randomize_actuator_gains, env, event=True, **gains)(env, MASK)
    feet_friction = {"friction_range": (0.3, 0.5), "geom_names": ["F[LR]", "R[LR]"]}
    built_term(mdp.randomize_friction, env, event=True, **feet_friction)(env, MASK)
    after = snapshot(env)
    feet = geom_ids(env, ["robot/FL", "robot/FR", "robot/RL", "robot/RR"])
    gain, bias = before["actuator_gainprm"].shape, before["actuator_biasprm"].shape
    rows = front.ctrl_ids.tolist()
    expected = {
        "geom_friction": entries(before["geom_friction"].shape, rows=feet, cols=0),
        "actuator_gainprm": entries(gain, rows=rows, cols=0),
        "actuator_biasprm": entries(bias, rows=rows, cols=1) | entries(bias, rows=rows, cols=2),
        "F[LR]_.*.kp": entries(before["F[LR]_.*.kp"].shape),
        "F[LR]_.*.kd": entries(before["F[LR]_.*.kd"].shape),
        "R[LR]_.*.kp": entries(before["R[LR]_.*.kp"].shape),
        "R[LR]_.*.kd": entries(before["R[LR]_.*.kd"].shape),
    }
    assert_changes_exactly(before, after, expected)
    torch.testing.assert_close(front.stiffness, after["actuator_gainprm"][:, front.ctrl_ids, 0])
