"""Legged-locomotion reward and termination terms: velocity tracking, posture, effort, feet contacts.

Velocity commands are `(num_envs, 3)` = (v_x, v_y, w_z) in the robot's base frame (see
`UniformVelocityCommandCfg`). Contact terms read a contact sensor `env.scene.sensors[sensor_name]`
whose data fields are `(num_envs, num_bodies[, 3])`; `body_names` regexes pick some of its bodies.
"""

from __future__ import annotations

import re

import torch

from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.rewards import joint_deviation_l1
from roboforge.utils.math import quat_apply_inverse, quat_yaw_only

# --- velocity tracking ---------------------------------------------------------------------------------------


def track_lin_vel_xy_exp(
    env: TermEnv, std: float, command_name: str, asset_name: str = "robot"
) -> torch.Tensor:
    """exp(-|v*_xy - v_xy|^2 / std^2), command and root velocity both in the base frame."""
    vel_b = env.scene[asset_name].data.root_lin_vel_b
    error = torch.sum(
        torch.square(env.command_manager.get_command(command_name)[:, :2] - vel_b[:, :2]), dim=1
    )
    return torch.exp(-error / std**2)


def track_lin_vel_xy_yaw_frame_exp(
    env: TermEnv, std: float, command_name: str, asset_name: str = "robot"
) -> torch.Tensor:
    """exp(-|v*_xy - v_xy|^2 / std^2), root velocity in the yaw frame (heading only, ignoring roll/pitch)."""
    data = env.scene[asset_name].data
    vel_yaw = quat_apply_inverse(quat_yaw_only(data.root_quat_w), data.root_lin_vel_w)
    error = torch.sum(
        torch.square(env.command_manager.get_command(command_name)[:, :2] - vel_yaw[:, :2]), dim=1
    )
    return torch.exp(-error / std**2)


def track_ang_vel_z_exp(
    env: TermEnv, std: float, command_name: str, asset_name: str = "robot"
) -> torch.Tensor:
    """exp(-(w*_z - w_z)^2 / std^2), yaw rate about the base z axis."""
    ang_vel_b = env.scene[asset_name].data.root_ang_vel_b
    error = torch.square(env.command_manager.get_command(command_name)[:, 2] - ang_vel_b[:, 2])
    return torch.exp(-error / std**2)


def track_ang_vel_z_world_exp(
    env: TermEnv, std: float, command_name: str, asset_name: str = "robot"
) -> torch.Tensor:
    """exp(-(w*_z - w_z)^2 / std^2), yaw rate about the world z axis."""
    ang_vel_w = env.scene[asset_name].data.root_ang_vel_w
    error = torch.square(env.command_manager.get_command(command_name)[:, 2] - ang_vel_w[:, 2])
    return torch.exp(-error / std**2)


# --- base motion and posture ------------------------------------------------------------------------------


