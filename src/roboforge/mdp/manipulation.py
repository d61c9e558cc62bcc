"""Object manipulation terms (lift, stack): object poses relative to the robot and the gripper."""

from __future__ import annotations

import torch

from roboforge.utils.math import quat_apply, quat_apply_inverse


def object_position_b(env, object_name: str = "cube", robot_name: str = "robot") -> torch.Tensor:
    """Object position in the robot's root frame `(N, 3)`."""
    robot = env.scene[robot_name].data
    return quat_apply_inverse(robot.root_quat_w, env.scene[object_name].data.root_pos_w - robot.root_pos_w)


def object_ee_distance_tanh(
    env, std: float, ee_frame: str, object_name: str = "cube", robot_name: str = "robot"
) -> torch.Tensor:
    """1 - tanh(distance(end effector, object) / std)."""
    robot = env.scene[robot_name]
    ee_pos, _ = robot.frame_pose_w(robot.find_frame(ee_frame))
    return 1.0 - torch.tanh((env.scene[object_name].data.root_pos_w - ee_pos).norm(dim=-1) / std)


def object_is_lifted(env, minimal_height: float, object_name: str = "cube") -> torch.Tensor:
    """1 while the object is higher than `minimal_height` (m, world z)."""
    return (env.scene[object_name].data.root_pos_w[:, 2] > minimal_height).float()


def object_goal_distance_tanh(
    env,
    std: float,
    minimal_height: float,
    command_name: str,
    object_name: str = "cube",
    robot_name: str = "robot",
) -> torch.Tensor:
    """(1 - tanh(distance(object, goal) / std)) while the object is lifted."""
    robot = env.scene[robot_name].data
    goal_w = robot.root_pos_w + quat_apply(
        robot.root_quat_w, env.command_manager.get_command(command_name)[:, :3]
    )
    obj = env.scene[object_name].data.root_pos_w
    lifted = (obj[:, 2] > minimal_height).float()
    return lifted * (1.0 - torch.tanh((goal_w - obj).norm(dim=-1) / std))
