"""Hyperparameter sweeps: an Optuna study whose trials are `roboforge train` runs.

Each trial samples the `--param` distributions, trains in its own process (`roboforge train TASK -o
PATH=VALUE ...`; on this machine, or as a job of a Ray cluster: `sweep_trials.py`; `parallel` at a time)
into the sweep folder and streams its `metrics.jsonl`; every new record is reported to
Optuna, whose median pruner stops a trial that trails the others (SIGINT: the trial saves its checkpoint
and ends). The study lives in `study.db` (SQLite) beside the trials, so `--resume`-like continuation is
`optuna`'s own; `sweep.json` holds every trial (parameters, value, state, run folder) and the best one,
rewritten after each trial (the job service reads it for progress). SIGTERM stops a sweep like Ctrl-C: the
running trials save their checkpoints and `sweep.json` is written.
Parameters and the metric are checked before the first trial starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from roboforge.rl.metrics import read_metrics
from roboforge.rl.sweep_trials import LocalTrials, TrialLauncher
from roboforge.utils.errors import RoboforgeError, UserInputError
from roboforge.utils.files import atomic_write_json

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
TRAINER_METRICS = ("Train/mean_reward", "Train/mean_episode_length", "Perf/total_fps", "Perf/iteration_time")
LIBRARY_PREFIXES = ("Loss/", "Policy/")
"""Metric families each library names itself (rsl_rl: Loss/value, Loss/surrogate, Policy/mean_std ...)."""
POLL_S = 0.5


@dataclass(frozen=True)
class ParamSpec:
    """One swept field: `PATH=uniform:LOW:HIGH`, `loguniform:LOW:HIGH`, `int:LOW:HIGH` or `choice:A,B,C`."""

    path: str
    """Dotted override key, `agent.<...>` or `env.<...>`."""
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    def first_value(self) -> Any:
        """A value of the distribution, to check the path and type before any trial."""
        return self.values_to_check()[0]

    def values_to_check(self) -> list[Any]:
        """Both ends of the range, or every choice: what a check tries before any trial, so that no trial
        samples a value its field refuses (a discount factor swept up to 1.5)."""
        if self.kind == "choice":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        return [int(self.low), int(self.high)] if self.kind == "int" else [self.low, self.high]


def parse_param(text: str) -> ParamSpec:
    """`agent.algorithm.learning_rate=loguniform:1e-4:1e-2` -> ParamSpec; a bad one is a UserInputError."""
    path, sep, dist = text.partition("=")
    kind, _, rest = dist.partition(":")
    if not sep or not path.startswith(("agent.", "env.")):
        raise UserInputError(f"--param {text!r}: write PATH=DISTRIBUTION, PATH starting with agent. or env.")
    if kind not in DISTRIBUTIONS:
        raise UserInputError(
            f"--param {text!r}: unknown distribution {kind!r}; use uniform:LOW:HIGH, loguniform:LOW:HIGH, "
            "int:LOW:HIGH or choice:A,B,C."
        )
    if kind == "choice":
        choices = tuple(_json_or_word(v) for v in rest.split(",") if v)
        if len(choices) < 2:
            raise UserInputError(f"--param {text!r}: choice needs at least two values, e.g. choice:32,64.")
        return ParamSpec(path, kind, choices=choices)
    bounds = rest.split(":")
    try:
        low, high = (float(b) for b in bounds) if len(bounds) == 2 else (math.nan, math.nan)
    except ValueError:
        low, high = math.nan, math.nan
    ok = math.isfinite(low) and math.isfinite(high) and low < high and (kind != "loguniform" or low > 0)
    if ok and kind == "int" and not (low.is_integer() and high.is_integer()):
        ok = False
    if not ok:
        raise UserInputError(
            f"--param {text!r}: {kind} needs two finite bounds LOW < HIGH"
            + (" above 0" if kind == "loguniform" else "")
            + (" (integers)" if kind == "int" else "")
            + f", e.g. {path}={kind}:{'1e-4:1e-2' if kind == 'loguniform' else '0:10'}."
        )
    return ParamSpec(path, kind, low, high)


def parse_params(texts: list[str]) -> list[ParamSpec]:
    """Every `--param`, each field once (Optuna refuses a name sampled from two distributions, mid-trial)."""
    specs: list[ParamSpec] = []
    for text in texts:
        spec = parse_param(text)
        if any(s.path == spec.path for s in specs):
            raise UserInputError(f"--param {spec.path} is given twice; sweep each field once.")
        specs.append(spec)
    return specs


def _json_or_word(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def check_metric(metric: str, env_metrics: list[str]) -> None:
    """A metric the trials log: the trainer's, a library's `Loss/` or `Policy/` family, or one of the env's."""
    if metric in TRAINER_METRICS or metric in env_metrics or metric.startswith(LIBRARY_PREFIXES):
        return
    known = ", ".join([*TRAINER_METRICS, *env_metrics])
    raise UserInputError(
        f"--metric {metric!r}: the task does not log it; it logs {known} and Loss/... Policy/..."
    )