def lin_vel_z_l2(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Squared vertical velocity of the root (base frame)."""
    return torch.square(env.scene[asset_name].data.root_lin_vel_b[:, 2])


def ang_vel_xy_l2(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Squared roll and pitch rates of the root (base frame)."""
    return torch.sum(torch.square(env.scene[asset_name].data.root_ang_vel_b[:, :2]), dim=1)


def flat_orientation_l2(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Squared xy components of the gravity direction in the base frame (0 when level)."""
    return torch.sum(torch.square(env.scene[asset_name].data.projected_gravity_b[:, :2]), dim=1)


def base_height_l2(env: TermEnv, target_height: float, asset_name: str = "robot") -> torch.Tensor:
    """Squared difference of the root height (world z, flat ground) to `target_height` (m)."""
    return torch.square(env.scene[asset_name].data.root_pos_w[:, 2] - target_height)


# --- joints ------------------------------------------------------------------------------------------------


def joint_torques_l2(
    env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Sum of squared actuator torques (N m) the joints received in the last physics step."""
    entity = env.scene[asset_name]
    return torch.sum(torch.square(applied_torque(env, entity)[:, entity.joint_index(joint_names)]), dim=1)


def applied_torque(env: TermEnv, entity) -> torch.Tensor:
    """Actuator torque `(num_envs, num_joints)` of every driven joint (0 for passive joints)."""
    data = entity.data
    pos, vel = data.joint_pos, data.joint_vel
    torque = torch.zeros_like(pos)
    for group in entity.actuator_groups:
        torque[:, group.joint_ids] = group.applied_effort(pos, vel, env.sim.ctrl)
    return torque


class JointAccL2(ManagerTermBase):
    """Sum of squared joint accelerations, by finite difference of joint velocities over one env step.

    Stateful term (`func=JointAccL2`): it keeps the joint velocities of the previous call and gives 0 on
    an episode's first step (the previous velocities belong to the last episode).
    """

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.entity = env.scene[self.params["asset_name"]]
        self.idx = self.entity.joint_index(self.params["joint_names"])
        self.prev_vel = self.entity.data.joint_vel[:, self.idx].clone()

    def __call__(
        self, env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
    ) -> torch.Tensor:
        vel = self.entity.data.joint_vel[:, self.idx]
        acc = (vel - self.prev_vel) / env.step_dt
        self.prev_vel[:] = vel
        return torch.where(env.episode_length_buf > 1, torch.sum(torch.square(acc), dim=1), 0.0)


def joint_pos_limits(
    env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Sum over joints of how far (rad or m) the position lies outside the soft joint limits."""
    entity = env.scene[asset_name]
    idx = entity.joint_index(joint_names)
    pos, limits = entity.data.joint_pos[:, idx], entity.soft_joint_pos_limits[idx]
    below = (limits[:, 0] - pos).clamp(min=0.0)
    above = (pos - limits[:, 1]).clamp(min=0.0)
    return torch.sum(below + above, dim=1)  # infinite limits give 0


def stand_still_joint_deviation_l1(
    env: TermEnv,
    command_name: str,
    command_threshold: float = 0.06,
    asset_name: str = "robot",
    joint_names: list[str] | None = None,
) -> torch.Tensor:
    """Sum of |q - q_default| while the commanded velocity (all 3 entries) is below `command_threshold`."""
    standing = torch.norm(env.command_manager.get_command(command_name)[:, :3], dim=1) < command_threshold
    return joint_deviation_l1(env, asset_name, joint_names) * standing


# --- feet and contacts -------------------------------------------------------------------------------------


def feet_air_time(
    env: TermEnv,
    sensor_name: str,
    threshold: float,
    command_name: str,
    body_names: list[str] | None = None,
    command_threshold: float = 0.1,
) -> torch.Tensor:
    """Sum over feet touching down this step of (air time - threshold) (s); 0 while the xy command is small."""
    sensor = env.scene.sensors[sensor_name]
    idx = sensor.body_index(body_names)
    first_contact = sensor.compute_first_contact(env.step_dt)[:, idx]
    reward = torch.sum((sensor.data.last_air_time[:, idx] - threshold) * first_contact, dim=1)
    return reward * _commanded_to_move(env, command_name, command_threshold)


def feet_air_time_positive_biped(
    env: TermEnv,
    sensor_name: str,
    threshold: float,
    command_name: str,
    body_names: list[str] | None = None,
    command_threshold: float = 0.1,
) -> torch.Tensor:
    """Bipeds: while exactly one foot is down, the shorter of the feet's current air/contact times, capped at `threshold`."""
    sensor = env.scene.sensors[sensor_name]
    idx = sensor.body_index(body_names)
    air, contact = sensor.data.current_air_time[:, idx], sensor.data.current_contact_time[:, idx]
    in_contact = contact > 0.0
    phase_time = torch.where(in_contact, contact, air)
    single_stance = torch.sum(in_contact.int(), dim=1) == 1
    reward = torch.min(torch.where(single_stance[:, None], phase_time, 0.0), dim=1).values.clamp(
        max=threshold
    )
    return reward * _commanded_to_move(env, command_name, command_threshold)


class feet_slide(ManagerTermBase):
    """Sum over feet in contact of their horizontal speed (m/s, world frame)."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        p = self.params
        self.entity_idx = _entity_index_of_sensor_bodies(
            env, p["asset_name"], p["sensor_name"], p["body_names"]
        )

    def __call__(
        self,
        env: TermEnv,
        sensor_name: str,
        body_names: list[str] | None = None,
        asset_name: str = "robot",
    ) -> torch.Tensor:
        sensor = env.scene.sensors[sensor_name]
        idx = sensor.body_index(body_names)
        speed = torch.norm(env.scene[asset_name].data.body_lin_vel_w[:, self.entity_idx, :2], dim=-1)
        return torch.sum(speed * sensor.data.in_contact[:, idx], dim=1)


def undesired_contacts(
    env: TermEnv, sensor_name: str, threshold: float = 1.0, body_names: list[str] | None = None
) -> torch.Tensor:
    """Number of the selected bodies pushed with a net contact force above `threshold` (N)."""
    return torch.sum(_contact_force_norm(env, sensor_name, body_names) > threshold, dim=1).float()


def illegal_contact(
    env: TermEnv, sensor_name: str, threshold: float = 1.0, body_names: list[str] | None = None
) -> torch.Tensor:
    """Termination: any selected body pushed with a net contact force above `threshold` (N)."""
    return torch.any(_contact_force_norm(env, sensor_name, body_names) > threshold, dim=1)


def bad_orientation(env: TermEnv, limit_angle: float, asset_name: str = "robot") -> torch.Tensor:
    """Termination: the base is tilted more than `limit_angle` (rad) from upright."""
    gravity_z_b = env.scene[asset_name].data.projected_gravity_b[:, 2]
    return torch.acos((-gravity_z_b).clamp(-1.0, 1.0)) > limit_angle


# --- helpers -----------------------------------------------------------------------------------------------


def _commanded_to_move(env: TermEnv, command_name: str, threshold: float) -> torch.Tensor:
    """`(num_envs,)` True where the commanded xy speed exceeds `threshold` (m/s)."""
    return torch.norm(env.command_manager.get_command(command_name)[:, :2], dim=1) > threshold


def _contact_force_norm(env: TermEnv, sensor_name: str, body_names: list[str] | None) -> torch.Tensor:
    sensor = env.scene.sensors[sensor_name]
    return torch.norm(sensor.data.net_force_w[:, sensor.body_index(body_names)], dim=-1)


def _entity_index_of_sensor_bodies(
    env: TermEnv, asset_name: str, sensor_name: str, body_names: list[str] | None
) -> torch.Tensor:
    """Entity body indices of the selected sensor bodies, in the sensor's order (at term build)."""
    entity, sensor = env.scene[asset_name], env.scene.sensors[sensor_name]
    ids = range(sensor.num_bodies) if body_names is None else sensor.find_bodies(body_names)
    names = [sensor.body_names[i] for i in ids]
    bodies = [entity.find_bodies([re.escape(n)])[0][0] for n in names]
    return torch.tensor(bodies, dtype=torch.long, device=env.device)
