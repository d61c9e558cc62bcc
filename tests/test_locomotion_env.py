"""Locomotion terms and every randomization event together in a Go1 velocity-tracking env."""

from __future__ import annotations

from typing import Any

import torch

from conftest import requires_go1
from roboforge import mdp
from roboforge.assets import ArticulationCfg, DCMotorActuatorCfg, InitialStateCfg, MenagerieSpawnCfg
from roboforge.assets.actuators import ImplicitActuatorCfg
from roboforge.scene import SceneCfg
from roboforge.sim import SimCfg
from roboforge.sim.simulator import Backend


# --- all of it in a Go1 env -------------------------------------------------------------------------------
def go1_velocity_env_cfg(num_envs: int, backend: Backend = "mujoco", device: str = "cpu"):
    """Go1 flat velocity-tracking env built from the locomotion terms and every randomization event."""
    from roboforge.envs import ManagerBasedRLEnvCfg
    from roboforge.managers import (
        EventTermCfg,
        ObservationGroupCfg,
        ObservationTermCfg,
        RewardTermCfg,
        TerminationTermCfg,
    )

    legs: dict[str, Any] = {"stiffness": 25.0, "damping": 0.6, "effort_limit": 23.7}
    robot = ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 0.3), joint_pos={".*_thigh_joint": 0.9, ".*_calf_joint": -1.8}
        ),
        actuators={
            "front": ImplicitActuatorCfg(joint_names_expr=["F[LR]_.*"], **legs),
            "rear": DCMotorActuatorCfg(
                joint_names_expr=["R[LR]_.*"],
                saturation_effort=23.7,
                velocity_limit=30.0,
                delay_range=(0, 2),
                **legs,
            ),
        },
    )
    obs = ObservationTermCfg
    command = {"command_name": "base_velocity"}
    events = {
        "friction": EventTermCfg(
            func=mdp.randomize_friction, mode="startup", params={"friction_range": (0.4, 1.0)}
        ),
        "mass": EventTermCfg(func=mdp.add_base_mass, mode="startup", params={"mass_range": (-0.5, 1.0)}),
        "com": EventTermCfg(
            func=mdp.randomize_com, mode="startup", params={"com_range": {"x": (-0.02, 0.02)}}
        ),
        "gains": EventTermCfg(
            func=mdp.randomize_actuator_gains,
            mode="startup",
            params={"stiffness_range": (0.8, 1.2), "damping_range": (0.8, 1.2)},
        ),
        "reset_base": EventTermCfg(
            func=mdp.reset_root_state_uniform, mode="reset", params={"pose_range": {"yaw": (-3.14, 3.14)}}
        ),
        "defaults": EventTermCfg(
            func=mdp.randomize_joint_default_offsets, mode="reset", params={"offset_range": (-0.05, 0.05)}
        ),
        "push": EventTermCfg(
            func=mdp.push_by_setting_velocity,
            mode="interval",
            interval_range_s=(0.02, 0.1),
            params={"velocity_range": {"x": (-0.5, 0.5), "y": (-0.5, 0.5)}},
        ),
    }
    rewards = {
        "track_lin": RewardTermCfg(func=mdp.track_lin_vel_xy_exp, weight=1.0, params={"std": 0.5, **command}),
        "track_ang": RewardTermCfg(func=mdp.track_ang_vel_z_exp, weight=0.5, params={"std": 0.5, **command}),
        "lin_vel_z": RewardTermCfg(func=mdp.lin_vel_z_l2, weight=-2.0),
        "ang_vel_xy": RewardTermCfg(func=mdp.ang_vel_xy_l2, weight=-0.05),
        "flat": RewardTermCfg(func=mdp.flat_orientation_l2, weight=-1.0),
        "torques": RewardTermCfg(func=mdp.joint_torques_l2, weight=-1e-4),
        "acc": RewardTermCfg(func=mdp.JointAccL2, weight=-2.5e-7),
        "limits": RewardTermCfg(func=mdp.joint_pos_limits, weight=-1.0),
        "still": RewardTermCfg(func=mdp.stand_still_joint_deviation_l1, weight=-0.1, params=command),
    }
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(num_envs=num_envs, entities={"robot": robot}),
        sim=SimCfg(timestep=0.005, backend=backend, device=device),
        decimation=4,
        episode_length_s=0.2,
        actions={"legs": mdp.JointPositionActionCfg(joint_names=[".*"], scale=0.25)},
        commands={
            "base_velocity": mdp.UniformVelocityCommandCfg(
                heading_command=True, rel_standing_envs=0.25, resampling_time_range=(0.1, 0.1)
            )
        },
        observations={
            "policy": ObservationGroupCfg(
                terms={
                    "lin_vel": obs(func=mdp.base_lin_vel_b),
                    "ang_vel": obs(func=mdp.base_ang_vel_b),
                    "gravity": obs(func=mdp.projected_gravity_b),
                    "command": obs(func=mdp.generated_commands, params=command),
                    "joint_pos": obs(func=mdp.joint_pos_rel),
                    "joint_vel": obs(func=mdp.joint_vel_rel),
                    "actions": obs(func=mdp.last_action),
                }
            )
        },
        events=events,
        rewards=rewards,
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "tilt": TerminationTermCfg(func=mdp.bad_orientation, params={"limit_angle": 1.0}),
        },
    )


