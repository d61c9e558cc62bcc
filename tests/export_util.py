"""Helpers shared by the export and deploy tests: checkpoints, a trained cart-pole, env-vs-deploy rollouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from roboforge.deploy.sim_commands import command_sims
from roboforge.rl.checkpoints import save_checkpoint
from roboforge.rl.run_dir import save_configs
from roboforge.rl.session import Session, build_session
from roboforge.rl.trainer import Trainer

OBS_OVERRIDES = {  # history, clip and scale on the cart-pole's terms, so the runtime must reproduce them
    "observations.policy.terms.joint_pos.history_length": 3,
    "observations.policy.terms.joint_pos.scale": 0.5,
    "observations.policy.terms.joint_vel.clip": [-1.0, 1.0],
    "observations.policy.terms.joint_vel.scale": 2.0,
}
TRAIN_ENVS = 512
TRAIN_ITERATIONS = 50  # ~15 s on 2 cores: balances most episodes, some still leave the rail


def run_folder(
    task: str,
    folder: Path,
    agent_overrides: dict[str, Any] | None = None,
    env_overrides: dict[str, Any] | None = None,
    seed: int = 0,
) -> tuple[Session, Path]:
    """An untrained (random-weight) checkpoint in a run-like folder with params/; returns (session, checkpoint)."""
    torch.manual_seed(seed)
    s = build_session(task, 1, "cpu", "mujoco", None, True, env_overrides or {}, agent_overrides or {})
    save_configs(folder, task, s.env_cfg, s.agent_cfg, {})
    return s, save_checkpoint(folder, s.learner, 0, ".pt")


def trained_cartpole(base: Path) -> Path:
    """A cart-pole run trained for TRAIN_ITERATIONS, cached under `base` (the pytest session's temp root)."""
    folder = base / "trained_cartpole"
    checkpoint = folder / f"model_{TRAIN_ITERATIONS - 1}.pt"
    if checkpoint.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    s = build_session("cartpole", num_envs=TRAIN_ENVS, device="cpu")
    save_configs(folder, "cartpole", s.env_cfg, s.agent_cfg, {})
    Trainer(s, folder, TRAIN_ITERATIONS, quiet=True).train()
    assert checkpoint.is_file()
    return folder


def copy_env_state(session: Session, robot: Any) -> None:
    """Put world 0 of the training env into the deploy sim robot (full qpos/qvel)."""
    robot.data.qpos[:] = session.env.sim.qpos[0].numpy()
    robot.data.qvel[:] = session.env.sim.qvel[0].numpy()
    robot.forward()


def rollout_parity(session: Session, runner: Any, robot: Any, steps: int, command: str | None = None) -> dict:
    """Step the training env (torch actor) and the deploy runtime (ONNX) side by side from the same state.

    Returns the largest observation, action, joint-state and command-metric differences and the steps
    compared (until the env's first episode end).
    """
    env, venv = session.env, session.learner.venv
    actor = session.learner.alg.get_policy()
    actor.eval()
    actor.reset()
    obs, _ = venv.reset()
    copy_env_state(session, robot)
    runner.reset()
    entity = env.scene[runner.meta.robot.asset]
    err = {"obs": 0.0, "action": 0.0, "joint_pos": 0.0, "joint_vel": 0.0, "command_metrics": 0.0, "steps": 0}
    metric_sim = command_sims(runner.meta, robot, {}).get(command) if command else None
    for _ in range(steps):
        commands = (
            {command: env.command_manager.get_command(command)[0].double().numpy()} if command else None
        )
        cmd = runner.step(robot.read_state(), commands=commands)
        err["obs"] = max(err["obs"], float(np.abs(runner.observations.obs - obs["policy"][0].numpy()).max()))
        with torch.no_grad():
            action = actor(obs)
        err["action"] = max(err["action"], float(np.abs(runner.last_action - action[0].numpy()).max()))
        obs, _, dones, _ = venv.step(action)
        robot.write_command(cmd)
        if bool(dones[0]):
            break
        state = robot.read_state()
        err["joint_pos"] = max(
            err["joint_pos"], float(np.abs(state.joint_pos - entity.data.joint_pos[0].numpy()).max())
        )
        err["joint_vel"] = max(
            err["joint_vel"], float(np.abs(state.joint_vel - entity.data.joint_vel[0].numpy()).max())
        )
        if metric_sim is not None:  # the command term's metrics from the same state and command
            term = env.command_manager.terms[command]
            metric_sim.command = term.command[0].double().numpy()
            expected = [float(term.metrics[k][0]) for k in ("position_error", "orientation_error")]
            err["command_metrics"] = max(
                err["command_metrics"], float(np.abs(metric_sim._errors() - expected).max())
            )
        err["steps"] += 1
    return err


def exported_cartpole(folder: Path) -> tuple[Session, Path]:
    """Random-weight cart-pole MLP with history/clip/scale observations: (session, policy.onnx)."""
    from roboforge.export import export_policy

    s, checkpoint = run_folder("cartpole", folder, env_overrides=OBS_OVERRIDES, seed=3)
    return s, export_policy("cartpole", checkpoint, folder / "out", env_overrides=OBS_OVERRIDES).policy


def exported_reach(folder: Path) -> tuple[Session, Path]:
    """Random-weight UR5e reach policy (joint position targets, pose command, last action): (session, policy.onnx)."""
    from roboforge.export import export_policy

    s, checkpoint = run_folder("reach-ur5e", folder)
    return s, export_policy("reach-ur5e", checkpoint, folder / "out").policy


def state_of(robot: Any, stamp: float | None = None) -> Any:
    """The robot's state, optionally with another time stamp."""
    state = robot.read_state()
    if stamp is not None:
        state.stamp = stamp
    return state


def exported_session(
    task: str, folder: Path, worlds: int, env_overrides: dict[str, Any] | None = None
) -> tuple[Session, Path]:
    """(a C-backend session of `worlds` worlds with a random-weight policy's weights, that policy exported), both
    with `env_overrides` (paths without `env.`)."""
    from roboforge.export import export_policy

    _, checkpoint = run_folder(task, folder, env_overrides=env_overrides)
    s = build_session(task, worlds, "cpu", "mujoco", None, True, env_overrides or {})
    s.learner.load(checkpoint, training=False)
    return s, export_policy(task, checkpoint, folder / "out", env_overrides=env_overrides).policy


def world_context(robot: Any, env: Any, action: np.ndarray, world: int = 0) -> Any:
    """The deploy runtime's observation context of one training world's state: qpos, qvel and mocap positions
    copied into the simulated robot, its state read back, the env's commands of that world."""
    from roboforge.deploy.observations import ObsContext

    robot.data.qpos[:] = env.sim.qpos[world].numpy()
    robot.data.qvel[:] = env.sim.qvel[world].numpy()
    robot.data.mocap_pos[:] = env.sim.mocap_pos[world].numpy()
    robot.forward()
    state = robot.read_state()
    terms = env.command_manager.terms if hasattr(env, "command_manager") else {}  # a direct env has none
    commands = {n: t.command[world].double().numpy() for n, t in terms.items()}
    return ObsContext(
        state.joint_pos,
        state.joint_vel,
        action,
        state.base_quat_w,
        state.base_lin_vel_b,
        state.base_ang_vel_b,
        commands,
        base_pos_w=state.base_pos_w,
        object_pos_w=state.object_pos_w or {},
        object_nodes_w=state.object_nodes_w or {},
        obstacles_w=state.obstacles_w,
        terrain_height_w=state.terrain_height_w,
    )


def lockstep(runner: Any, robot: Any, rules: Any, session: Session, obs: Any, commands: Any, steps: int):
    """The deploy runtime on world 0's simulated robot beside the training env (the env steps with its own actor):
    yields `(length, observation error, env done of world 0, the runtime's termination flags)` after each step,
    the error being the runtime's observation against the env's before the step. A policy with a low-level policy
    sends `runner.commands_per_step` joint commands per step."""
    venv, actor = session.learner.venv, session.learner.policy()
    for length in range(1, steps + 1):
        command = runner.step(robot.read_state(), robot.now(), commands())
        error = float(np.abs(runner.observations.obs - obs["policy"][0].numpy()).max())
        with torch.no_grad():
            obs, _, dones, _ = venv.step(actor(obs))
        robot.write_command(command)
        for _ in range(runner.commands_per_step - 1):
            robot.write_command(runner.step(robot.read_state(), robot.now(), commands()))
        yield length, error, bool(dones[0]), rules.dones(robot, length)


def observation_parity(
    session: Session, policy: Path, seed: int, steps: int, tolerance: dict[str, float]
) -> tuple[np.ndarray, set[str]]:
    """Compare the deploy runtime's observations with training's over `steps` random-action steps of every world,
    each term to `tolerance[func]` (else 1e-5); returns the compared training observations `(n, obs_dim)` and the
    term functions seen."""
    from roboforge.deploy import MujocoSimRobot, PolicyRunner

    env, venv = session.env, session.learner.venv
    runner = PolicyRunner.load(policy)
    robot = MujocoSimRobot(runner.meta, policy.parent)
    gen = torch.Generator().manual_seed(seed)
    venv.reset()
    compared, seen = [], set()
    for _ in range(steps):
        action = torch.rand(env.num_envs, runner.meta.policy.action_dim, generator=gen) * 2.0 - 1.0
        obs, _, dones, _ = venv.step(action)
        for w in range(env.num_envs):
            if bool(dones[w]):
                continue  # the observation is of the next episode's first state; the action was not last_action
            ctx = world_context(robot, env, action[w].double().numpy(), w)
            runner.observations.reset()  # one state, no history
            expected = obs["policy"][w].double().numpy()
            got = runner.observations.compute(ctx).astype(np.float64)
            compared.append(expected)
            for term in runner.observations.terms:
                diff = float(np.abs(got[term.slice] - expected[term.slice]).max())
                seen.add(term.spec.func)
                assert diff < tolerance.get(term.spec.func, 1e-5), (
                    term.spec.name,
                    got[term.slice],
                    expected[term.slice],
                )
    return np.array(compared), seen
