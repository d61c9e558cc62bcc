"""Reach learning on the CPU (issue 3): in every control mode, PPO makes the end-effector position error fall.

Each test trains the real reach task (C MuJoCo backend, the task's PPO settings) for 40-100
iterations of 128 worlds (123-307 K env steps) and compares the deterministic policy's position
error before and after training, on the same seeded reset poses and targets (`roboforge eval`'s
`Metrics/ee_pose/position_error`: the mean over the last second of one episode in every world).
It must fall by more than half.

What is shortened for a CPU budget, through config overrides only (the GPU runs use the defaults):
- one 10 cm target box 0.3 m from the start pose instead of the whole workspace, 2 s episodes;
- position reward only (orientation weight 0): early learning otherwise trades position for orientation;
- gamma 0.95 instead of 0.99: with 0.99 the torque policy's error grew (0.32 -> 0.41 m in 100
  iterations) and relative IK and OSC were unreliable (error left after training 0.22-0.68 and
  0.18-0.35 of the start over three seeds, against 0.13-0.18 and 0.13-0.14 with 0.95);
- less action noise for absolute IK (below);
- the policy starts by holding the arm still: its output layer is scaled by 0.01 and its bias is the
  neutral action (zeros; the start end-effector pose for absolute task-space actions). Absolute IK/OSC
  actions have no offset, so an untrained policy (outputs near 0) drives the end effector into the
  robot's base and folds the arm, from where a short run does not recover. Starting still also makes
  the error before training the same in every mode: the distance from the start pose to the targets.
"""

from __future__ import annotations

import time
from typing import cast

import pytest
import torch

from roboforge.mdp.actions.task_space_actions import TaskSpaceActionCfg
from roboforge.rl.checkpoints import save_checkpoint
from roboforge.rl.evaluate import evaluate
from roboforge.rl.session import Session, build_session
from roboforge.rl.trainer import Trainer

SEED = 1
EVAL_SEED = 1234
NUM_ENVS = 128
ERROR = "Metrics/ee_pose/position_error"
ENV_OVERRIDES = {
    "episode_length_s": 2.0,
    "rewards.ee_orientation.weight": 0.0,
    "commands.ee_pose.ranges.pos_x": (0.35, 0.45),
    "commands.ee_pose.ranges.pos_y": (-0.15, -0.05),
    "commands.ee_pose.ranges.pos_z": (0.25, 0.35),
}
AGENT_OVERRIDES = {"algorithm.gamma": 0.95}
# task id, PPO iterations, extra agent overrides (joint_pos is covered by test_reach.py's learning test).
# Iterations: the fewest that leave a wide margin under the 0.5 bar, for the suite's time (2-core machine,
# 2026-12-05, error left after training: joint_vel 0.27 after 80 iterations, ik_rel 0.21 after 40, osc 0.09
# after 36).
MODES = {
    "joint_vel": ("reach-ur5e-joint-vel", 80, {}),
    # Raw inputs for torques: with the task's normalized observations the short run left 0.19 of 0.32 m.
    "effort": (
        "reach-ur5e-effort",
        100,
        {"actor.obs_normalization": False, "critic.obs_normalization": False},
    ),
    "ik_rel": ("reach-ur5e-ik-rel", 40, {}),
    # Absolute targets with the default 0.3 m of exploration noise: 0.36-0.42 of the error left after
    # 80 iterations; 0.1 m: 0.16-0.18 after 60.
    "ik_abs": ("reach-ur5e-ik-abs", 60, {"actor.init_noise_std": 0.1}),
    "osc": ("reach-ur5e-osc", 40, {}),
}


def start_holding_still(session: Session) -> None:
    """Make the untrained policy output (almost exactly) the action that keeps the arm at its start pose."""
    env, action_cfg = session.env, session.env_cfg.actions["arm"]
    head = cast(torch.nn.Linear, session.learner.alg.get_policy().mlp[-1])  # the actor's output layer
    neutral = torch.zeros_like(head.bias)
    if isinstance(action_cfg, TaskSpaceActionCfg) and not action_cfg.use_relative_mode:
        robot = env.scene[action_cfg.asset_name]
        robot.reset_to_default(env.all_worlds)
        env.sim.forward()
        pos, quat = robot.frame_pose_b(robot.find_frame(action_cfg.body_name))
        neutral = torch.cat((pos[0], quat[0]))[: neutral.numel()]  # position, then orientation if commanded
    with torch.no_grad():
        head.weight.mul_(0.01)
        head.bias.copy_(neutral)


def policy_position_error(session: Session, checkpoint) -> float:
    """Deterministic policy's mean position error (m): one episode in every world, EVAL_SEED targets."""
    session.env.seed(EVAL_SEED)
    result = evaluate(session, checkpoint, episodes=session.env.num_envs, quiet=True)
    return result.metrics[ERROR]


def reach_error_before_after(control: str, seed: int, run_dir) -> tuple[float, float]:
    """Position error of the untrained and of the trained policy in `control` mode."""
    task, iterations, agent_overrides = MODES[control]
    session = build_session(
        task,
        num_envs=NUM_ENVS,
        device="cpu",
        sim="mujoco",
        seed=seed,
        env_overrides=ENV_OVERRIDES,
        agent_overrides={**AGENT_OVERRIDES, **agent_overrides},
    )
    start_holding_still(session)
    (run_dir / "untrained").mkdir()
    before = policy_position_error(session, save_checkpoint(run_dir / "untrained", session.learner, 0, ".pt"))
    result = Trainer(session, run_dir, max_iterations=iterations, quiet=True).train()
    return before, policy_position_error(session, result.checkpoint)


@pytest.mark.slow
@pytest.mark.parametrize("control", list(MODES))
def test_reach_position_error_falls_with_training(control, tmp_path):
    start = time.perf_counter()
    before, after = reach_error_before_after(control, SEED, tmp_path)
    print(f"{control}: position error {before:.3f} m -> {after:.3f} m ({time.perf_counter() - start:.0f} s)")
    assert 0.25 < before < 0.4, before  # held at the start pose, ~0.3 m from the target box
    assert after < 0.5 * before, (before, after)
