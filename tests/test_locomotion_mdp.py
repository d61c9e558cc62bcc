"""Locomotion pieces: DC motor / delayed / per-world-gain actuators, velocity and planar-goal commands,
and locomotion reward and termination terms on small fake envs (contact sensors are fakes too)."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from conftest import requires_go1, world_mask
from roboforge import mdp
from roboforge.assets import ArticulationCfg, DCMotorActuatorCfg, InitialStateCfg, MenagerieSpawnCfg
from roboforge.assets.actuators import ActuatorGroup, IdealPDActuatorCfg, ImplicitActuatorCfg
from roboforge.managers import CommandManager
from roboforge.scene import Scene, SceneCfg
from roboforge.sim import SimCfg, make_simulator
from roboforge.sim.simulator import Backend
from roboforge.utils.math import quat_from_euler_xyz

N = 3


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


# --- fake env -------------------------------------------------------------------------------------------
class FakeScene(dict):
    """`scene[name]` entities plus the attributes commands and contact terms read."""

    def __init__(self, entities, env_origins=None, sensors=None, terrain=None):
        super().__init__(entities)
        self.env_origins = env_origins if env_origins is not None else torch.zeros(N, 3)
        self.sensors = sensors or {}
        if terrain is not None:
            self.terrain = terrain


def fake_robot(yaw=(0.0, 0.0, 0.0), pos=None, lin_vel_b=None, ang_vel_b=None):
    yaw_t = torch.tensor(yaw)
    quat = quat_from_euler_xyz(torch.zeros(N), torch.zeros(N), yaw_t)
    data = SimpleNamespace(
        root_quat_w=quat,
        root_pos_w=pos if pos is not None else torch.zeros(N, 3),
        root_lin_vel_b=lin_vel_b if lin_vel_b is not None else torch.zeros(N, 3),
        root_ang_vel_b=ang_vel_b if ang_vel_b is not None else torch.zeros(N, 3),
    )
    return SimpleNamespace(name="robot", data=data, default_root_pos=torch.tensor([[0.0, 0.0, 0.3]] * N))


def fake_env(robot=None, **scene_kwargs):
    scene = FakeScene({"robot": robot or fake_robot()}, **scene_kwargs)
    return SimpleNamespace(
        scene=scene,
        num_envs=N,
        device=torch.device("cpu"),
        rng=torch.Generator().manual_seed(0),
        max_episode_length=100,
        episode_length_buf=torch.zeros(N, dtype=torch.long),
        step_dt=0.02,
    )


ALL = world_mask(True, True, True)


# --- velocity command ----------------------------------------------------------------------------------
def test_velocity_command_ranges_standing_and_metrics():
    env = fake_env(fake_robot(lin_vel_b=torch.tensor([[0.5, 0.0, 0.0]] * N)))
    ranges = mdp.VelocityRanges(lin_vel_x=(1.0, 2.0), lin_vel_y=(-0.5, -0.2), ang_vel_z=(0.3, 0.4))
    manager = CommandManager({"base_velocity": mdp.UniformVelocityCommandCfg(ranges=ranges)}, env)
    term = manager.terms["base_velocity"]
    manager.reset(ALL)
    cmd = manager.get_command("base_velocity")
    assert cmd.shape == (N, 3)
    assert ((cmd[:, 0] >= 1.0) & (cmd[:, 0] <= 2.0)).all() and (
        (cmd[:, 1] >= -0.5) & (cmd[:, 1] <= -0.2)
    ).all()
    manager.compute(env.step_dt)
    expected_xy = torch.norm(cmd[:, :2] - torch.tensor([0.5, 0.0]), dim=1)
    torch.testing.assert_close(term.metrics["error_vel_xy"], expected_xy)
    torch.testing.assert_close(term.metrics["error_vel_yaw"], cmd[:, 2].abs())
    log = manager.reset(ALL)
    total, count = log["Metrics/base_velocity/error_vel_xy"]
    assert count == N
    torch.testing.assert_close(total / count, expected_xy.mean())
    # every world standing: all-zero command, right after the resample and after updates
    standing = mdp.UniformVelocityCommandCfg(ranges=ranges, rel_standing_envs=1.0)
    manager = CommandManager({"base_velocity": standing}, env)
    manager.reset(ALL)
    assert (manager.get_command("base_velocity") == 0).all()
    manager.compute(env.step_dt)
    assert (manager.get_command("base_velocity") == 0).all()


def test_velocity_command_heading_control():
    env = fake_env(fake_robot(yaw=(0.0, math.pi / 2, 3.0)))
    ranges = mdp.VelocityRanges(ang_vel_z=(-1.0, 1.0), heading=(math.pi / 2, math.pi / 2))
    cfg = mdp.UniformVelocityCommandCfg(ranges=ranges, heading_command=True, heading_control_stiffness=0.5)
    manager = CommandManager({"vel": cfg}, env)
    manager.reset(ALL)
    manager.compute(env.step_dt)
    # errors: pi/2, 0, pi/2 - 3 (wrapped); yaw rate = 0.5 * error clipped to +-1
    expected = torch.tensor([0.5 * math.pi / 2, 0.0, 0.5 * (math.pi / 2 - 3.0)])
    torch.testing.assert_close(manager.get_command("vel")[:, 2], expected)
    # rel_heading_envs=0: nobody follows a heading, yaw rates stay as drawn
    cfg0 = mdp.UniformVelocityCommandCfg(ranges=ranges, heading_command=True, rel_heading_envs=0.0)
    manager = CommandManager({"vel": cfg0}, env)
    manager.reset(ALL)
    drawn = manager.get_command("vel")[:, 2].clone()
    manager.compute(env.step_dt)
    torch.testing.assert_close(manager.get_command("vel")[:, 2], drawn)


# --- planar goal commands -------------------------------------------------------------------------------
def test_pose2d_command_in_the_yaw_frame():
    origins = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    robot = fake_robot(yaw=(math.pi / 2, 0.0, 0.0), pos=torch.tensor([[1.0, 0.0, 0.3]] * N))
    env = fake_env(robot, env_origins=origins)
    ranges = mdp.Pose2dRanges(pos_x=(0.0, 0.0), pos_y=(2.0, 2.0), heading=(2.0, 2.0))
    manager = CommandManager({"goal": mdp.UniformPose2dCommandCfg(ranges=ranges)}, env)
    manager.reset(ALL)
    cmd = manager.get_command("goal")
    assert cmd.shape == (N, 4)
    # world 0: goal (1, 2, 0.3), robot at (1, 0, 0.3) facing +y -> 2 m straight ahead; heading 2 - pi/2
    torch.testing.assert_close(cmd[0], torch.tensor([2.0, 0.0, 0.0, 2.0 - math.pi / 2]), atol=1e-6, rtol=0)
    # world 2 (facing +x, origin raised 0.5): goal (0, 2, 0.8) -> behind-left and 0.5 m up
    torch.testing.assert_close(cmd[2], torch.tensor([-1.0, 2.0, 0.5, 2.0]), atol=1e-6, rtol=0)
    term = manager.terms["goal"]
    manager.compute(env.step_dt)
    torch.testing.assert_close(term.metrics["error_pos_2d"], torch.tensor([2.0, math.sqrt(5), math.sqrt(5)]))
    # simple heading: face the goal (or away from it, whichever is closer)
    env.scene.env_origins = torch.zeros(N, 3)  # flat ground
    cfg = mdp.UniformPose2dCommandCfg(ranges=ranges, simple_heading=True)
    manager = CommandManager({"goal": cfg}, env)
    manager.reset(ALL)
    goal_w = manager.terms["goal"].pos_command_w
    torch.testing.assert_close(goal_w[1], torch.tensor([0.0, 2.0, 0.3]))
    # world 0 faces +y, the goal (0, 2) lies behind-left of (1, 0): heading toward it ~ 116.6 deg
    toward = math.atan2(2.0, -1.0)
    torch.testing.assert_close(manager.terms["goal"].heading_command_w[0], torch.tensor(toward))


def test_terrain_based_pose2d_command_picks_a_patch_of_the_current_sub_terrain():
    patches = torch.arange(2 * 3 * 4 * 3, dtype=torch.float32).reshape(2, 3, 4, 3)
    terrain = SimpleNamespace(
        has_height_field=True,
        flat_patches=patches,
        terrain_levels=torch.tensor([0, 1, 1]),
        terrain_types=torch.tensor([2, 0, 1]),
    )
    env = fake_env(terrain=terrain)
    manager = CommandManager({"goal": mdp.TerrainBasedPose2dCommandCfg()}, env)
    for _ in range(3):
        manager.reset(ALL)
        goal = manager.terms["goal"].pos_command_w
        for w in range(N):
            options = patches[terrain.terrain_levels[w], terrain.terrain_types[w]] + torch.tensor([0, 0, 0.3])
            assert torch.isclose(options, goal[w]).all(dim=1).any(), (w, goal[w], options)
    flat = SimpleNamespace(has_height_field=False, flat_patches=torch.zeros(1, 1, 1, 3))
    with pytest.raises(ValueError, match="flat patches"):
        CommandManager({"goal": mdp.TerrainBasedPose2dCommandCfg()}, fake_env(terrain=flat))


# --- rewards and terminations ----------------------------------------------------------------------------
class FakeContactSensor:
    """A contact sensor over bodies 'FL_foot', 'FR_foot', 'trunk' with hand-set data."""

    def __init__(self, **data):
        self.body_names = ["FL_foot", "FR_foot", "trunk"]
        zeros = torch.zeros(N, 3)
        fields = ("current_air_time", "current_contact_time", "last_air_time", "last_contact_time")
        self.data = SimpleNamespace(
            net_force_w=data.pop("net_force_w", torch.zeros(N, 3, 3)),
            in_contact=data.pop("in_contact", torch.zeros(N, 3, dtype=torch.bool)),
            **{f: data.pop(f, zeros.clone()) for f in fields},
        )
        self.first_contact = data.pop("first_contact", torch.zeros(N, 3, dtype=torch.bool))

    def find_bodies(self, patterns):
        import re

        patterns = [patterns] if isinstance(patterns, str) else patterns
        return [i for i, n in enumerate(self.body_names) if any(re.fullmatch(p, n) for p in patterns)]

    def body_index(self, patterns):
        return slice(None) if patterns is None else torch.tensor(self.find_bodies(patterns), dtype=torch.long)

    def compute_first_contact(self, dt):
        return self.first_contact


def command_env(command, robot=None, **kwargs):
    env = fake_env(robot, **kwargs)
    env.command_manager = SimpleNamespace(get_command=lambda name: command)
    return env


def test_velocity_tracking_and_posture_terms():
    lin_vel_b = torch.tensor([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    ang_vel_b = torch.tensor([[0.1, 0.2, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    robot = fake_robot(lin_vel_b=lin_vel_b, ang_vel_b=ang_vel_b)
    robot.data.root_lin_vel_w = lin_vel_b  # yaw 0: world = yaw frame = base frame
    robot.data.root_ang_vel_w = ang_vel_b
    robot.data.projected_gravity_b = torch.tensor([[0.0, 0.0, -1.0], [0.6, 0.0, -0.8], [-1.0, 0.0, 0.0]])
    command = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    env = command_env(command, robot)
    expected = torch.exp(-torch.tensor([0.0, 1.0, 2.0]) / 0.25)
    torch.testing.assert_close(mdp.track_lin_vel_xy_exp(env, std=0.5, command_name="v"), expected)
    torch.testing.assert_close(mdp.track_lin_vel_xy_yaw_frame_exp(env, std=0.5, command_name="v"), expected)
    expected_yaw = torch.exp(-torch.tensor([0.0, 0.0, 1.0]) / 0.25)
    torch.testing.assert_close(mdp.track_ang_vel_z_exp(env, std=0.5, command_name="v"), expected_yaw)
    torch.testing.assert_close(mdp.lin_vel_z_l2(env), torch.tensor([0.25, 0.0, 0.0]))
    torch.testing.assert_close(mdp.ang_vel_xy_l2(env), torch.tensor([0.05, 0.0, 0.0]))
    torch.testing.assert_close(mdp.flat_orientation_l2(env), torch.tensor([0.0, 0.36, 1.0]))
    # tilt: 0, acos(0.8) = 36.9 deg, 90 deg
    assert mdp.bad_orientation(env, limit_angle=0.7).tolist() == [False, False, True]
    assert mdp.bad_orientation(env, limit_angle=0.6).tolist() == [False, True, True]


def test_yaw_frame_tracking_rotates_the_world_velocity_by_the_heading():
    robot = fake_robot(yaw=(math.pi / 2, 0.0, 0.0))
    robot.data.root_lin_vel_w = torch.tensor([[0.0, 1.0, 0.0]] * N)  # world 0 walks forward along +y
    robot.data.root_lin_vel_b = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    env = command_env(torch.tensor([[1.0, 0.0, 0.0]] * N), robot)
    yaw_frame = mdp.track_lin_vel_xy_yaw_frame_exp(env, std=1.0, command_name="v")
    base_frame = mdp.track_lin_vel_xy_exp(env, std=1.0, command_name="v")
    torch.testing.assert_close(yaw_frame, torch.exp(-torch.tensor([0.0, 2.0, 2.0])))
    torch.testing.assert_close(base_frame, yaw_frame)


def joint_env(joint_pos, joint_vel, limits, ctrl=None):
    entity = SimpleNamespace(
        name="robot",
        num_joints=2,
        data=SimpleNamespace(joint_pos=joint_pos, joint_vel=joint_vel),
        default_joint_pos=torch.zeros_like(joint_pos),
        soft_joint_pos_limits=limits,
        joint_index=lambda names: slice(None) if names is None else torch.tensor([1]),
        actuator_groups=[
            ActuatorGroup(IdealPDActuatorCfg(joint_names_expr=[".*"]), [0], ["a"], [1], "cpu"),
            ActuatorGroup(
                ImplicitActuatorCfg(joint_names_expr=[".*"], stiffness=10.0, damping=1.0),
                [1],
                ["b"],
                [0],
                "cpu",
            ),
        ],
    )
    env = fake_env(entity)
    env.sim = SimpleNamespace(ctrl=ctrl if ctrl is not None else torch.zeros(N, 2, dtype=torch.float64))
    return env


def test_joint_terms_torque_acceleration_limits_and_stand_still():
    pos = torch.tensor([[0.0, 0.0], [1.5, 0.0], [-2.0, 0.5]])
    vel = torch.zeros(N, 2)
    limits = torch.tensor([[-1.0, 1.0], [-float("inf"), float("inf")]])
    ctrl = torch.tensor([[0.1, 3.0], [0.0, -2.0], [0.0, 0.0]], dtype=torch.float64)  # (implicit, motor)
    env = joint_env(pos, vel, limits, ctrl)
    torch.testing.assert_close(mdp.joint_pos_limits(env), torch.tensor([0.0, 0.5, 1.0]))
    # motor torque = ctrl; implicit torque = 10 (0.1 - q)
    torch.testing.assert_close(mdp.joint_torques_l2(env), torch.tensor([9.0 + 1.0, 4.0 + 0.0, 0.0 + 25.0]))
    torch.testing.assert_close(mdp.joint_torques_l2(env, joint_names=["b"]), torch.tensor([1.0, 0.0, 25.0]))
    acc = mdp.JointAccL2(env)
    env.scene["robot"].data.joint_vel = torch.tensor([[0.02, 0.0], [0.0, -0.04], [1.0, 1.0]])
    env.episode_length_buf = torch.tensor([2, 5, 1])  # world 2 just started an episode
    torch.testing.assert_close(acc(env), torch.tensor([1.0, 4.0, 0.0]))
    env.command_manager = SimpleNamespace(
        get_command=lambda name: torch.tensor([[0.0] * 3, [1.0, 0, 0], [0.0] * 3])
    )
    still = mdp.stand_still_joint_deviation_l1(env, command_name="v")
    torch.testing.assert_close(still, torch.tensor([0.0, 0.0, 2.5]))


def test_contact_terms_on_a_fake_sensor():
    force = torch.zeros(N, 3, 3)
    force[0, 2] = torch.tensor([0.0, 0.0, 50.0])  # trunk hits the ground in world 0
    force[1, :2, 2] = 20.0  # feet loaded in world 1
    sensor = FakeContactSensor(
        net_force_w=force,
        in_contact=torch.tensor([[False, False, True], [True, True, False], [True, False, False]]),
        last_air_time=torch.tensor([[0.0, 0.0, 0.0], [0.7, 0.2, 0.0], [0.9, 0.0, 0.0]]),
        current_air_time=torch.tensor([[0.3, 0.3, 0.0], [0.0, 0.0, 0.0], [0.0, 0.4, 0.0]]),
        current_contact_time=torch.tensor([[0.0, 0.0, 0.1], [0.2, 0.5, 0.0], [0.25, 0.0, 0.0]]),
        first_contact=torch.tensor([[False, False, False], [True, True, False], [True, False, False]]),
    )
    command = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.05, 0.0]])
    env = command_env(command, sensors={"contact": sensor})
    feet = [".*_foot"]
    kwargs = {"sensor_name": "contact", "threshold": 0.5, "command_name": "v", "body_names": feet}
    # world 1: (0.7 - 0.5) + (0.2 - 0.5); world 2 touched down but its command is ~zero
    torch.testing.assert_close(mdp.feet_air_time(env, **kwargs), torch.tensor([0.0, -0.1, 0.0]))
    # biped: single stance only in world 2 (command too small there -> 0)
    torch.testing.assert_close(mdp.feet_air_time_positive_biped(env, **kwargs), torch.tensor([0.0, 0.0, 0.0]))
    env.command_manager = SimpleNamespace(get_command=lambda name: torch.ones(N, 3))
    torch.testing.assert_close(
        mdp.feet_air_time_positive_biped(env, **kwargs), torch.tensor([0.0, 0.0, 0.25])
    )
    torch.testing.assert_close(
        mdp.undesired_contacts(env, sensor_name="contact", threshold=1.0), torch.tensor([1.0, 2.0, 0.0])
    )
    assert mdp.illegal_contact(env, sensor_name="contact", body_names=["trunk"]).tolist() == [
        True,
        False,
        False,
    ]
    assert mdp.illegal_contact(env, sensor_name="contact", threshold=30.0).tolist() == [True, False, False]
    # feet slide: entity bodies are in another order than the sensor's
    entity = env.scene["robot"]
    entity.body_names = ["trunk", "FR_foot", "FL_foot"]
    entity.find_bodies = lambda pats: ([entity.body_names.index(p.replace("\\", "")) for p in pats], pats)
    entity.data.body_lin_vel_w = torch.zeros(N, 3, 3)
    entity.data.body_lin_vel_w[:, 2] = torch.tensor([3.0, 4.0, 9.0])  # FL_foot slides at 5 m/s
    slide = mdp.feet_slide(env, sensor_name="contact", body_names=feet)
    torch.testing.assert_close(slide, torch.tensor([0.0, 5.0, 5.0]))


# --- all of it in a Go1 env -------------------------------------------------------------------------------
def go1_velocity_env_cfg(num_envs: int, backend: Backend = "mujoco", device: str = "cpu"):
    """Go1 flat velocity-tracking env built from the locomotion terms and every randomization event."""
    from roboforge.envs import ManagerBasedRLEnvCfg
    from roboforge.managers import (
        EventTermCfg,
        ObservationGroupCfg,
        ObservationTermCfg,
        RewardTermCfg,
        TerminationTermCfg,
    )

    legs: dict[str, Any] = {"stiffness": 25.0, "damping": 0.6, "effort_limit": 23.7}
    robot = ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 0.3), joint_pos={".*_thigh_joint": 0.9, ".*_calf_joint": -1.8}
        ),
        actuators={
            "front": ImplicitActuatorCfg(joint_names_expr=["F[LR]_.*"], **legs),
            "rear": DCMotorActuatorCfg(
                joint_names_expr=["R[LR]_.*"],
                saturation_effort=23.7,
                velocity_limit=30.0,
                delay_range=(0, 2),
                **legs,
            ),
        },
    )
    obs = ObservationTermCfg
    command = {"command_name": "base_velocity"}
    events = {
        "friction": EventTermCfg(
            func=mdp.randomize_friction, mode="startup", params={"friction_range": (0.4, 1.0)}
        ),
        "mass": EventTermCfg(func=mdp.add_base_mass, mode="startup", params={"mass_range": (-0.5, 1.0)}),
        "com": EventTermCfg(
            func=mdp.randomize_com, mode="startup", params={"com_range": {"x": (-0.02, 0.02)}}
        ),
        "gains": EventTermCfg(
            func=mdp.randomize_actuator_gains,
            mode="startup",
            params={"stiffness_range": (0.8, 1.2), "damping_range": (0.8, 1.2)},
        ),
        "reset_base": EventTermCfg(
            func=mdp.reset_root_state_uniform, mode="reset", params={"pose_range": {"yaw": (-3.14, 3.14)}}
        ),
        "defaults": EventTermCfg(
            func=mdp.randomize_joint_default_offsets, mode="reset", params={"offset_range": (-0.05, 0.05)}
        ),
        "push": EventTermCfg(
            func=mdp.push_by_setting_velocity,
            mode="interval",
            interval_range_s=(0.02, 0.1),
            params={"velocity_range": {"x": (-0.5, 0.5), "y": (-0.5, 0.5)}},
        ),
    }
    rewards = {
        "track_lin": RewardTermCfg(func=mdp.track_lin_vel_xy_exp, weight=1.0, params={"std": 0.5, **command}),
        "track_ang": RewardTermCfg(func=mdp.track_ang_vel_z_exp, weight=0.5, params={"std": 0.5, **command}),
        "lin_vel_z": RewardTermCfg(func=mdp.lin_vel_z_l2, weight=-2.0),
        "ang_vel_xy": RewardTermCfg(func=mdp.ang_vel_xy_l2, weight=-0.05),
        "flat": RewardTermCfg(func=mdp.flat_orientation_l2, weight=-1.0),
        "torques": RewardTermCfg(func=mdp.joint_torques_l2, weight=-1e-4),
        "acc": RewardTermCfg(func=mdp.JointAccL2, weight=-2.5e-7),
        "limits": RewardTermCfg(func=mdp.joint_pos_limits, weight=-1.0),
        "still": RewardTermCfg(func=mdp.stand_still_joint_deviation_l1, weight=-0.1, params=command),
    }
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(num_envs=num_envs, entities={"robot": robot}),
        sim=SimCfg(timestep=0.005, backend=backend, device=device),
        decimation=4,
        episode_length_s=0.2,
        actions={"legs": mdp.JointPositionActionCfg(joint_names=[".*"], scale=0.25)},
        commands={
            "base_velocity": mdp.UniformVelocityCommandCfg(
                heading_command=True, rel_standing_envs=0.25, resampling_time_range=(0.1, 0.1)
            )
        },
        observations={
            "policy": ObservationGroupCfg(
                terms={
                    "lin_vel": obs(func=mdp.base_lin_vel_b),
                    "ang_vel": obs(func=mdp.base_ang_vel_b),
                    "gravity": obs(func=mdp.projected_gravity_b),
                    "command": obs(func=mdp.generated_commands, params=command),
                    "joint_pos": obs(func=mdp.joint_pos_rel),
                    "joint_vel": obs(func=mdp.joint_vel_rel),
                    "actions": obs(func=mdp.last_action),
                }
            )
        },
        events=events,
        rewards=rewards,
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "tilt": TerminationTermCfg(func=mdp.bad_orientation, params={"limit_angle": 1.0}),
        },
    )


@requires_go1
def test_go1_velocity_env_with_randomization_steps_and_logs_metrics():
    from roboforge.envs.manager_based_rl_env import ManagerBasedRLEnv

    env = ManagerBasedRLEnv(go1_velocity_env_cfg(num_envs=4))
    for field in ("geom_friction", "body_mass", "body_ipos", "actuator_gainprm", "actuator_biasprm"):
        values = env.sim.model_field(field)
        assert not torch.equal(values[0], values[1]), f"{field} should differ between worlds"
    rear = env.scene["robot"].actuator_groups[1]
    assert not torch.equal(rear.stiffness[0], rear.stiffness[1])
    g = torch.Generator().manual_seed(0)
    for _ in range(12):
        obs, reward, *_ = env.step(torch.rand(4, 12, generator=g) * 0.4 - 0.2)
        assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
    stats = env.pop_episode_stats()
    assert "Metrics/base_velocity/error_vel_xy" in stats and "Metrics/base_velocity/error_vel_yaw" in stats
    assert "Episode_Reward/acc" in stats and stats["nan_resets"] == 0
