"""Navigation: a disc robot drives to a goal 2-5 m away through an arena of random cylinders, seeing them with
a planar lidar; touching an obstacle or a wall ends the episode, so does reaching the goal (success)."""

from __future__ import annotations

import math

from roboforge import mdp
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    EventTermCfg,
    GaussianNoiseCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    RewardTermCfg,
    TerminationTermCfg,
)
from roboforge.scene import SceneCfg
from roboforge.sim import SimCfg
from roboforge.tasks.navigation.robot import (
    MAX_ANG_SPEED,
    MAX_LIN_SPEED,
    ROBOT_RADIUS,
    arena_cfg,
    point_robot_cfg,
)

COMMAND = "goal"
ARENA_HALF_SIZE = 4.0  # m: an 8 m x 8 m arena
NUM_OBSTACLES = 8
OBSTACLE_RADII = (0.2, 0.4)  # m
START_RANGE = ARENA_HALF_SIZE - 1.0  # m: the robot starts anywhere in [-3, 3]^2, heading anywhere
NUM_RAYS = 32
MAX_RANGE = 3.0  # m


def navigation_env_cfg(num_envs: int = 4096, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Point-robot navigation among obstacles; `play` uses fewer worlds and no observation noise."""
    goal = {"command_name": COMMAND}
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(
            num_envs=32 if play else num_envs,
            env_spacing=2.0 * ARENA_HALF_SIZE + 1.0,
            entities={
                "robot": point_robot_cfg(),
                "arena": arena_cfg(ARENA_HALF_SIZE, NUM_OBSTACLES, OBSTACLE_RADII),
            },
        ),
        sim=SimCfg(timestep=0.02),
        decimation=2,
        episode_length_s=15.0,
        actions={
            "base_velocity": mdp.PlanarVelocityActionCfg(
                max_lin_speed=MAX_LIN_SPEED, max_ang_speed=MAX_ANG_SPEED
            )
        },
        commands={
            COMMAND: mdp.NavigationCommandCfg(
                robot_radius=ROBOT_RADIUS, arena_half_size=ARENA_HALF_SIZE, goal_distance=(2.0, 5.0)
            )
        },
        observations={"policy": policy_observations(noisy=not play)},
        events={
            "reset_position": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={
                    "joint_names": ["x", "y"],
                    "position_range": (-START_RANGE, START_RANGE),
                    "velocity_range": (0.0, 0.0),
                },
            ),
            "reset_heading": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={
                    "joint_names": ["yaw"],
                    "position_range": (-math.pi, math.pi),
                    "velocity_range": (0.0, 0.0),
                },
            ),
        },
        rewards={
            "progress": RewardTermCfg(func=mdp.goal_progress, weight=1.0, params=goal),
            "reached": RewardTermCfg(func=mdp.goal_reached_bonus, weight=5.0, params=goal),
            "touched": RewardTermCfg(func=mdp.obstacle_touched_penalty, weight=-5.0, params=goal),
            "proximity": RewardTermCfg(func=mdp.obstacle_proximity, weight=-1.0, params=goal),
            "action": RewardTermCfg(func=mdp.action_l2, weight=-0.01),
            "action_rate": RewardTermCfg(func=mdp.action_rate_l2, weight=-0.05),
        },
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "goal_reached": TerminationTermCfg(func=mdp.goal_reached, params=goal),
            "obstacle_touched": TerminationTermCfg(func=mdp.obstacle_touched, params=goal),
        },
    )


def policy_observations(noisy: bool) -> ObservationGroupCfg:
    """Goal in the body frame, own body-frame velocity, the lidar scan and the last action."""

    def noise(std: float) -> GaussianNoiseCfg | None:
        return GaussianNoiseCfg(std=std) if noisy else None

    return ObservationGroupCfg(
        enable_corruption=noisy,
        terms={
            "goal_position": ObservationTermCfg(
                func=mdp.generated_commands, params={"command_name": COMMAND}, noise=noise(0.02)
            ),
            "velocity": ObservationTermCfg(func=mdp.planar_velocity_b, noise=noise(0.05)),
            "range_scan": ObservationTermCfg(
                func=mdp.range_scan,
                params={"num_rays": NUM_RAYS, "max_range": MAX_RANGE, "arena_half_size": ARENA_HALF_SIZE},
                noise=noise(0.02),
                clip=(0.0, MAX_RANGE),
            ),
            "actions": ObservationTermCfg(func=mdp.last_action),
        },
    )
