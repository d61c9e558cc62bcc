"""Velocity tracking: a legged robot follows (v_x, v_y, yaw rate) commands on flat or rough terrain.

The policy sees noisy proprioception, the command and its last action (plus a height scan on rough
terrain); the critic sees the same without noise plus privileged signals: foot contacts, base height
above the terrain and the height scan (asymmetric actor-critic).
"""

from __future__ import annotations

import math

from roboforge import mdp
from roboforge.envs.env_cfg import ManagerBasedRLEnvCfg
from roboforge.managers import (
    CurriculumTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    TerminationTermCfg,
    UniformNoiseCfg,
)
from roboforge.mdp import locomotion
from roboforge.scene import SceneCfg
from roboforge.sensors import ContactSensorCfg, SensorCfg
from roboforge.sim import SimCfg
from roboforge.tasks.locomotion.robots import LeggedRobot
from roboforge.tasks.locomotion.velocity_terms import BODY, COMMAND, FEET, velocity_events, velocity_rewards
from roboforge.terrains.presets import rough_terrain_cfg


def noise(magnitude: float) -> UniformNoiseCfg:
    return UniformNoiseCfg(n_min=-magnitude, n_max=magnitude)


def velocity_env_cfg(
    robot: LeggedRobot, rough: bool = False, num_envs: int = 4096, play: bool = False
) -> ManagerBasedRLEnvCfg:
    """The velocity task for `robot`; `rough` adds the terrain generator, curriculum and height scan.
    `play` (eval, play, videos), as Isaac Lab's play configs: 32 worlds, rough worlds spread over every
    terrain level and kept there (no curriculum), no pushes, no observation noise."""
    sensors: dict[str, SensorCfg] = {
        FEET: robot.feet,
        BODY: ContactSensorCfg(
            body_names=robot.base_contact_bodies + robot.undesired_contact_bodies, track_air_time=False
        ),
    }
    terrain = (
        rough_terrain_cfg(
            max_init_terrain_level=None if play else 5,
            box_height_range=robot.box_height_range,
            rough_amplitude_range=robot.rough_amplitude_range,
        )
        if rough
        else None
    )
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(
            num_envs=32 if play else num_envs,
            entities={"robot": robot.articulation()},
            sensors=sensors,
            terrain=terrain,
            visual_geoms=False,  # `roboforge play --viewer` turns them back on
        ),
        sim=_sim_cfg(robot, rough),
        decimation=4,
        episode_length_s=20.0,
        actions={"joint_pos": mdp.JointPositionActionCfg(joint_names=[".*"], scale=0.25)},
        commands={COMMAND: _velocity_command(robot)},
        observations=_observations(rough, play),
        # Isaac Lab's Go1 and G1 rough configs train without pushes (their terrain perturbs enough)
        events=velocity_events(robot, pushes=not (play or rough)),
        rewards=velocity_rewards(robot, rough),
        terminations=_terminations(robot),
        curriculum=(
            {
                "terrain_levels": CurriculumTermCfg(
                    func=mdp.terrain_levels_vel, params={"command_name": COMMAND}
                )
            }
            if rough and not play  # play: each world keeps its level, so eval covers every level alike
            else {}
        ),
    )


def _sim_cfg(robot: LeggedRobot, rough: bool) -> SimCfg:
    return SimCfg(
        timestep=0.005,
        iterations=10,
        # rough ground: with 20 line-search iterations some worlds exploded (|qvel| from < 10 to > 1e4 in
        # one env step). C MuJoCo, a rough-go1 policy on levels 4-9, 76.8 K env steps (2026-12-04): 14
        # explosions with 10/20 solver/line-search iterations, 18 with 20/20, none with 10/50 or 50/50
        # (MuJoCo Warp's line search stops early once converged)
        ls_iterations=50 if rough else 20,
        # height-field cells each add contacts: a Go1 on rough terrain overflowed 32 per world
        nconmax=robot.nconmax * (3 if rough else 1),
        njmax=robot.njmax * (3 if rough else 1),
    )


def _terminations(robot: LeggedRobot) -> dict[str, TerminationTermCfg]:
    return {
        "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
        "base_contact": TerminationTermCfg(
            func=locomotion.illegal_contact,
            params={"sensor_name": BODY, "threshold": 1.0, "body_names": robot.base_contact_bodies},
        ),
        "bad_orientation": TerminationTermCfg(func=locomotion.bad_orientation, params={"limit_angle": 1.0}),
    }


def _velocity_command(robot: LeggedRobot) -> mdp.UniformVelocityCommandCfg:
    return mdp.UniformVelocityCommandCfg(
        resampling_time_range=(10.0, 10.0),
        rel_standing_envs=0.02,
        rel_heading_envs=1.0,
        heading_command=True,
        heading_control_stiffness=0.5,
        ranges=mdp.VelocityRanges(
            lin_vel_x=robot.lin_vel_x,
            lin_vel_y=robot.lin_vel_y,
            ang_vel_z=robot.ang_vel_z,
            heading=(-math.pi, math.pi),
        ),
    )


def _proprioception(noisy: bool) -> dict[str, ObservationTermCfg]:
    def term(func, magnitude: float, **params) -> ObservationTermCfg:
        return ObservationTermCfg(func=func, noise=noise(magnitude) if noisy else None, params=params)

    return {
        "base_lin_vel": term(mdp.base_lin_vel_b, 0.1),
        "base_ang_vel": term(mdp.base_ang_vel_b, 0.2),
        "projected_gravity": term(mdp.projected_gravity_b, 0.05),
        "velocity_commands": ObservationTermCfg(
            func=mdp.generated_commands, params={"command_name": COMMAND}
        ),
        "joint_pos": term(mdp.joint_pos_rel, 0.01),
        "joint_vel": term(mdp.joint_vel_rel, 1.5),
        "actions": ObservationTermCfg(func=mdp.last_action),
    }


def _observations(rough: bool, play: bool) -> dict[str, ObservationGroupCfg]:
    height_scan = {"func": mdp.height_scan, "clip": (-1.0, 1.0)}
    policy = _proprioception(noisy=True)
    critic = _proprioception(noisy=False)
    if rough:
        policy["height_scan"] = ObservationTermCfg(**height_scan, noise=noise(0.1))
    critic["height_scan"] = ObservationTermCfg(**height_scan)
    critic["feet_contact"] = ObservationTermCfg(func=mdp.contact_states, params={"sensor_name": FEET})
    critic["base_height"] = ObservationTermCfg(func=mdp.base_height)
    return {
        "policy": ObservationGroupCfg(terms=policy, enable_corruption=not play),
        "critic": ObservationGroupCfg(terms=critic),
    }
