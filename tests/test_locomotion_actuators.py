"""Locomotion actuators: DC motor envelope, delayed targets, per-world gains, applied effort."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from conftest import requires_go1, world_mask
from roboforge.assets import ArticulationCfg, DCMotorActuatorCfg, InitialStateCfg, MenagerieSpawnCfg
from roboforge.assets.actuators import ActuatorGroup, IdealPDActuatorCfg, ImplicitActuatorCfg
from roboforge.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.utils.config import ConfigError


# --- actuators ---------------------------------------------------------------------------------------------
def test_dc_motor_clips_torque_to_the_speed_envelope():
    cfg = DCMotorActuatorCfg(
        joint_names_expr=[".*"], stiffness=100.0, damping=0.0, saturation_effort=20.0, effort_limit=15.0,
        velocity_limit=10.0,
    )  # fmt: skip
    group = ActuatorGroup(cfg, [0], ["a"], [0], "cpu", num_envs=5)
    qd = torch.tensor([[0.0], [5.0], [5.0], [-5.0], [12.0]])
    target = torch.tensor([[1.0], [1.0], [-1.0], [-1.0], [1.0]])  # PD asks for +-100 N m
    torque = group.compute(torch.zeros(5, 1), qd, target, torch.zeros(5, 1), torch.zeros(5, 1))
    # qd=0: min(20, 15) = 15; qd=5 pushing: 20 (1 - 0.5) = 10; qd=5 braking: max(-20 (1.5), -15) = -15;
    # qd=-5 pushing back: -10; past the no-load speed: no positive torque at all
    torch.testing.assert_close(torque, torch.tensor([[15.0], [10.0], [-15.0], [-10.0], [0.0]]))
    low, high = group.torque_speed_bounds(qd)
    assert (low <= 0).all() and (high >= 0).all()


@pytest.mark.parametrize("kind", [IdealPDActuatorCfg, ImplicitActuatorCfg])
def test_delay_shifts_targets_by_exactly_k_physics_steps(kind):
    cfg = kind(joint_names_expr=[".*"], stiffness=1.0, damping=0.0, delay_range=(0, 3))
    group = ActuatorGroup(cfg, [0, 1], ["a", "b"], [0, 1], "cpu", num_envs=4)
    zeros = torch.zeros(4, 2)
    group.reset(world_mask(True, True, True, True), zeros, zeros, zeros, torch.Generator().manual_seed(0))
    group.delay[:] = torch.tensor([0, 1, 2, 3])
    outputs = []
    for t in range(1, 8):
        target = torch.full((4, 2), float(t))
        outputs.append(group.compute(zeros, zeros, target, zeros, zeros))  # torque or target = delayed target
    out = torch.stack(outputs)[:, :, 0]  # (time, world)
    for k in range(4):
        expected = torch.tensor([max(t - k, 0) for t in range(1, 8)], dtype=torch.float32)
        torch.testing.assert_close(out[:, k], expected)
    # a reset refills the selected worlds' history with their current targets and draws delays in range
    five = torch.full((4, 2), 5.0)
    group.reset(world_mask(False, False, False, True), five, zeros, zeros, torch.Generator().manual_seed(1))
    assert 0 <= int(group.delay[3]) <= 3 and group.delay[:3].tolist() == [0, 1, 2]
    torch.testing.assert_close(group.compute(zeros, zeros, five, zeros, zeros)[3], torch.full((2,), 5.0))


@pytest.mark.parametrize("delay_range", [(2, 1), (-1, 0), (0, 10**9)])
def test_a_delay_range_out_of_bounds_names_the_field(delay_range):
    """(0, 10**9) was accepted: the group keeps max + 1 steps of targets per world."""
    cfg = IdealPDActuatorCfg(joint_names_expr=[".*"], stiffness=1.0, damping=0.0, delay_range=delay_range)
    with pytest.raises(ConfigError, match=r"delay_range must be .* <= 1000, got"):
        ActuatorGroup(cfg, [0, 1], ["a", "b"], [0, 1], "cpu", num_envs=4)


def test_per_world_gains_change_only_their_world():
    cfg = IdealPDActuatorCfg(joint_names_expr=[".*"], stiffness=10.0, damping=1.0)
    group = ActuatorGroup(cfg, [0, 1], ["a", "b"], [0, 1], "cpu", num_envs=2)
    assert group.stiffness.shape == (2, 2) and group.default_stiffness.tolist() == [10.0, 10.0]
    group.stiffness[1, 0] = 20.0
    group.damping[1, 1] = 3.0
    zeros, ones = torch.zeros(2, 2), torch.ones(2, 2)
    torque = group.compute(zeros, ones, ones, zeros, zeros)  # kp * 1 + kd * (0 - 1)
    torch.testing.assert_close(torque, torch.tensor([[9.0, 9.0], [19.0, 7.0]]))


def test_applied_effort_of_motor_and_implicit_groups():
    pos, vel = torch.tensor([[0.1, 0.2]]), torch.tensor([[1.0, -1.0]])
    ctrl = torch.tensor([[7.0, 0.5, 3.0]])
    motor = ActuatorGroup(IdealPDActuatorCfg(joint_names_expr=[".*"]), [0], ["a"], [0], "cpu")
    implicit = ActuatorGroup(
        ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness=10.0, damping=2.0), [1], ["b"], [1], "cpu"
    )
    torch.testing.assert_close(motor.applied_effort(pos, vel, ctrl), torch.tensor([[7.0]]))
    torch.testing.assert_close(implicit.applied_effort(pos, vel, ctrl), torch.tensor([[10 * 0.3 + 2.0]]))


@requires_go1
def test_entity_reset_starts_delayed_targets_at_the_defaults():
    legs: dict[str, Any] = {"stiffness": 20.0, "damping": 0.5, "effort_limit": 23.7}
    robot = ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml"),
        init_state=InitialStateCfg(pos=(0.0, 0.0, 0.3), joint_pos={".*_calf_joint": -1.5}),
        actuators={"legs": IdealPDActuatorCfg(joint_names_expr=[".*"], delay_range=(2, 2), **legs)},
    )
    scene = Scene(SceneCfg(num_envs=2, entities={"robot": robot}))
    sim = make_simulator(scene.model, 2, SimCfg(backend="mujoco"))
    scene.bind(sim)
    entity = scene["robot"]
    sim.reset(world_mask(True, True))
    scene.reset_to_default(world_mask(True, True))
    group = entity.actuator_groups[0]
    assert group.delay.tolist() == [2, 2]
    torques = []
    for _ in range(3):
        entity.joint_pos_target[:] = entity.default_joint_pos + 0.1
        scene.apply_actuators()
        torques.append(sim.ctrl.clone())
    q = entity.data.joint_pos
    expected_default = 20.0 * (entity.default_joint_pos - q)  # joints at rest at the defaults
    torch.testing.assert_close(torques[0].float(), expected_default, atol=1e-5, rtol=0)
    torch.testing.assert_close(torques[1].float(), expected_default, atol=1e-5, rtol=0)
    torch.testing.assert_close(torques[2].float(), expected_default + 2.0, atol=1e-5, rtol=0)
