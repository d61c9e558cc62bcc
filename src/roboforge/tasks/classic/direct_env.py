"""The classic locomotion direct env (Isaac Lab's `LocomotionEnv` pattern): run towards a target far along +x.

Actions are motor commands in [-1, 1] (torque = `action_scale x gear x action`). Reward per step:
progress (speed towards the target, m/s) + alive bonus + upright and heading bonuses - action cost - energy
cost (|action x joint velocity|, by gear) - joints at their limits; a fall (torso below
`termination_height`) ends the episode with `death_reward` instead. Episode metrics:
`Metrics/target/forward_speed` (mean speed towards the target over the episode) and
`Metrics/target/fall_free` (share of ended episodes that did not fall).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roboforge.assets.actuators import per_joint
from roboforge.envs.direct_rl_env import DirectRLEnv
from roboforge.envs.env_cfg import DirectRLEnvCfg
from roboforge.tasks.classic import heading as hd
from roboforge.utils.math import sample_uniform

METRIC = "Metrics/target"


@dataclass(kw_only=True)
class ClassicRewardCfg:
    """Weights of the classic locomotion reward (Isaac Lab's names in brackets)."""

    progress: float = 1.0
    """Per m/s of speed towards the target (progress reward)."""
    max_progress_speed: float | None = None
    """Speed (m/s) above which the progress reward pays no more; None (Isaac Lab): uncapped. A cap ends the
    trade of falls for ever more speed once the robot runs fast enough (the metric still reports the speed)."""
    alive: float = 0.5
    """Per step not fallen (alive_reward_scale)."""
    upright: float = 0.1
    """Bonus while the torso tilts less than ~22 deg (up_weight)."""
    heading: float = 0.5
    """Bonus for facing the target (heading_weight)."""
    action_cost: float = 0.005
    """Per squared action (actions_cost_scale)."""
    energy_cost: float = 0.05
    """Per |action x scaled joint velocity| by gear share (energy_cost_scale)."""
    joint_limit_cost: float = 0.1
    """Per joint within 2% of a limit."""
    death_reward: float = -2.0
    """Reward of the step that falls (death_cost)."""


@dataclass(kw_only=True)
class ClassicEnvCfg(DirectRLEnvCfg):
    """A classic locomotion task: robot, motors, observation scales, reward weights, fall height."""

    gear: dict[str, float]
    """Motor gear (N m per unit action) by joint regex."""
    action_scale: float = 0.5
    """Factor on the action before the gear."""
    termination_height: float = 0.31
    """Torso height (m) below which the robot has fallen."""
    dof_vel_scale: float = 0.2
    """Factor on joint velocities in observations and the energy cost."""
    angular_velocity_scale: float = 1.0
    """Factor on the torso's angular velocity in observations."""
    target_distance: float = 1000.0
    """Distance (m) of the target along +x from each world's origin."""
    reset_joint_noise: tuple[float, float] = (0.2, 0.1)
    """Half-widths of the uniform joint position (rad) and velocity (rad/s) offsets at reset."""
    rewards: ClassicRewardCfg = field(default_factory=ClassicRewardCfg)
    """Reward weights."""


class ClassicLocomotionEnv(DirectRLEnv):
    """Run towards the target without falling (see module docstring)."""

    cfg: ClassicEnvCfg

    def _setup(self) -> None:
        self.robot = self.scene["robot"]
        gear = torch.tensor(
            per_joint(self.cfg.gear, self.robot.joint_names, 0.0, "env.gear"), device=self.device
        )
        self.effort_scale = self.cfg.action_scale * gear
        self.effort_ratio = gear / gear.max()
        self.target_xy = self.scene.env_origins[:, :2].to(self.device).clone()
        self.target_xy[:, 0] += self.cfg.target_distance
        self.limits = self.robot.joint_pos_limits
        self.died = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self.speed_sum = torch.zeros(self.num_envs, device=self.device)
        self.efforts = torch.zeros(self.num_envs, self.robot.num_joints, device=self.device)

    def _pre_physics_step(self, actions: torch.Tensor) -> None:
        self.actions[:] = actions.clamp(-1.0, 1.0)
        self.efforts[:] = self.effort_scale * self.actions

    def _apply_action(self) -> None:
        self.robot.joint_effort_target[:] = self.efforts

    def _state(self) -> hd.HeadingState:
        data = self.robot.data
        return hd.heading_state(
            data.root_pos_w, data.root_quat_w, data.root_lin_vel_w, data.root_ang_vel_w, self.target_xy
        )

    def _get_observations(self) -> dict[str, torch.Tensor]:
        data, s = self.robot.data, self._state()
        obs = torch.cat(
            (
                data.root_pos_w[:, 2:3],
                s.lin_vel_h,
                s.ang_vel_h * self.cfg.angular_velocity_scale,
                data.projected_gravity_b,
                s.angle_to_target[:, None],
                s.heading_proj[:, None],
                hd.joint_pos_unit(data.joint_pos, self.limits),
                data.joint_vel * self.cfg.dof_vel_scale,
                self.actions,
            ),
            dim=1,
        )
        return {"policy": obs}

    def _get_rewards(self) -> torch.Tensor:
        w, data, s = self.cfg.rewards, self.robot.data, self._state()
        self.speed_sum += s.progress
        reward = (
            w.progress * hd.capped_progress(s.progress, w.max_progress_speed)
            + w.alive
            + w.upright * hd.upright_bonus(s.up_proj)
            + w.heading * hd.heading_bonus(s.heading_proj)
            - w.action_cost * self.actions.square().sum(1)
            - w.energy_cost
            * hd.motor_power(self.actions, data.joint_vel * self.cfg.dof_vel_scale, self.effort_ratio)
            - w.joint_limit_cost * hd.joints_at_limit(hd.joint_pos_unit(data.joint_pos, self.limits))
        )
        return torch.where(self.died, w.death_reward, reward)

    def _get_dones(self) -> tuple[torch.Tensor, torch.Tensor]:
        self.died[:] = self.robot.data.root_pos_w[:, 2] < self.cfg.termination_height
        time_outs = torch.ge(self.episode_length_buf, self.max_episode_length)
        return self.died, time_outs

    def _reset(self, mask: torch.Tensor, log: bool = True) -> None:
        if log:
            steps = self.episode_length_buf.clamp(min=1).float()
            self._accumulate(
                {
                    f"{METRIC}/forward_speed": ((self.speed_sum / steps * mask).sum(), mask.sum()),
                    f"{METRIC}/fall_free": ((mask & ~self.died).sum().float(), mask.sum()),
                }
            )
        super()._reset(mask, log)

    def _reset_idx(self, mask: torch.Tensor) -> None:
        """Default pose with small uniform joint offsets (clamped to the limits); the last action cleared."""
        pos_noise, vel_noise = self.cfg.reset_joint_noise
        shape = self.robot.default_joint_pos.shape
        pos = self.robot.default_joint_pos + sample_uniform(
            -pos_noise, pos_noise, shape, self.device, self.rng
        )
        pos = pos.clamp(self.limits[:, 0], self.limits[:, 1])
        vel = self.robot.default_joint_vel + sample_uniform(
            -vel_noise, vel_noise, shape, self.device, self.rng
        )
        self.robot.write_joint_state(pos, vel, mask)
        self.speed_sum.masked_fill_(mask, 0.0)
        # a new episode observes no action yet, as the manager-based twin does
        self.actions.masked_fill_(mask[:, None], 0.0)
        self.died.masked_fill_(mask, False)
