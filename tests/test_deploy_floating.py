"""A floating-base robot (Menagerie Go1) through export and the deploy runtime: base velocity and gravity
observations, mixed implicit / ideal-PD actuators, mesh assets, root reset events, height termination."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import requires_go1
from export_util import rollout_parity, run_folder
from roboforge import mdp
from roboforge.agents.rsl_rl_cfg import RslRlModelCfg, RslRlPpoRunnerCfg
from roboforge.assets import (
    ArticulationCfg,
    IdealPDActuatorCfg,
    ImplicitActuatorCfg,
    InitialStateCfg,
    MenagerieSpawnCfg,
)
from roboforge.deploy import MujocoSimRobot, PolicyRunner
from roboforge.deploy.episodes import EpisodeRules, run_sim_episodes
from roboforge.envs import ManagerBasedRLEnvCfg, register_task
from roboforge.export import export_policy
from roboforge.managers import (
    EventTermCfg,
    ObservationGroupCfg,
    ObservationTermCfg,
    RewardTermCfg,
    TerminationTermCfg,
)
from roboforge.scene import SceneCfg
from roboforge.sim import SimCfg

TASK = "test-go1-deploy"
LEGS = {"effort_limit": 23.7, "stiffness": 35.0, "damping": 0.5}


def go1_env_cfg(num_envs: int = 1, play: bool = False) -> ManagerBasedRLEnvCfg:
    """Go1 standing task using every base observation term and both actuator kinds."""
    robot = ArticulationCfg(
        spawn=MenagerieSpawnCfg(robot="unitree_go1", file="go1.xml"),
        init_state=InitialStateCfg(
            pos=(0.0, 0.0, 0.3), joint_pos={".*_thigh_joint": 0.9, ".*_calf_joint": -1.8}
        ),
        actuators={
            "front": ImplicitActuatorCfg(joint_names_expr=["F[LR]_.*"], **LEGS),
            "rear": IdealPDActuatorCfg(joint_names_expr=["R[LR]_.*"], **LEGS),
        },
    )
    term = ObservationTermCfg
    return ManagerBasedRLEnvCfg(
        scene=SceneCfg(num_envs=num_envs, entities={"robot": robot}),
        sim=SimCfg(timestep=0.005),
        decimation=4,
        episode_length_s=1.0,
        actions={"legs": mdp.JointPositionActionCfg(joint_names=[".*"], scale=0.25)},
        observations={
            "policy": ObservationGroupCfg(
                terms={
                    "lin_vel": term(func=mdp.base_lin_vel_b, scale=2.0),
                    "ang_vel": term(func=mdp.base_ang_vel_b, scale=0.25),
                    "gravity": term(func=mdp.projected_gravity_b),
                    "joint_pos": term(func=mdp.joint_pos_rel, history_length=2),
                    "joint_vel": term(func=mdp.joint_vel_rel, clip=(-5.0, 5.0), scale=0.05),
                    "actions": term(func=mdp.last_action),
                }
            )
        },
        events={
            "reset_base": EventTermCfg(
                func=mdp.reset_root_state_uniform,
                mode="reset",
                params={
                    "pose_range": {"x": (-0.1, 0.1), "roll": (-0.1, 0.1), "yaw": (-math.pi, math.pi)},
                    "velocity_range": {"x": (-0.3, 0.3), "yaw": (-0.5, 0.5)},
                },
            ),
            "reset_legs": EventTermCfg(
                func=mdp.reset_joints_by_offset,
                mode="reset",
                params={"position_range": (-0.1, 0.1), "velocity_range": (0.0, 0.0)},
            ),
        },
        rewards={"alive": RewardTermCfg(func=mdp.is_alive, weight=1.0)},
        terminations={
            "time_out": TerminationTermCfg(func=mdp.time_out, time_out=True),
            "base_low": TerminationTermCfg(func=mdp.root_height_below, params={"minimum_height": 0.2}),
        },
    )


def go1_ppo_cfg() -> RslRlPpoRunnerCfg:
    return RslRlPpoRunnerCfg(actor=RslRlModelCfg(hidden_dims=[32]), critic=RslRlModelCfg(hidden_dims=[32]))


register_task(
    TASK,
    entry_point="roboforge.envs.manager_based_rl_env:ManagerBasedRLEnv",
    env_cfg_entry_point=f"{__name__}:go1_env_cfg",
    rsl_rl_cfg_entry_point=f"{__name__}:go1_ppo_cfg",
    description="test only",
)


@pytest.fixture(scope="module")
def go1(tmp_path_factory):
    folder = tmp_path_factory.mktemp("go1")
    s, checkpoint = run_folder(TASK, folder, seed=1)
    return s, export_policy(TASK, checkpoint, folder / "out", check=True)


@requires_go1
def test_go1_export_carries_mesh_assets_and_floating_base(go1):
    _, result = go1
    meta = PolicyRunner.load(result.policy).meta
    assert meta.robot.floating_base and meta.robot.default_root_state is not None
    assert meta.robot.default_root_state[:3] == [0.0, 0.0, 0.3]
    assert meta.scene.assets and all(
        (result.output_dir / "scene_assets" / a).is_file() for a in meta.scene.assets
    )
    kinds = dict(zip(meta.robot.joint_names, meta.robot.actuator, strict=True))
    assert kinds["FR_hip_joint"] == "implicit" and kinds["RL_calf_joint"] == "ideal_pd"
    with pytest.raises(Exception, match="asset"):
        MujocoSimRobot(meta)  # without the export folder the meshes are missing


@requires_go1
def test_go1_runtime_matches_training_env(go1):
    s, result = go1
    runner = PolicyRunner.load(result.policy)
    robot = MujocoSimRobot(runner.meta, result.output_dir)
    err = rollout_parity(s, runner, robot, 40)
    assert err["steps"] >= 20, err
    assert err["obs"] < 1e-4 and err["action"] < 1e-4, err
    assert err["joint_pos"] < 1e-4 and err["joint_vel"] < 1e-2, err


@requires_go1
def test_go1_reset_distribution_and_termination(go1):
    _, result = go1
    runner = PolicyRunner.load(result.policy)
    robot = MujocoSimRobot(runner.meta, result.output_dir)
    rules = EpisodeRules(runner.meta)
    rng = np.random.default_rng(0)
    yaws = []
    for _ in range(20):
        rules.reset(robot, rng)
        w, x, y, z = robot.data.qpos[3:7]
        yaws.append(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
        assert abs(robot.data.qpos[0]) <= 0.1 + 1e-9 and abs(robot.data.qvel[0]) <= 0.3 + 1e-9
        assert robot.data.qpos[2] == pytest.approx(0.3)
    assert max(yaws) - min(yaws) > math.pi, "yaw is drawn from (-pi, pi)"
    robot.data.qpos[2] = 0.1
    assert rules.dones(robot, 1) == {"time_out": False, "base_low": True}
    result = run_sim_episodes(runner, robot, 2, seed=0)
    assert result.episodes == 2 and set(result.metrics) == {
        "Episode_Termination/time_out", "Episode_Termination/base_low", "Episode/length", "Episode/survived"
    }  # fmt: skip


@pytest.fixture(scope="module")
def velocity_go1(tmp_path_factory):
    folder = tmp_path_factory.mktemp("velocity_go1")
    _, checkpoint = run_folder("velocity-flat-go1", folder, seed=0)
    return export_policy("velocity-flat-go1", checkpoint, folder / "out", check=False)


@requires_go1
def test_velocity_task_runs_in_the_runtime_with_legged_terminations(velocity_go1):
    runner = PolicyRunner.load(velocity_go1.policy)
    robot = MujocoSimRobot(runner.meta, velocity_go1.output_dir)
    rules = EpisodeRules(runner.meta)
    assert {s.split(" ")[0] for s in rules.skipped} >= {"physics_material", "add_base_mass"}
    rules.reset(robot, np.random.default_rng(0))
    assert rules.dones(robot, 1) == {"time_out": False, "base_contact": False, "bad_orientation": False}
    robot.set_root_state(np.array([0.0, 0.0, 0.3]), np.array([0.0, 1.0, 0.0, 0.0]), np.zeros(3), np.zeros(3))
    assert rules.dones(robot, 1)["bad_orientation"]  # upside down
    robot.set_root_state(np.array([0.0, 0.0, 0.05]), np.array([0.0, 1.0, 0.0, 0.0]), np.zeros(3), np.zeros(3))
    assert rules.dones(robot, 1)["base_contact"]  # trunk pressed into the ground
    result = run_sim_episodes(runner, robot, 1, seed=0)
    assert {"Metrics/base_velocity/error_vel_xy", "Metrics/base_velocity/error_vel_yaw"} <= set(
        result.metrics
    )
    assert result.metrics["Metrics/base_velocity/error_vel_xy"] > 0.0


def test_velocity_command_sim_steers_to_its_heading():
    from types import SimpleNamespace

    from roboforge.deploy.specs import CommandSpec
    from roboforge.deploy.velocity_command_sim import VelocityCommandSim

    ranges = {"lin_vel_x": [0.5, 0.5], "lin_vel_y": [0, 0], "ang_vel_z": [-1, 1], "heading": [1.0, 1.0]}
    spec = CommandSpec(
        name="base_velocity",
        type="UniformVelocityCommandCfg",
        params={"ranges": ranges, "heading_command": True, "heading_control_stiffness": 0.5,
                "resampling_time_range": [10, 10]},
    )  # fmt: skip
    qvel = np.zeros(6)
    qvel[0] = 0.3  # world x velocity; the robot faces +x
    robot = SimpleNamespace(
        root_pose_w=lambda: (np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0])),
        data=SimpleNamespace(qvel=qvel),
        root_d=0,
    )
    sim = VelocityCommandSim(spec, None, robot)  # type: ignore[arg-type]
    sim.reset(np.random.default_rng(0))
    sim.step(np.random.default_rng(0), 1, 0.02, 1000)
    assert sim.command == pytest.approx([0.5, 0.0, 0.5])  # 0.5 * heading error 1.0 rad
    assert sim.episode_metrics() == pytest.approx(
        {"Metrics/base_velocity/error_vel_xy": 0.2, "Metrics/base_velocity/error_vel_yaw": 0.5}
    )
