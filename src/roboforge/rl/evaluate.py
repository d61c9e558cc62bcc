"""Evaluate a checkpoint: run the deterministic policy for N episodes and report returns and task metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress

from roboforge.rl.checkpoints import load_checkpoint
from roboforge.rl.episodes import EpisodeTracker
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


def load_policy(session: Session, checkpoint: Path):
    """Load actor/critic weights into the session's PPO and return the actor in eval mode."""
    load_weights(session, load_checkpoint(checkpoint, map_location=session.device), checkpoint)
    session.alg.eval_mode()
    return session.alg.get_policy()


def load_weights(session: Session, state: dict[str, Any], checkpoint: Path) -> None:
    """Load a checkpoint's actor and critic into the session's networks; a mismatch is a clear error."""
    try:
        session.alg.load(state, {"actor": True, "critic": True}, strict=True)
    except RuntimeError as err:
        raise UserInputError(
            f"Checkpoint {checkpoint} does not fit the {session.task!r} networks ({str(err).splitlines()[0]}). "
            "The network settings come from params/agent.json beside it when present: keep that file with the "
            "checkpoint, and use the task it was trained on."
        ) from err


def evaluate(session: Session, checkpoint: Path, episodes: int = 100, quiet: bool = False) -> EvalResult:
    """Run until at least `episodes` episodes have ended; statistics cover every ended episode."""
    if episodes < 1:
        raise UserInputError(f"--episodes must be >= 1, got {episodes}.")
    policy = load_policy(session, checkpoint)
    venv, env = session.venv, session.env
    obs, _ = venv.reset()
    env.pop_episode_stats()
    tracker = EpisodeTracker(env.num_envs, session.device)
    done_total, ret_sum, len_sum = 0, 0.0, 0.0
    start = time.perf_counter()
    with Progress(disable=quiet) as progress, torch.inference_mode():
        bar = progress.add_task("evaluating", total=episodes)
        while done_total < episodes:
            for _ in range(int(venv.max_episode_length)):
                obs, reward, dones, _ = venv.step(policy(obs))
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
        max_episode_length=int(venv.max_episode_length),
        metrics=metrics,
        wall_s=time.perf_counter() - start,
    )
