"""Cart-pole written as a direct env: the same task as 'cartpole' in plain torch."""

from __future__ import annotations

import math

import torch

from roboforge.envs.direct_rl_env import DirectRLEnv
from roboforge.envs.env_cfg import DirectRLEnvCfg
from roboforge.scene import SceneCfg
from roboforge.sim import SimCfg
from roboforge.tasks.cartpole.robot import cartpole_robot_cfg
from roboforge.utils.math import sample_uniform


def cartpole_direct_env_cfg(num_envs: int = 1024, play: bool = False) -> DirectRLEnvCfg:
    """Config of the direct cart-pole env."""
    return DirectRLEnvCfg(
        scene=SceneCfg(
            num_envs=32 if play else num_envs, ground=False, entities={"robot": cartpole_robot_cfg()}
        ),
        sim=SimCfg(timestep=1.0 / 120.0),
        decimation=2,
        episode_length_s=5.0,
        action_dim=1,
        observation_dims={"policy": 4},
    )


class CartpoleDirectEnv(DirectRLEnv):
    """Push the cart to keep the pole upright; rewards and resets as in the manager-based task."""

    action_scale = 100.0
    cart_bound = 3.0
    pole_bound = 0.5 * math.pi

    def _setup(self) -> None:
        self.robot = self.scene["robot"]
        self.cart = self.robot.joint_index(["slider_to_cart"])
        self.pole = self.robot.joint_index(["cart_to_pole"])

    def _pre_physics_step(self, actions: torch.Tensor) -> None:
        self.cart_force = self.action_scale * actions

    def _apply_action(self) -> None:
        self.robot.joint_effort_target[:, self.cart] = self.cart_force

    def _get_observations(self) -> dict[str, torch.Tensor]:
        pos, vel = self.robot.data.joint_pos, self.robot.data.joint_vel
        return {
            "policy": torch.cat(
                (pos[:, self.cart], pos[:, self.pole], vel[:, self.cart], vel[:, self.pole]), 1
            )
        }

    def _get_rewards(self) -> torch.Tensor:
        pos, vel = self.robot.data.joint_pos, self.robot.data.joint_vel
        terminated = self._out_of_bounds().float()
        reward = (
            1.0 * (1.0 - terminated)
            - 2.0 * terminated
            - 1.0 * pos[:, self.pole].square().sum(1)
            - 0.01 * vel[:, self.cart].abs().sum(1)
            - 0.005 * vel[:, self.pole].abs().sum(1)
        )
        return reward * self.step_dt

    def _out_of_bounds(self) -> torch.Tensor:
        """The cart off the rail or the pole past horizontal."""
        pos = self.robot.data.joint_pos
        cart_out = (pos[:, self.cart].abs() > self.cart_bound).any(1)
        return cart_out | (pos[:, self.pole].abs() > self.pole_bound).any(1)

    def _get_dones(self) -> tuple[torch.Tensor, torch.Tensor]:
        time_outs = torch.ge(self.episode_length_buf, self.max_episode_length)
        return self._out_of_bounds(), time_outs

    def _reset_idx(self, mask: torch.Tensor) -> None:
        pos, vel = self.robot.default_joint_pos.clone(), self.robot.default_joint_vel.clone()
        n = self.num_envs
        pos[:, self.cart] += sample_uniform(-1.0, 1.0, (n, 1), self.device, self.rng)
        vel[:, self.cart] += sample_uniform(-0.5, 0.5, (n, 1), self.device, self.rng)
        pos[:, self.pole] += sample_uniform(-0.25 * math.pi, 0.25 * math.pi, (n, 1), self.device, self.rng)
        vel[:, self.pole] += sample_uniform(-0.25 * math.pi, 0.25 * math.pi, (n, 1), self.device, self.rng)
        self.robot.write_joint_state(pos, vel, mask)
