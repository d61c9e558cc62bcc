"""Object manipulation terms (lift, stack): object poses relative to the robot and the gripper."""

from __future__ import annotations

import torch

from roboforge.managers.term_env import TermEnv
from roboforge.mdp.commands.stack_command import gripper_opening, within_stack_tolerance
from roboforge.utils.config import ConfigError
from roboforge.utils.math import quat_apply, quat_apply_inverse, sample_uniform


def object_position_b(env: TermEnv, object_name: str = "cube", robot_name: str = "robot") -> torch.Tensor:
    """Object position in the robot's root frame `(N, 3)`."""
    robot = env.scene[robot_name].data
    return quat_apply_inverse(robot.root_quat_w, env.scene[object_name].data.root_pos_w - robot.root_pos_w)


def object_ee_distance_tanh(
    env: TermEnv, std: float, ee_frame: str, object_name: str = "cube", robot_name: str = "robot"
) -> torch.Tensor:
    """1 - tanh(distance(end effector, object) / std)."""
    robot = env.scene[robot_name]
    ee_pos, _ = robot.frame_pose_w(robot.find_frame(ee_frame))
    return 1.0 - torch.tanh((env.scene[object_name].data.root_pos_w - ee_pos).norm(dim=-1) / std)


def object_is_lifted(
    env: TermEnv,
    minimal_height: float,
    object_name: str = "cube",
    ee_frame: str | None = None,
    grasp_distance: float = 0.05,
    robot_name: str = "robot",
) -> torch.Tensor:
    """1 while the object is higher than `minimal_height` (m, world z). With `ee_frame`, only while that
    frame is within `grasp_distance` (m) of the object: a cube knocked into the air earns nothing."""
    obj = env.scene[object_name].data.root_pos_w
    lifted = obj[:, 2] > minimal_height
    if ee_frame is not None:
        robot = env.scene[robot_name]
        ee_pos, _ = robot.frame_pose_w(robot.find_frame(ee_frame))
        lifted = lifted & ((obj - ee_pos).norm(dim=-1) < grasp_distance)
    return lifted.float()


def object_out_of_reach(
    env: TermEnv, max_distance: float, object_name: str = "cube", robot_name: str = "robot"
) -> torch.Tensor:
    """Termination: the object is farther than `max_distance` (m) from the robot's root, e.g. knocked away
    or launched by a contact; keeps unreachable (and unbounded) object positions out of the observations."""
    offset = env.scene[object_name].data.root_pos_w - env.scene[robot_name].data.root_pos_w
    return offset.norm(dim=-1) > max_distance


def object_goal_distance_tanh(
    env: TermEnv,
    std: float,
    minimal_height: float,
    command_name: str,
    object_name: str = "cube",
    robot_name: str = "robot",
    height_offset: float = 0.0,
) -> torch.Tensor:
    """(1 - tanh(distance(object, goal raised by `height_offset` m in world z) / std)) while the object is lifted."""
    goal_w = goal_position_w(env, command_name, robot_name)
    goal_w[:, 2] += height_offset
    obj = env.scene[object_name].data.root_pos_w
    lifted = (obj[:, 2] > minimal_height).float()
    return lifted * (1.0 - torch.tanh((goal_w - obj).norm(dim=-1) / std))


def goal_position_w(env: TermEnv, command_name: str, robot_name: str = "robot") -> torch.Tensor:
    """World position `(N, 3)` of a command whose first three entries are a position in the robot's root frame."""
    robot = env.scene[robot_name].data
    return robot.root_pos_w + quat_apply(
        robot.root_quat_w, env.command_manager.get_command(command_name)[:, :3]
    )


def object_stacked(
    env: TermEnv,
    command_name: str,
    xy_threshold: float,
    z_threshold: float,
    object_name: str = "cube_a",
    robot_name: str = "robot",
) -> torch.Tensor:
    """1 while the object is within the xy / z tolerances (m) of the stacked position commanded by `command_name`."""
    error_w = env.scene[object_name].data.root_pos_w - goal_position_w(env, command_name, robot_name)
    return within_stack_tolerance(error_w, xy_threshold, z_threshold).float()


def object_stacked_gripper_open(
    env: TermEnv,
    command_name: str,
    xy_threshold: float,
    z_threshold: float,
    holding_joint_pos: float,
    open_joint_pos: float,
    finger_joints: tuple[str, ...] = ("finger_joint.*",),
    object_name: str = "cube_a",
    robot_name: str = "robot",
) -> torch.Tensor:
    """While the object is stacked: finger opening, 0 at `holding_joint_pos` (closed on the object) .. 1 at
    `open_joint_pos`; rewards letting go."""
    robot = env.scene[robot_name]
    fingers = robot.data.joint_pos[:, robot.joint_index(list(finger_joints))]
    opening = gripper_opening(fingers, holding_joint_pos, open_joint_pos)
    return opening * object_stacked(env, command_name, xy_threshold, z_threshold, object_name, robot_name)


