"""Unitree H1: published actuator data in the compiled model, no sag at zero action, a short training run."""

from __future__ import annotations

import math
import re

import pytest
import torch

from conftest import menagerie_has
from roboforge.assets.robots.unitree import H1_EFFORT_LIMITS, H1_VELOCITY_LIMITS, h1_cfg
from roboforge.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.sim.simulator import Backend

pytestmark = pytest.mark.skipif(
    not menagerie_has("unitree_h1"), reason="MENAGERIE_ROOT with unitree_h1 not found"
)

URDF_EFFORT = {  # unitree_ros h1_description/urdf/h1.urdf, <limit effort=...> per joint (N m)
    "hip_yaw": 200.0, "hip_roll": 200.0, "hip_pitch": 200.0, "knee": 300.0, "ankle": 40.0, "torso": 200.0,
    "shoulder_pitch": 40.0, "shoulder_roll": 40.0, "shoulder_yaw": 18.0, "elbow": 18.0,
}  # fmt: skip
URDF_VELOCITY = {  # the same file, <limit velocity=...> (rad/s)
    "hip_yaw": 23.0, "hip_roll": 23.0, "hip_pitch": 23.0, "knee": 14.0, "ankle": 9.0, "torso": 23.0,
    "shoulder_pitch": 9.0, "shoulder_roll": 9.0, "shoulder_yaw": 20.0, "elbow": 20.0,
}  # fmt: skip
STANDING_HEIGHT = 1.03
"""Pelvis height (m) with the feet flat on the ground in the default pose."""


def urdf_value(table: dict[str, float], joint: str) -> float:
    return table[re.sub(r"^(left|right)_", "", joint)]


def h1_scene(num_envs: int, backend: Backend):
    scene = Scene(SceneCfg(num_envs=num_envs, entities={"robot": h1_cfg()}, visual_geoms=False))
    sim_cfg = SimCfg(
        backend=backend, device="cpu", timestep=0.005, iterations=10, ls_iterations=20, nconmax=48, njmax=192
    )
    sim = make_simulator(scene.model, num_envs, sim_cfg)
    scene.bind(sim)
    everyone = torch.ones(num_envs, dtype=torch.bool)
    sim.reset(everyone)
    scene.reset_to_default(everyone)
    return scene, sim


def zero_action_heights(backend: Backend, seconds: float, num_envs: int = 2) -> torch.Tensor:
    """Pelvis heights `(steps, num_envs)` while every joint tracks its default position."""
    scene, sim = h1_scene(num_envs, backend)
    robot = scene["robot"]
    heights = []
    for _ in range(round(seconds / 0.005)):
        robot.joint_pos_target[:] = robot.default_joint_pos
        scene.apply_actuators()
        sim.step()
        heights.append(robot.data.root_pos_w[:, 2].clone())
    return torch.stack(heights).float()


def test_compiled_actuators_carry_the_urdf_limits_and_unitree_gains():
    scene, _ = h1_scene(1, "mujoco")
    model, robot = scene.model, scene["robot"]
    names = robot.joint_names
    assert len(names) == 19
    for group in robot.actuator_groups:
        for i, joint in enumerate(group.joint_names):
            act = model.actuator(f"robot/{joint}")
            effort = urdf_value(URDF_EFFORT, joint)
            assert act.forcerange.tolist() == [-effort, effort], joint
            assert float(group.velocity_limit[i]) == urdf_value(URDF_VELOCITY, joint), joint
    kp = {n: float(model.actuator(f"robot/{n}").gainprm[0]) for n in names}
    assert (kp["left_hip_pitch"], kp["left_knee"], kp["left_ankle"], kp["torso"]) == (
        150.0,
        200.0,
        40.0,
        300.0,
    )
    assert (kp["right_shoulder_pitch"], kp["right_elbow"]) == (150.0, 100.0)
    assert model.dof_armature[-19:].tolist() == pytest.approx([0.1] * 19)  # Menagerie's, kept
    assert set(H1_EFFORT_LIMITS) == set(H1_VELOCITY_LIMITS)


def test_h1_holds_its_height_at_zero_action_on_the_c_backend():
    """No sag: 1.2 s at the default targets keeps the pelvis within 3 cm of its standing height."""
    z = zero_action_heights("mujoco", 1.2)
    settled = z[40:]  # after the 5 mm drop onto the feet (0.2 s)
    assert (settled - STANDING_HEIGHT).abs().max() < 0.03, (settled.min(), settled.max())


def test_h1_zero_action_on_mjwarp_cpu_matches_the_c_backend():
    z_warp = zero_action_heights("mjwarp", 0.4, num_envs=1)
    z_c = zero_action_heights("mujoco", 0.4, num_envs=1)
    assert (z_warp[40:] - STANDING_HEIGHT).abs().max() < 0.03
    assert (z_warp - z_c).abs().max() < 0.005


@pytest.mark.slow
def test_velocity_flat_h1_trains_a_few_iterations_on_the_cpu(tmp_path):
    from roboforge.rl.session import build_session
    from roboforge.rl.trainer import Trainer

    torch.manual_seed(0)
    session = build_session("velocity-flat-h1", num_envs=16, device="cpu", sim="mujoco", seed=0)
    result = Trainer(session, tmp_path, 3, quiet=True).train()
    assert result.iterations == 3 and not result.interrupted
    assert result.env_steps == 3 * 16 * session.agent_cfg.num_steps_per_env
    for value in [result.mean_return, result.mean_episode_length, *result.metrics.values()]:
        assert value is None or math.isfinite(value)
    assert not session.learner.diverged()  # finite actor weights, positive action std
