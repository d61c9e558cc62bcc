"""Throughput of a task: physics alone, the full env step, and training with the session's library
(env-steps per second)."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from roboforge.rl.evaluate import load_policy, policy_actions
from roboforge.rl.session import Session
from roboforge.rl.trainer import Trainer


@dataclass
class BenchResult:
    """Measured rates; 'env-steps' are policy steps summed over worlds."""

    task: str
    library: str
    algorithm: str
    backend: str
    device: str
    num_envs: int
    decimation: int
    physics_steps_per_s: float
    physics_only_env_steps_per_s: float
    env_steps_per_s: float
    """env.step with zero actions."""
    noisy_env_steps_per_s: float
    """env.step with actions ~ N(0, 1) drawn every step, as an untrained policy explores: more contacts,
    falls and resets than zero actions, so closer to what a rollout's env steps cost."""
    physics_share: float
    """env.step's rate over physics alone (with a checkpoint, the policy's env.step: physics is timed in the
    states it reaches)."""
    train_env_steps_per_s: float | None
    """Training iterations (rollout + update) of the session's library and algorithm."""
    iteration_s: dict[str, float | None] | None = None
    """Where one training iteration's time goes, from iterations timed with a device sync at each phase
    end (libraries that report phases): `env_steps` (the rollout's env steps at the noisy env.step rate;
    with a checkpoint, the policy's), `policy_and_storage` (the rest of the rollout: policy, sampling,
    storage, returns), `update`, `total`.
    The split of the rollout is None when the rollout took less than its env steps at that rate (timing
    noise, or states that step faster than the timed ones): it would be negative."""
    device_memory_gib: float | None = None
    """GPU memory in use on the whole device after training (CUDA context, MuJoCo Warp's buffers, torch's
    cache, and any other process on the GPU: bench alone for a per-world figure); None on the CPU."""
    policy_env_steps_per_s: float | None = None
    """env.step with a trained policy's deterministic actions (`--checkpoint`; its forward pass included),
    timed after it has acted for half an episode: the states it reaches (a grasp, a gait) can cost more than
    those of zero or random actions. Physics alone is then timed from those states, and training continues
    from its weights."""


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


ROUNDS = 5
"""Each rate is the median of this many timed rounds: a round that another process (or the OS) stalled does
not decide it. Timed at once, 20 steps of 16 Go1 worlds on the busy 2-core machine gave env.step 4.4x the
rate of physics alone, which it contains."""
MIN_ROUND_S = 0.1
"""A round runs at least this long (more calls than asked when they take less)."""


def _rate(fn, steps: int, items: int, device: str) -> float:
    """`items` x calls of `fn` per second, after two warm-up calls (kernel compile, CUDA graph capture): the
    median of ROUNDS rounds, each at least steps / ROUNDS calls and MIN_ROUND_S long."""
    fn()
    fn()
    _sync(device)
    per_batch = -(-steps // ROUNDS)
    rates = []
    for _ in range(ROUNDS):
        calls, start = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - start < MIN_ROUND_S:
            for _ in range(per_batch):
                fn()
            _sync(device)
            calls += per_batch
        rates.append(calls * items / (time.perf_counter() - start))
    return statistics.median(rates)


def bench(
    session: Session, steps: int = 200, train_iterations: int = 5, checkpoint: Path | None = None
) -> BenchResult:
    """Time at least `steps` physics steps and env steps (see `_rate`) and `train_iterations` training
    iterations (0: no training figure); with `checkpoint`, also env steps under its policy (see
    `BenchResult.policy_env_steps_per_s`)."""
    env, dev = session.env, session.device
    n = env.num_envs
    actions = torch.zeros(n, env.num_actions, device=dev)
    with torch.inference_mode():
        env_rate = _rate(lambda: env.step(actions), steps, n, dev)
        noisy_rate = _rate(lambda: env.step(torch.randn_like(actions)), steps, n, dev)
    policy_rate = _policy_rate(session, checkpoint, steps) if checkpoint is not None else None
    # Physics alone from the states the env steps reached. Timed first, it ran on robots just spawned and
    # landing (likely more solver work): a Go1 run measured physics alone slower than its env.step.
    physics = _rate(env.sim.step, steps, n, dev)
    ppo, breakdown = None, None
    if train_iterations > 0:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(session, Path(tmp), max_iterations=1, quiet=True)
            trainer.train()  # warm-up iteration
            trainer.max_iterations = 1 + train_iterations
            _sync(dev)
            start = time.perf_counter()
            trainer.train()
            _sync(dev)
            steps_done = train_iterations * session.learner.steps_per_iteration * n
            ppo = steps_done / (time.perf_counter() - start)
            breakdown = _iteration_breakdown(session, train_iterations, policy_rate or noisy_rate)
    physics_only_env = physics / env.cfg.decimation
    return BenchResult(
        task=session.task,
        library=session.library,
        algorithm=session.algorithm,
        backend=type(env.sim).__name__.removesuffix("Simulator").lower(),
        device=dev,
        num_envs=n,
        decimation=env.cfg.decimation,
        physics_steps_per_s=physics,
        physics_only_env_steps_per_s=physics_only_env,
        env_steps_per_s=env_rate,
        noisy_env_steps_per_s=noisy_rate,
        physics_share=(policy_rate or env_rate) / physics_only_env,
        train_env_steps_per_s=ppo,
        iteration_s=breakdown,
        device_memory_gib=_device_memory_in_use_gib(dev),
        policy_env_steps_per_s=policy_rate,
    )


def _policy_rate(session: Session, checkpoint: Path, steps: int) -> float:
    """env.step rate under the checkpoint's deterministic policy, from half an episode after a reset with the
    time-outs spread over an episode (as training spreads them). The learner keeps the loaded weights and
    optimizer, so a training figure timed afterwards continues from them."""
    env = session.env
    policy = load_policy(session, checkpoint, training=True)
    obs = [env.reset()[0]]
    env.episode_length_buf[:] = torch.randint_like(env.episode_length_buf, high=int(env.max_episode_length))

    def act() -> None:
        obs[0], _, terminated, time_outs, _ = env.step(policy_actions(session, policy, obs[0]))
        policy.reset(terminated | time_outs)

    with torch.inference_mode():
        for _ in range(int(env.max_episode_length) // 2):
            act()
        return _rate(act, steps, env.num_envs, session.device)


def _device_memory_in_use_gib(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    free, total = torch.cuda.mem_get_info(torch.device(device))
    return (total - free) / 2**30


def _iteration_breakdown(
    session: Session, iterations: int, env_rate: float
) -> dict[str, float | None] | None:
    """Mean seconds per phase of `iterations` more iterations, the device synchronised at each phase end; the
    rollout split into its env steps at `env_rate` and the rest (both None when the rest would be negative)."""
    learner = session.learner
    learner.time_phases()
    for _ in range(iterations):
        learner.iterate()
        learner.recorder.pop_finite()
    times = {name: t / iterations for name, t in learner.phase_times.items()}
    if "rollout" not in times:
        return None
    env_steps = learner.steps_per_iteration * session.env.num_envs / env_rate
    rest = times["rollout"] - env_steps
    split = (env_steps, rest) if rest >= 0 else (None, None)
    return {
        "env_steps": split[0],
        "policy_and_storage": split[1],
        "update": times.get("update", 0.0),
        "total": sum(times.values()),
    }
