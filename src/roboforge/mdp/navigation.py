"""Navigation terms of a planar robot: its body-frame velocity, progress toward the goal of a
`NavigationCommandCfg` command, reaching it and touching an obstacle (rewards and terminations).

The reward and termination terms first bring the command's outcome up to date with the state of this step
(`update_outcome`, idempotent), so the episode that ends in this step's reset logs what ended it.
"""

from __future__ import annotations

import torch

from roboforge.managers.term import ManagerTermBase, TermCfg
from roboforge.managers.term_env import TermEnv
from roboforge.mdp.commands.navigation_command import NavigationCommand
from roboforge.mdp.planar import PLANAR_JOINTS, PlanarBase
from roboforge.utils.config import ConfigError


def navigation_command(env: TermEnv, command_name: str) -> NavigationCommand:
    """The command term `command_name`, checked to be a navigation command, its outcome up to date."""
    term = env.command_manager.terms.get(command_name)
    if not isinstance(term, NavigationCommand):
        raise ConfigError(
            f"Command {command_name!r} must be a NavigationCommandCfg command (navigation terms read its goal "
            f"and outcome). Commands: {', '.join(env.command_manager.terms) or '(none)'}."
        )
    term.update_outcome()
    return term


class planar_velocity_b(ManagerTermBase):
    """Body-frame velocity `(num_envs, 3)` of a planar base: forward, left (m/s), yaw rate (rad/s)."""

    def __init__(self, cfg: TermCfg, env: TermEnv):
        super().__init__(cfg, env)
        self.base = PlanarBase(env.scene[self.params["asset_name"]], self.params["joint_names"])

    def __call__(
        self, env: TermEnv, asset_name: str = "robot", joint_names: tuple[str, ...] = PLANAR_JOINTS
    ) -> torch.Tensor:
        return self.base.velocity_b()


def goal_progress(env: TermEnv, command_name: str = "goal") -> torch.Tensor:
    """Speed (m/s) toward the goal over this env step: the decrease of the distance since the last step / dt."""
    command = navigation_command(env, command_name)
    return (command.last_distance - command.distance) / env.step_dt


def goal_reached(env: TermEnv, command_name: str = "goal") -> torch.Tensor:
    """Worlds `(num_envs,)` bool within the goal tolerance without having touched an obstacle (success)."""
    return navigation_command(env, command_name).success


def obstacle_touched(env: TermEnv, command_name: str = "goal") -> torch.Tensor:
    """Worlds `(num_envs,)` bool whose robot has touched an obstacle or a wall in this episode."""
    return navigation_command(env, command_name).touched


def goal_reached_bonus(env: TermEnv, command_name: str = "goal") -> torch.Tensor:
    """1 / dt in worlds that reached the goal (the manager's dt cancels: the reward is the term's weight)."""
    return goal_reached(env, command_name).float() / env.step_dt


def obstacle_touched_penalty(env: TermEnv, command_name: str = "goal") -> torch.Tensor:
    """1 / dt in worlds that touched an obstacle or a wall (the reward is the term's weight, once per episode
    when the touch also ends the episode)."""
    return obstacle_touched(env, command_name).float() / env.step_dt


def obstacle_proximity(env: TermEnv, command_name: str = "goal", margin: float = 0.25) -> torch.Tensor:
    """How far the robot is inside `margin` (m) of the nearest obstacle or wall: 0 outside, 1 at contact."""
    clearance = navigation_command(env, command_name).clearance_now
    return ((margin - clearance) / margin).clamp(0.0, 1.0)
