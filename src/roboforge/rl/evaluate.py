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
from roboforge.utils.stop_signals import StopSignals


@dataclass
class EvalResult:
    """Averages over the evaluated episodes."""

    episodes: int
    mean_return: float
    mean_episode_length: float
    max_episode_length: int
    metrics: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    interrupted: bool = False
    """Stopped by Ctrl-C or SIGTERM before `episodes` had ended: the statistics cover those that had."""


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
    """Run until at least `episodes` episodes have ended; statistics cover every ended episode. Ctrl-C or
    SIGTERM ends it early with the statistics of the episodes ended so far (`interrupted`)."""
    if episodes < 1:
        raise UserInputError(f"--episodes must be >= 1, got {episodes}.")
    policy = load_policy(session, checkpoint)
    env = session.env
    obs, _ = env.reset()
    env.pop_episode_stats()
    tracker = EpisodeTracker(env.num_envs, session.device)
    totals = _Totals()
    start = time.perf_counter()
    interrupted = False
    with StopSignals().installed() as stops, Progress(disable=quiet) as progress, torch.inference_mode():
        bar = progress.add_task("evaluating", total=episodes)
        try:
            while totals.episodes < episodes:
                for _ in range(int(env.max_episode_length)):
                    obs, reward, terminated, time_outs, _ = env.step(policy_actions(session, policy, obs))
                    dones = terminated | time_outs
                    policy.reset(dones)
                    with stops.held():  # a stop waits until the sums and the count agree again
                        tracker.step(reward, dones)
                totals.add(*tracker.pop())
                progress.update(bar, completed=min(totals.episodes, episodes))
        except KeyboardInterrupt:
            interrupted = True
            totals.add(*tracker.pop())  # the episodes that ended in the round cut short count too
    return EvalResult(
        episodes=totals.episodes,
        mean_return=totals.returns / max(totals.episodes, 1),
        mean_episode_length=totals.lengths / max(totals.episodes, 1),
        max_episode_length=int(env.max_episode_length),
        metrics=env.pop_episode_stats(),
        wall_s=time.perf_counter() - start,
        interrupted=interrupted,
    )


@dataclass
class _Totals:
    """Sums over the ended episodes."""

    episodes: int = 0
    returns: float = 0.0
    lengths: float = 0.0

    def add(self, mean_return: float, mean_length: float, count: int) -> None:
        self.episodes += count
        self.returns += mean_return * count
        self.lengths += mean_length * count
