"""Observation terms `(env, **params) -> (num_envs, k)`."""

from __future__ import annotations

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.utils.math import quat_unique


def joint_pos(env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None) -> torch.Tensor:
    """Joint positions."""
    entity = env.scene[asset_name]
    return entity.data.joint_pos[:, entity.joint_index(joint_names)]


def joint_pos_rel(
    env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Joint positions relative to the default joint positions."""
    entity = env.scene[asset_name]
    idx = entity.joint_index(joint_names)
    return entity.data.joint_pos[:, idx] - entity.default_joint_pos[:, idx]


def joint_vel(env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None) -> torch.Tensor:
    """Joint velocities."""
    entity = env.scene[asset_name]
    return entity.data.joint_vel[:, entity.joint_index(joint_names)]


def joint_vel_rel(
    env: TermEnv, asset_name: str = "robot", joint_names: list[str] | None = None
) -> torch.Tensor:
    """Joint velocities relative to the default joint velocities."""
    entity = env.scene[asset_name]
    idx = entity.joint_index(joint_names)
    return entity.data.joint_vel[:, idx] - entity.default_joint_vel[:, idx]


def base_lin_vel_b(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Root linear velocity in the root frame."""
    return env.scene[asset_name].data.root_lin_vel_b


def base_ang_vel_b(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Root angular velocity in the root frame."""
    return env.scene[asset_name].data.root_ang_vel_b


def projected_gravity_b(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Gravity direction in the root frame."""
    return env.scene[asset_name].data.projected_gravity_b


def last_action(env: TermEnv) -> torch.Tensor:
    """The action of the previous env step."""
    return env.action_manager.action


def generated_commands(env: TermEnv, command_name: str) -> torch.Tensor:
    """The current command of a command term."""
    return env.command_manager.get_command(command_name)


def ee_pos_b(env: TermEnv, body_name: str, asset_name: str = "robot") -> torch.Tensor:
    """End-effector (body or site) position in the robot's root frame."""
    entity = env.scene[asset_name]
    return entity.frame_pose_b(entity.find_frame(body_name))[0]


def ee_quat_b(env: TermEnv, body_name: str, asset_name: str = "robot") -> torch.Tensor:
    """End-effector orientation in the robot's root frame, real part non-negative."""
    entity = env.scene[asset_name]
    return quat_unique(entity.frame_pose_b(entity.find_frame(body_name))[1])


def contact_states(env: TermEnv, sensor_name: str) -> torch.Tensor:
    """1 where a contact sensor's body or geom touches something, else 0 `(num_envs, n)` (e.g. feet)."""
    return env.scene.sensors[sensor_name].data.in_contact.float()


def base_height(env: TermEnv, asset_name: str = "robot") -> torch.Tensor:
    """Root height (m) above the terrain under it `(num_envs, 1)` (a privileged, critic-only signal)."""
    root_pos_w, terrain = env.scene[asset_name].data.root_pos_w, env.scene.terrain
    assert terrain is not None  # created when the env binds the scene to its simulator
    return (root_pos_w[:, 2] - terrain.height_at(root_pos_w[:, :2]))[:, None]
