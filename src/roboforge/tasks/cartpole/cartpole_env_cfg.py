"""Manager-based cart-pole: keep the pole upright and the cart on the rail."""

from __future__ import annotations

import math

from roboforge import mdp
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    EventTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    RewardTermCfg,
    TerminationTermCfg,
)
from roboforge.scene import SceneCfg
from roboforge.sim import SimCfg
from roboforge.tasks.cartpole.robot import cartpole_robot_cfg

CART = ["slider_to_cart"]
POLE = ["cart_to_pole"]
POLE_BOUNDS = (-0.5 * math.pi, 0.5 * math.pi)
"""Pole angles (rad) beyond which the episode ends."""


def cartpole_env_cfg(num_envs: int = 1024, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Cart-pole balance; `play` uses fewer worlds."""
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(
            num_envs=32 if play else num_envs,
            env_spacing=4.0,
            ground=False,
            entities={"robot": cartpole_robot_cfg()},
        ),
        sim=SimCfg(timestep=1.0 / 120.0),
        decimation=2,
        episode_length_s=5.0,
        actions={"cart_force": mdp.JointEffortActionCfg(joint_names=CART, scale=100.0)},
        observations={
            "policy": ObservationGroupCfg(
                terms={
                    "joint_pos": ObservationTermCfg(func=mdp.joint_pos_rel),
                    "joint_vel": ObservationTermCfg(func=mdp.joint_vel_rel),
                }
            )
        },
        events={
            "reset_cart": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={"joint_names": CART, "position_range": (-1.0, 1.0), "velocity_range": (-0.5, 0.5)},
            ),
            "reset_pole": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={
                    "joint_names": POLE,
                    "position_range": (-0.25 * math.pi, 0.25 * math.pi),
                    "velocity_range": (-0.25 * math.pi, 0.25 * math.pi),
                },
            ),
        },
        rewards={
            "alive": RewardTermCfg(func=mdp.is_alive, weight=1.0),
            "terminating": RewardTermCfg(func=mdp.is_terminated, weight=-2.0),
            "pole_pos": RewardTermCfg(
                func=mdp.joint_pos_target_l2, weight=-1.0, params={"target": 0.0, "joint_names": POLE}
            ),
            "cart_vel": RewardTermCfg(func=mdp.joint_vel_l1, weight=-0.01, params={"joint_names": CART}),
            "pole_vel": RewardTermCfg(func=mdp.joint_vel_l1, weight=-0.005, params={"joint_names": POLE}),
        },
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "cart_out_of_bounds": TerminationTermCfg(
                func=mdp.joint_pos_out_of_manual_limit, params={"joint_names": CART, "bounds": (-3.0, 3.0)}
            ),
            # As Isaac Lab's direct cart-pole: a pole past horizontal ends the episode. Without it a spinning
            # pole's penalty (its unwrapped angle squared) makes pushing the cart off the rail the better
            # choice, which off-policy learners (SAC) settle on instead of balancing.
            "pole_out_of_bounds": TerminationTermCfg(
                func=mdp.joint_pos_out_of_manual_limit, params={"joint_names": POLE, "bounds": POLE_BOUNDS}
            ),
        },
    )