def sample(trial: Any, spec: ParamSpec) -> Any:
    """The trial's value of `spec` (Optuna's own suggest calls)."""
    if spec.kind == "choice":
        return trial.suggest_categorical(spec.path, list(spec.choices))
    if spec.kind == "int":
        return trial.suggest_int(spec.path, int(spec.low), int(spec.high))  # type: ignore[arg-type]
    return trial.suggest_float(spec.path, spec.low, spec.high, log=spec.kind == "loguniform")


@dataclass
class TrialRecord:
    """One trial as `sweep.json` lists it."""

    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    run_dir: str | None


@dataclass
class SweepResult:
    """What a sweep found."""

    sweep_dir: str
    metric: str
    direction: str
    best: TrialRecord | None
    trials: list[TrialRecord] = field(default_factory=list)
    interrupted: bool = False
    """Stopped by Ctrl-C or SIGTERM: the trials so far (the one stopped mid-way is `fail`, with its checkpoint)."""


@dataclass
class SweepSpec:
    """Everything the trials share."""

    task: str
    params: list[ParamSpec]
    metric: str
    direction: str
    train_args: list[str]
    """Options passed to every `roboforge train` (library, device, worlds, iterations, fixed -o ...)."""
    sweep_dir: Path
    parallel: int = 1
    """Trials that train at the same time (Optuna's `n_jobs`, one thread each)."""
    launcher: TrialLauncher | None = None
    """Where a trial trains: a Ray job (`sweep_trials.RayTrials`), or by default a process of this machine
    (`LocalTrials(parallel)`)."""