def ee_height_over_released_object(
    env: TermEnv,
    command_name: str,
    xy_threshold: float,
    z_threshold: float,
    holding_joint_pos: float,
    open_joint_pos: float,
    max_height: float = 0.05,
    ee_frame: str = "tcp",
    finger_joints: tuple[str, ...] = ("finger_joint.*",),
    object_name: str = "cube_a",
    robot_name: str = "robot",
) -> torch.Tensor:
    """While the object is stacked: the finger opening (0 closed on it .. 1 open) times the end effector's height
    above the object's centre as a share of `max_height` (m), clamped to 0..1. Pays lifting the hand off an
    object it has let go of, the retreat that follows a release; nothing while the fingers still hold it."""
    if max_height <= 0.0:
        raise ConfigError(f"ee_height_over_released_object: max_height {max_height} must be > 0 (m).")
    released = object_stacked_gripper_open(
        env, command_name, xy_threshold, z_threshold, holding_joint_pos, open_joint_pos, finger_joints,
        object_name, robot_name,
    )  # fmt: skip
    robot = env.scene[robot_name]
    ee_pos, _ = robot.frame_pose_w(robot.find_frame(ee_frame))
    height = ee_pos[:, 2] - env.scene[object_name].data.root_pos_w[:, 2]
    return released * (height / max_height).clamp(0.0, 1.0)


def gripper_command_while_stacked(
    env: TermEnv,
    command_name: str,
    xy_threshold: float,
    z_threshold: float,
    action_name: str = "gripper",
    action_limit: float = 4.0,
    open_share: float = 0.5,
    object_name: str = "cube_a",
    robot_name: str = "robot",
) -> torch.Tensor:
    """While the object is stacked: `open_share` for an opening command (action > 0) plus the rest of 1 linear
    in the action, clipped to +-`action_limit` and mapped to 0..1.

    A binary gripper opens only once its action turns positive. A policy that has learnt to carry the
    object keeps that action far on the closing side (stack, 2026-12-02: mean -2.6 with std 0.53 while
    stacked), so opening is never sampled and a reward for open fingers never reaches the gradient: the
    linear part tells every sampled action which way is "open". Linear alone paid almost as much for "just
    closed" as for open: the policy of 2026-12-06 (iteration 1450) sat at -0.35 (std 0.066, never above 0)
    and collected 45% of the term without ever letting go. The step at the threshold is what opening earns."""
    if action_limit <= 0.0:
        raise ConfigError(
            f"Reward term gripper_command_while_stacked: action_limit {action_limit} must be > 0."
        )
    if not 0.0 <= open_share <= 1.0:
        raise ConfigError(
            f"Reward term gripper_command_while_stacked: open_share {open_share} must be in 0..1."
        )
    action = env.action_manager.term_action(action_name)[:, 0]
    linear = (action.clamp(-action_limit, action_limit) + action_limit) / (2.0 * action_limit)
    command = (1.0 - open_share) * linear + open_share * (action > 0.0).float()
    return command * object_stacked(env, command_name, xy_threshold, z_threshold, object_name, robot_name)


def object_still_while_stacked(
    env: TermEnv,
    std: float,
    command_name: str,
    xy_threshold: float,
    z_threshold: float,
    object_name: str = "cube_a",
    robot_name: str = "robot",
) -> torch.Tensor:
    """While the object is stacked: 1 - tanh(object speed / `std` (m/s)); rewards a placement that has settled.

    A stack policy that only meets the position tolerances learns to grind the object into the base (stack,
    2026-12-05, iteration 880: cube A moving at 0.3-0.5 m/s while "stacked"); opening the gripper then throws
    both cubes off, so letting go never pays."""
    if std <= 0.0:
        raise ConfigError(f"Reward term object_still_while_stacked: std {std} must be > 0 (m/s).")
    speed = env.scene[object_name].data.root_lin_vel_w.norm(dim=-1)
    still = 1.0 - torch.tanh(speed / std)
    return still * object_stacked(env, command_name, xy_threshold, z_threshold, object_name, robot_name)


def base_pressed_down(
    env: TermEnv,
    rest_height: float,
    command_name: str,
    xy_threshold: float,
    z_threshold: float,
    max_depth: float = 0.01,
    base_name: str = "cube_b",
    object_name: str = "cube_a",
    robot_name: str = "robot",
) -> torch.Tensor:
    """While the object is stacked: how far (m, up to `max_depth`) the base's centre is below `rest_height`,
    its height resting on the ground. The weight of two cubes sinks it well under a millimetre; the arm
    pressing the object down sinks it by millimetres (2-5 mm at iteration 880), and that stored contact
    compression throws the cubes apart when the gripper opens."""
    if max_depth <= 0.0:
        raise ConfigError(f"Reward term base_pressed_down: max_depth {max_depth} must be > 0 (m).")
    depth = (rest_height - env.scene[base_name].data.root_pos_w[:, 2]).clamp(0.0, max_depth)
    return depth * object_stacked(env, command_name, xy_threshold, z_threshold, object_name, robot_name)


def reset_object_beside(
    env: TermEnv,
    env_mask: torch.Tensor,
    asset_name: str,
    anchor_name: str,
    offset_x: tuple[float, float],
    offset_y: tuple[float, float],
) -> None:
    """Event: put the object at its default height and pose, at the anchor's (already reset) xy plus
    (dx, ±dy), dx and |dy| uniform in the ranges (m) and the side drawn per world; a minimal |dy|
    larger than both objects' half diagonals keeps them apart."""
    obj, n, dev = env.scene[asset_name], env.num_envs, env.device
    u = sample_uniform(0.0, 1.0, (n, 3), dev, env.rng)
    dx = offset_x[0] + (offset_x[1] - offset_x[0]) * u[:, 0]
    dy = (offset_y[0] + (offset_y[1] - offset_y[0]) * u[:, 1]) * torch.where(u[:, 2] < 0.5, -1.0, 1.0)
    pos = obj.default_root_pos.clone()
    pos[:, :2] = env.scene[anchor_name].data.root_pos_w[:, :2] + torch.stack((dx, dy), 1)
    zeros = torch.zeros(n, 3, device=dev)
    obj.write_root_state(pos, obj.default_root_quat, zeros, zeros, env_mask)