@requires_go1
def test_go1_velocity_env_with_randomization_steps_and_logs_metrics():
    from roboforge.envs.manager_based_rl_env import ManagerBasedRLEnv

    env = ManagerBasedRLEnv(go1_velocity_env_cfg(num_envs=4))
    for field in ("geom_friction", "body_mass", "body_ipos", "actuator_gainprm", "actuator_biasprm"):
        values = env.sim.model_field(field)
        assert not torch.equal(values[0], values[1]), f"{field} should differ between worlds"
    rear = env.scene["robot"].actuator_groups[1]
    assert not torch.equal(rear.stiffness[0], rear.stiffness[1])
    g = torch.Generator().manual_seed(0)
    for _ in range(12):
        obs, reward, *_ = env.step(torch.rand(4, 12, generator=g) * 0.4 - 0.2)
        assert torch.isfinite(obs["policy"]).all() and torch.isfinite(reward).all()
    stats = env.pop_episode_stats()
    assert "Metrics/base_velocity/error_vel_xy" in stats and "Metrics/base_velocity/error_vel_yaw" in stats
    assert "Episode_Reward/acc" in stats and stats["nan_resets"] == 0


@requires_go1
def test_rough_play_config_spreads_worlds_over_every_level_and_keeps_them_there():
    """Eval and play run as Isaac Lab's play configs do: no pushes, no observation noise, the terrain levels
    fixed where they were drawn (every level), while training keeps noise and the curriculum (and, as Isaac
    Lab's Go1 and G1 rough configs, pushes only on flat ground)."""
    from roboforge.envs.registry import load_cfg, make_env

    assert "push_robot" in load_cfg("velocity-flat-go1", "env_cfg_entry_point").events
    train = load_cfg("velocity-rough-go1", "env_cfg_entry_point")
    assert "push_robot" not in train.events and train.observations["policy"].enable_corruption
    assert "undesired_contacts" not in train.rewards and train.rewards["feet_air_time"].weight == 0.01
    assert "terrain_levels" in train.curriculum
    play = load_cfg("velocity-rough-go1", "env_cfg_entry_point", play=True)
    assert "push_robot" not in play.events and not play.observations["policy"].enable_corruption
    assert not play.curriculum and play.scene.terrain.max_init_terrain_level is None
    play.scene.num_envs, play.episode_length_s, play.sim.device = 64, 0.2, "cpu"  # every world resets
    env = make_env("velocity-rough-go1", play)
    terrain = env.scene.terrain
    levels = terrain.terrain_levels.clone()
    assert set(levels.tolist()) == set(range(terrain.num_rows))
    env.reset()
    for _ in range(25):
        env.step(torch.zeros(env.num_envs, env.num_actions))
    assert torch.equal(terrain.terrain_levels, levels)
    kinds = {"flat", "pyramid_stairs", "pyramid_stairs_inv", "boxes", "random_rough", "pyramid_slope"}
    stats = env.pop_episode_stats()  # the mean level of each kind is logged beside the curriculum's mean
    kinds |= {"pyramid_slope_inv"}
    assert {
        k.removeprefix("Terrain/mean_level/") for k in stats if k.startswith("Terrain/mean_level/")
    } == kinds
    survived = {k.removeprefix("Terrain/survived/") for k in stats if k.startswith("Terrain/survived/")}
    assert survived == kinds | {f"level_{i}" for i in range(10)}  # the eval's fall-free by kind and by level