def run_sweep(spec: SweepSpec, trials: int, on_trial=None) -> SweepResult:
    """Run `trials` trials (after those already in the folder's study) and write `sweep.json`. Ctrl-C or SIGTERM
    stops the running trials (each keeps a checkpoint) and returns the trials so far, `interrupted`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _one_line_trial_failures()
    storage = f"sqlite:///{spec.sweep_dir / 'study.db'}"
    study = optuna.create_study(
        study_name=spec.task,
        storage=storage,
        direction="maximize" if spec.direction == "max" else "minimize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=5),
    )

    stop = threading.Event()  # set by Ctrl-C or SIGTERM: every running trial checkpoints and stops

    def objective(trial):
        return _run_trial(spec, trial, stop)

    def after_trial(study, trial):
        atomic_write_json(spec.sweep_dir / "sweep.json", asdict(_result(spec, study)))
        if on_trial is not None:
            on_trial(trial)

    atomic_write_json(spec.sweep_dir / "sweep.json", asdict(_result(spec, study)))
    interrupted = False
    try:
        with _signals_interrupt(stop):
            study.optimize(
                objective,
                n_trials=trials,
                n_jobs=spec.parallel,
                callbacks=[after_trial],
                catch=(TrialFailed,),
            )
    except KeyboardInterrupt:
        interrupted = True
    finally:  # also after an error: the trials so far are on record
        result = replace(_result(spec, study), interrupted=interrupted)
        atomic_write_json(spec.sweep_dir / "sweep.json", asdict(result))
    return result


@contextlib.contextmanager
def _signals_interrupt(stop: threading.Event):
    """SIGINT and SIGTERM set `stop` (trials running in Optuna's worker threads see it and stop theirs) and
    raise KeyboardInterrupt, so no trial is orphaned (each runs in a session of its own); only in the main
    thread, where Python delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class TrialFailed(RuntimeError):
    """A trial's training process failed; the sweep goes on with the next trial."""


class _NoTraceback(logging.Filter):
    """Optuna's warning about a failed trial, without the traceback when the cause is known: a trial process
    that failed (the message names its log), a stopped sweep, or an error meant for the user (a Ray cluster
    that stopped answering), which the command line then reports in one line."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped: set[str] = set()  # trials a stop ended; Optuna's "failed with value None" follows each

    def filter(self, record: logging.LogRecord) -> bool:
        known = (TrialFailed, KeyboardInterrupt, RoboforgeError)
        error = record.exc_info[1] if record.exc_info else None
        trial = re.match(r"Trial (\d+) ", record.getMessage())
        if isinstance(error, KeyboardInterrupt) and trial:  # not a failure: the sweep was stopped
            self.stopped.add(trial[1])
            record.msg, record.args = f"Trial {trial[1]} stopped by Ctrl-C or SIGTERM.", ()
        elif trial and trial[1] in self.stopped and "failed with value None" in record.getMessage():
            return False
        if isinstance(error, known):
            record.exc_info, record.exc_text = None, None
        return True


def _one_line_trial_failures() -> None:
    logger = logging.getLogger("optuna.study._optimize")  # where Optuna reports a failed trial
    if not any(isinstance(f, _NoTraceback) for f in logger.filters):
        logger.addFilter(_NoTraceback())


def _run_trial(spec: SweepSpec, trial: Any, stop: threading.Event) -> float:
    import optuna

    values = {p.path: sample(trial, p) for p in spec.params}
    trial_dir = spec.sweep_dir / f"trial_{trial.number}"
    overrides = [a for p, v in values.items() for a in ("-o", f"{p}={json.dumps(v)}")]
    cmd = [sys.executable, "-m", "roboforge", "train", spec.task, *spec.train_args, *overrides]
    cmd += ["--run-dir", str(trial_dir), "--quiet"]
    log = spec.sweep_dir / f"trial_{trial.number}.log"
    launch = spec.launcher or LocalTrials(spec.parallel)
    proc = launch(cmd, Path.cwd(), log, trial.number)
    reported, pruned = 0, False
    try:
        while proc.poll() is None:
            if stop.is_set():  # the sweep was interrupted while this trial ran in a worker thread
                raise KeyboardInterrupt
            time.sleep(POLL_S)
            reported = _report(spec, trial, trial_dir, reported)
            if reported and trial.should_prune():
                pruned = True
                proc.interrupt()
                break
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM on the sweep: the running trial keeps a checkpoint too
        proc.interrupt()
        raise
    finally:
        proc.kill()
    run = _trial_run(trial_dir)
    trial.set_user_attr("run_dir", str(run) if run else None)
    _report(spec, trial, trial_dir, reported)
    if pruned:
        raise optuna.TrialPruned()
    returncode = proc.poll()
    if returncode != 0:
        raise TrialFailed(f"trial {trial.number} exited with {returncode}; see {log.name}")
    value = _last_value(trial_dir, spec.metric)
    if value is None:
        raise TrialFailed(f"trial {trial.number} logged no {spec.metric}; see {log.name}")
    return value


def _trial_run(trial_dir: Path) -> Path | None:
    runs = sorted(p.parent for p in trial_dir.glob("*/*/metrics.jsonl"))
    return runs[-1] if runs else None


def _records(trial_dir: Path) -> list[dict[str, Any]]:
    run = _trial_run(trial_dir)
    return read_metrics(run) if run else []


def _report(spec: SweepSpec, trial: Any, trial_dir: Path, reported: int) -> int:
    """Report the metric of every record since the last call (its iteration as the step)."""
    records = _records(trial_dir)
    for record in records[reported:]:
        value = record.get(spec.metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            trial.report(float(value), int(record["iteration"]))
    return len(records)


def _last_value(trial_dir: Path, metric: str) -> float | None:
    for record in reversed(_records(trial_dir)):
        value = record.get(metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


def _result(spec: SweepSpec, study: Any) -> SweepResult:
    records = [
        TrialRecord(t.number, dict(t.params), t.value, t.state.name.lower(), t.user_attrs.get("run_dir"))
        for t in study.trials
    ]
    complete = [r for r in records if r.state == "complete" and r.value is not None]
    best = None
    if complete:
        pick = max if spec.direction == "max" else min
        best = pick(complete, key=lambda r: r.value)  # type: ignore[arg-type,return-value]
    return SweepResult(str(spec.sweep_dir), spec.metric, spec.direction, best, records)
