"""The training loop of every library: `learner.iterate()` with progress, metrics and safe checkpoints.

The library's adapter (`rl/libraries/`) runs the rollout and the update; this loop owns what a user sees
and keeps: the progress bar, `metrics.jsonl` + tensorboard, atomic checkpoints, Ctrl-C/SIGTERM
checkpointing and the NaN stop. One host sync per iteration (episode statistics, NaN check); the env
steps stay on the device.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from rich.progress import Progress

from roboforge.rl import distributed
from roboforge.rl.checkpoints import (
    check_checkpoint_library,
    checkpoint_iteration,
    latest_checkpoint,
    save_checkpoint,
    save_env_state,
)
from roboforge.rl.libraries import library_info
from roboforge.rl.metrics import MetricsWriter
from roboforge.rl.progress import bar_info, progress_bar
from roboforge.rl.session import Session
from roboforge.utils.errors import GraphCaptureError, NotFoundError, TrainingStopped
from roboforge.utils.files import atomic_write_json, remove_stale_temp_files
from roboforge.utils.stop_signals import StopSignals

if TYPE_CHECKING:
    from roboforge.rl.train_video import TrainVideo
    from roboforge.rl.train_video_cfg import TrainVideoCfg

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
    """Runs the session's learner iteration by iteration and writes checkpoints and metrics into `run_dir`."""

    def __init__(
        self,
        session: Session,
        run_dir: Path,
        max_iterations: int,
        quiet: bool = False,
        video: TrainVideoCfg | None = None,
    ):
        self.s = session
        self.learner = session.learner
        self.run_dir = run_dir
        self.max_iterations = max_iterations
        self.quiet = quiet
        self.iteration = 0
        self.learner.plan(max_iterations)
        self.suffix = library_info(session.library).checkpoint_suffix
        self.last_checkpoint: Path | None = None
        self.overflow_warned = False
        self.slow_hinted = False
        self.metrics: dict[str, float] = {}
        self.writes = distributed.current().writes
        """Rank 0 (or a single process) writes metrics and checkpoints; the other ranks of a distributed run
        train the same policy on their own worlds."""
        self.video: TrainVideo | None = None
        """Clips of the training env every `video.interval` iterations (rank 0; None: off, nothing attached)."""
        if video is not None and self.writes:
            from roboforge.rl.train_video import TrainVideo

            self.video = TrainVideo(session.env, self.learner.recorder, run_dir, video)

    def resume(self, checkpoint: Path | None = None) -> int:
        """Load `checkpoint` (default: the run's latest); training continues after its iteration."""
        path = checkpoint or latest_checkpoint(self.run_dir)
        if path is None:
            raise NotFoundError(f"Nothing to resume: no model_<n> checkpoint in {self.run_dir}.")
        remove_stale_temp_files(self.run_dir)  # a writer killed mid-checkpoint (SIGKILL, reboot)
        check_checkpoint_library(path, self.s.library)
        self.learner.load(path, training=True)
        self.iteration = checkpoint_iteration(path) + 1
        self.last_checkpoint = path
        return self.iteration

    @staticmethod
    def _stopped_with_the_other_ranks(stops: StopSignals) -> bool:
        """A rank of a distributed run that got the stop while it waited in a collective: the ranks that left
        first close their connections, so the collective fails with the backend's error (gloo: 'Connection
        closed by peer') before Python raises the stop. The run is stopping all the same: checkpoint it."""
        return stops.received and distributed.current().world_size > 1

    def _save(self, completed_iteration: int) -> Path | None:
        """Write `model_<completed_iteration><suffix>` and the env's training state `env_<n>.pt` (terrain
        levels, step count: what `--resume` continues from) unless that iteration is already saved."""
        name = f"model_{completed_iteration}{self.suffix}"
        if not self.writes:
            return None
        if self.last_checkpoint is None or self.last_checkpoint.name != name:
            self.learner.iteration = completed_iteration
            # the env's state first: a model_<n> on disk always has its env_<n> beside it
            save_env_state(self.run_dir, self.s.env, completed_iteration)
            self.last_checkpoint = save_checkpoint(
                self.run_dir, self.learner, completed_iteration, self.suffix
            )
        return self.last_checkpoint

    def _iterate_until_done(
        self, stops: StopSignals, writer: MetricsWriter | None, steps_per_iter: int, start_iter: int
    ) -> None:
        """The iterations, each logged, checkpointed every `save_interval` (a stop waits for the checkpoint
        being written, then ends the loop as KeyboardInterrupt); `self.metrics` holds the last iteration's."""
        learner, max_len = self.learner, int(self.s.env.max_episode_length)
        progress = progress_bar(self.quiet or not self.writes)
        with progress:
            bar = progress.add_task("training", total=self.max_iterations, completed=self.iteration, info="")
            while self.iteration < self.max_iterations:
                if self.video is not None:
                    self.video.before_iteration(self.iteration)
                t0 = time.perf_counter()
                with self._divergence_as_nan_stop():
                    losses = learner.iterate()
                t2 = time.perf_counter()
                self._check_actions_finite()
                done = self.iteration  # counted as complete before anything an interrupt could split
                self.iteration += 1
                self.metrics = self._log(writer, done, losses, steps_per_iter, t2 - t0)
                self._warn_buffer_overflow(progress, self.metrics, done)
                if self.video is not None:
                    self.video.after_iteration(writer)
                if done > start_iter:  # the first iteration may include kernel compilation
                    self._hint_if_slow(progress, t2 - t0)
                if self.iteration % learner.save_interval == 0:
                    with stops.held():
                        self._save(done)
                progress.update(bar, advance=1, info=bar_info(self.metrics, max_len))

    def train(self) -> TrainResult:
        """Train until `max_iterations` in total (counting resumed ones); returns the summary."""
        env = self.s.env
        writer = MetricsWriter(self.run_dir, first_iteration=self.iteration) if self.writes else None
        steps_per_iter = (
            self.learner.steps_per_iteration * env.num_envs * distributed.current().world_size
        )  # all ranks
        # Spread the first time-outs over an episode, as rsl_rl's runner does at every start. A resumed run
        # starts every world at once too (its env state holds no physics state), so it spreads them as well.
        env.episode_length_buf[:] = torch.randint_like(
            env.episode_length_buf, high=int(env.max_episode_length)
        )
        start, start_iter, interrupted = time.perf_counter(), self.iteration, False
        self.metrics = {}
        stops = StopSignals()
        with stops.installed():
            try:
                self._iterate_until_done(stops, writer, steps_per_iter, start_iter)
            except KeyboardInterrupt:
                interrupted = True
            except Exception:
                if not self._stopped_with_the_other_ranks(stops):
                    raise
                interrupted = True
            finally:
                self._finish_video(writer)
                if writer is not None:
                    writer.close()
            if (
                self.iteration > start_iter
            ):  # an interrupt before the first iteration saves no untrained weights
                with stops.held(raise_after=False):  # a second stop during the last save is the same stop
                    self._save(self.iteration - 1)
        wall = time.perf_counter() - start
        done = self.iteration - start_iter
        result = TrainResult(
            run_dir=self.run_dir,
            iterations=self.iteration,
            env_steps=done * steps_per_iter,
            wall_s=wall,
            env_steps_per_s=done * steps_per_iter / max(wall, 1e-9),
            mean_episode_length=self.metrics.get("Train/mean_episode_length"),
            max_episode_length=int(env.max_episode_length),
            mean_return=self.metrics.get("Train/mean_reward"),
            checkpoint=self.last_checkpoint,
            interrupted=interrupted,
            metrics=self.metrics,
        )
        if self.writes:
            atomic_write_json(self.run_dir / "summary.json", asdict(result))
        return result

    def _finish_video(self, writer: MetricsWriter | None) -> None:
        """Write the clip still recording (the steps it has) and free the renderer; not after an error, when
        the simulator's state may be what caused it."""
        if self.video is None:
            return
        import sys

        try:
            if sys.exc_info()[0] in (None, KeyboardInterrupt):
                self.video.finish(writer)
        finally:
            self.video.close()

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
        except GraphCaptureError:
            raise  # not a divergence; the CUDA state after a failed capture answers no question about weights
        except (RuntimeError, ValueError) as err:
            if not self.learner.diverged():
                raise
            raise PolicyNaNError(
                f"The policy diverged at iteration {self.iteration} ({str(err).splitlines()[0]}). Training "
                f"stopped; {self._last_good()}Lower the learning rate or check rewards/observations for huge values."
            ) from err

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

    def _check_actions_finite(self) -> None:
        """The NaN stop when the policy sent a non-finite action during the iteration (one host sync)."""
        if not self.learner.recorder.pop_finite():
            raise PolicyNaNError(
                f"The policy produced NaN/inf actions at iteration {self.iteration}. Training stopped; "
                f"{self._last_good()}Lower the learning rate or check rewards/observations for huge values."
            )

    def _log(
        self,
        writer: MetricsWriter | None,
        iteration: int,
        losses: dict[str, float],
        steps: int,
        iteration_s: float,
    ) -> dict:
        if not all(math.isfinite(v) for v in losses.values()):
            raise PolicyNaNError(
                f"The {self.s.library} losses became NaN at iteration {iteration}: {losses}. Training stopped; "
                f"{self._last_good()}Lower the learning rate or check rewards/observations for huge values."
            )
        mean_ret, mean_len, episodes = self.learner.recorder.episodes.pop()
        metrics: dict[str, float] = dict(losses)
        metrics.update(
            {
                "Perf/total_fps": steps / max(iteration_s, 1e-9),
                "Perf/iteration_time": iteration_s,
                "Train/episodes": float(episodes),
            }
        )
        if episodes:
            metrics["Train/mean_reward"] = mean_ret
            metrics["Train/mean_episode_length"] = mean_len
        metrics.update(self.learner.recorder.pop_action_magnitude())
        metrics.update(self.s.env.pop_episode_stats())
        if writer is not None:
            writer.write(iteration, metrics)
        return metrics
