"""Locomotion reward and termination terms on small fake envs (contact sensors are fakes too)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from locomotion_util import N, fake_env, fake_robot
from managers_util import built_term
from roboforge import mdp
from roboforge.assets.actuators import ActuatorGroup, IdealPDActuatorCfg, ImplicitActuatorCfg


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
    acc = built_term(mdp.JointAccL2, env)
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
    slide = built_term(mdp.feet_slide, env, sensor_name="contact", body_names=feet)(env)
    torch.testing.assert_close(slide, torch.tensor([0.0, 5.0, 5.0]))
