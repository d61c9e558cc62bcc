"""The PPO training loop: rsl_rl's PPO on a roboforge env, with progress, metrics and safe checkpoints.

One host sync per iteration (episode statistics, NaN check); the env steps stay on the device.
Ctrl-C or SIGTERM stops after saving a loadable checkpoint; a NaN in the policy stops with a message.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from rich.progress import Progress

from roboforge.rl.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from roboforge.rl.episodes import EpisodeTracker
from roboforge.rl.metrics import MetricsWriter
from roboforge.rl.progress import bar_info, progress_bar, sigterm_as_interrupt
from roboforge.rl.session import Session
from roboforge.utils.errors import NotFoundError, TrainingStopped
from roboforge.utils.files import atomic_write_json, remove_stale_temp_files

SLOW_ITERATION_S = 20.0
"""An iteration slower than this prints a hint with the expected duration."""


class PolicyNaNError(TrainingStopped, RuntimeError):
    """The policy produced non-finite actions or losses; training stopped."""


@dataclass
class TrainResult:
    """What a training run achieved."""

    run_dir: Path
    iterations: int
    env_steps: int
    wall_s: float
    env_steps_per_s: float
    mean_episode_length: float | None
    """None when no episode ended during the last iteration."""
    max_episode_length: int
    mean_return: float | None
    checkpoint: Path | None
    interrupted: bool = False
    metrics: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Runs PPO iterations on a Session and writes checkpoints and metrics into `run_dir`."""

    def __init__(self, session: Session, run_dir: Path, max_iterations: int, quiet: bool = False):
        self.s = session
        self.run_dir = run_dir
        self.max_iterations = max_iterations
        self.quiet = quiet
        self.iteration = 0
        self.episodes = EpisodeTracker(session.env.num_envs, session.device)
        self.last_checkpoint: Path | None = None
        self.overflow_warned = False
        self.slow_hinted = False

    def resume(self, checkpoint: Path | None = None) -> int:
        """Load `checkpoint` (default: the run's latest); training continues after its iteration."""
        path = checkpoint or latest_checkpoint(self.run_dir)
        if path is None:
            raise NotFoundError(f"Nothing to resume: no model_*.pt in {self.run_dir}.")
        remove_stale_temp_files(self.run_dir)  # a writer killed mid-checkpoint (SIGKILL, reboot)
        state = load_checkpoint(path, map_location=self.s.device)
        self.s.alg.load(state, None, strict=True)
        self.iteration = int(state["iter"]) + 1
        self.last_checkpoint = path
        return self.iteration

    def _save(self, completed_iteration: int) -> Path:
        """Write `model_<completed_iteration>.pt` unless that iteration is already saved."""
        if self.last_checkpoint is None or self.last_checkpoint.name != f"model_{completed_iteration}.pt":
            self.last_checkpoint = save_checkpoint(self.run_dir, self.s.alg, completed_iteration)
        return self.last_checkpoint

    def train(self) -> TrainResult:
        """Train until `max_iterations` in total (counting resumed ones); returns the summary."""
        s, venv, cfg = self.s, self.s.venv, self.s.agent_cfg
        writer = MetricsWriter(self.run_dir)
        steps_per_iter = cfg.num_steps_per_env * s.env.num_envs
        if self.iteration == 0:
            venv.episode_length_buf = torch.randint_like(
                venv.episode_length_buf, high=int(venv.max_episode_length)
            )
        obs = venv.get_observations().to(s.device)
        s.alg.train_mode()
        start, start_iter, interrupted = time.perf_counter(), self.iteration, False
        metrics: dict[str, float] = {}
        progress = progress_bar(self.quiet)
        try:
            with progress, sigterm_as_interrupt():
                bar = progress.add_task(
                    "training", total=self.max_iterations, completed=self.iteration, info=""
                )
                while self.iteration < self.max_iterations:
                    t0 = time.perf_counter()
                    with self._divergence_as_nan_stop():
                        obs = self._rollout(obs)
                        t1 = time.perf_counter()
                        losses = s.alg.update()
                    t2 = time.perf_counter()
                    done = self.iteration  # counted as complete before anything an interrupt could split
                    self.iteration += 1
                    metrics = self._log(writer, done, losses, steps_per_iter, t1 - t0, t2 - t1)
                    self._warn_buffer_overflow(progress, metrics, done)
                    if done > start_iter:  # the first iteration may include kernel compilation
                        self._hint_if_slow(progress, t2 - t0)
                    if self.iteration % cfg.save_interval == 0:
                        self._save(done)
                    progress.update(bar, advance=1, info=bar_info(metrics, int(venv.max_episode_length)))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            writer.close()
        if self.iteration > start_iter:  # an interrupt before the first iteration saves no untrained weights
            self._save(self.iteration - 1)
        wall = time.perf_counter() - start
        done = self.iteration - start_iter
        result = TrainResult(
            run_dir=self.run_dir,
            iterations=self.iteration,
            env_steps=done * steps_per_iter,
            wall_s=wall,
            env_steps_per_s=done * steps_per_iter / max(wall, 1e-9),
            mean_episode_length=metrics.get("Train/mean_episode_length"),
            max_episode_length=int(venv.max_episode_length),
            mean_return=metrics.get("Train/mean_reward"),
            checkpoint=self.last_checkpoint,
            interrupted=interrupted,
            metrics=metrics,
        )
        atomic_write_json(self.run_dir / "summary.json", asdict(result))
        return result

    def _warn_buffer_overflow(self, progress: Progress, metrics: dict[str, float], iteration: int) -> None:
        """Say once per run, on the progress bar's console, that the physics dropped contacts (the metric
        `sim_overflows` keeps counting)."""
        count = metrics.get("sim_overflows", 0.0)
        if count <= 0 or self.overflow_warned:
            return
        self.overflow_warned = True
        sim = self.s.env_cfg.sim
        njmax, nconmax = 2 * (sim.njmax or 512), 2 * (sim.nconmax or 128)
        progress.console.print(
            f"[yellow]warning:[/] iteration {iteration}: MuJoCo Warp ran out of contact or constraint buffers "
            f"in {count:.0f} world-steps (per world: nconmax={sim.nconmax}, njmax={sim.njmax}; None is MuJoCo "
            "Warp's default) and dropped contacts; bodies can interpenetrate and get launched. Raise them, "
            f"e.g. -o env.sim.njmax={njmax} -o env.sim.nconmax={nconmax} (metric `sim_overflows`).",
            highlight=False,
        )

    @contextlib.contextmanager
    def _divergence_as_nan_stop(self) -> Iterator[None]:
        """Turn the errors torch raises on a diverged policy (a negative or non-finite action std, NaN
        weights: e.g. after a huge learning rate) into the NaN stop with its message."""
        try:
            yield
        except (RuntimeError, ValueError) as err:
            if not self._policy_diverged():
                raise
            raise PolicyNaNError(
                f"The policy diverged at iteration {self.iteration} ({str(err).splitlines()[0]}). Training "
                f"stopped; {self._last_good()}Lower the learning rate or check rewards/observations for huge values."
            ) from err

    def _policy_diverged(self) -> bool:
        """True if the actor has non-finite weights or a non-positive action std (host sync; error path)."""
        policy = self.s.alg.get_policy()
        weights_ok = all(bool(torch.isfinite(p).all()) for p in policy.parameters())
        std = policy.output_std.detach()
        return not weights_ok or not bool((torch.isfinite(std) & (std > 0)).all())

    def _last_good(self) -> str:
        if self.last_checkpoint is None:
            return "no checkpoint was saved yet. "
        return f"the last good checkpoint is {self.last_checkpoint}. "

    def _hint_if_slow(self, progress: Progress, iteration_s: float) -> None:
        """Say once, after the first slow iteration, how long the run will take and what makes it faster."""
        if iteration_s < SLOW_ITERATION_S or self.slow_hinted:
            return
        self.slow_hinted = True
        left_h = iteration_s * (self.max_iterations - self.iteration) / 3600
        progress.console.print(
            f"[yellow]note:[/] one iteration took {iteration_s:.0f} s ({self.s.env.num_envs} worlds on "
            f"{self.s.device}); the remaining {self.max_iterations - self.iteration} take about {left_h:.1f} h. "
            "Fewer worlds (--num-envs) or a GPU (--device cuda) make it faster.",
            highlight=False,
        )

    def _rollout(self, obs):
        s, venv = self.s, self.s.venv
        finite = torch.ones((), dtype=torch.bool, device=s.device)
        with torch.inference_mode():
            for _ in range(s.agent_cfg.num_steps_per_env):
                actions = s.alg.act(obs)
                finite &= torch.isfinite(actions).all()
                obs, rewards, dones, extras = venv.step(actions)
                s.alg.process_env_step(obs, rewards, dones, extras)
                self.episodes.step(rewards, dones)
            s.alg.compute_returns(obs)
        if not bool(finite):
            raise PolicyNaNError(
                f"The policy produced NaN/inf actions at iteration {self.iteration}. Training stopped; "
                f"{self._last_good()}Lower the learning rate or check rewards/observations for huge values."
            )
        return obs

    def _log(
        self,
        writer: MetricsWriter,
        iteration: int,
        losses: dict,
        steps: int,
        collect_s: float,
        learn_s: float,
    ) -> dict:
        if not all(torch.isfinite(torch.tensor(float(v))) for v in losses.values()):
            raise PolicyNaNError(
                f"PPO losses became NaN at iteration {iteration}: {losses}. Training stopped."
            )
        mean_ret, mean_len, episodes = self.episodes.pop()
        metrics: dict[str, float] = {f"Loss/{k}": float(v) for k, v in losses.items()}
        metrics.update(
            {
                "Loss/learning_rate": float(self.s.alg.learning_rate),
                "Policy/mean_std": float(self.s.alg.get_policy().output_std.detach().mean()),
                "Perf/total_fps": steps / max(collect_s + learn_s, 1e-9),
                "Perf/collection_time": collect_s,
                "Perf/learning_time": learn_s,
                "Train/episodes": float(episodes),
            }
        )
        if episodes:
            metrics["Train/mean_reward"] = mean_ret
            metrics["Train/mean_episode_length"] = mean_len
        metrics.update(self.s.env.pop_episode_stats())
        writer.write(iteration, metrics)
        return metrics
