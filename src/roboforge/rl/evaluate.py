"""Evaluate a checkpoint: run the deterministic policy for N episodes and report returns and task metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress

from roboforge.envs.episodes import EpisodeTracker
from roboforge.rl.run_dir import naming_the_trained_task
from roboforge.rl.session import Session
from roboforge.utils.errors import UserInputError


@dataclass
class EvalResult:
    """Averages over the evaluated episodes."""

    episodes: int
    mean_return: float
    mean_episode_length: float
    max_episode_length: int
    metrics: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


def load_policy(session: Session, checkpoint: Path, training: bool = False) -> Any:
    """Load the checkpoint into the session's learner (with its optimizer and schedules: `training`) and
    return its deterministic actor, in eval mode."""
    with naming_the_trained_task(checkpoint, session.task):
        session.learner.load(checkpoint, training=training)
    return session.learner.policy()


def policy_actions(session: Session, policy, obs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The actions the env receives: the actor's output, clipped where the library clips it (rsl_rl)."""
    actions = policy(obs)
    clip = session.learner.clip_actions
    return actions if clip is None else actions.clamp(-clip, clip)


def evaluate(session: Session, checkpoint: Path, episodes: int = 100, quiet: bool = False) -> EvalResult:
    """Run until at least `episodes` episodes have ended; statistics cover every ended episode."""
    if episodes < 1:
        raise UserInputError(f"--episodes must be >= 1, got {episodes}.")
    policy = load_policy(session, checkpoint)
    env = session.env
    obs, _ = env.reset()
    env.pop_episode_stats()
    tracker = EpisodeTracker(env.num_envs, session.device)
    done_total, ret_sum, len_sum = 0, 0.0, 0.0
    start = time.perf_counter()
    with Progress(disable=quiet) as progress, torch.inference_mode():
        bar = progress.add_task("evaluating", total=episodes)
        while done_total < episodes:
            for _ in range(int(env.max_episode_length)):
                obs, reward, terminated, time_outs, _ = env.step(policy_actions(session, policy, obs))
                dones = terminated | time_outs
                policy.reset(dones)
                tracker.step(reward, dones)
            mean_ret, mean_len, n = tracker.pop()
            done_total, ret_sum, len_sum = done_total + n, ret_sum + mean_ret * n, len_sum + mean_len * n
            progress.update(bar, completed=min(done_total, episodes))
    metrics = env.pop_episode_stats()
    return EvalResult(
        episodes=done_total,
        mean_return=ret_sum / max(done_total, 1),
        mean_episode_length=len_sum / max(done_total, 1),
        max_episode_length=int(env.max_episode_length),
        metrics=metrics,
        wall_s=time.perf_counter() - start,
    )
