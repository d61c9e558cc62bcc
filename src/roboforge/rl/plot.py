"""Training curves of one or more runs as one PNG: a panel per metric, the runs overlaid and labelled.

Reads each run's `metrics.jsonl` (every library's trainer writes it, one record per iteration) and draws,
against the iteration: the mean episode reward and length, every task metric (`Metrics/...`), the losses
(`Loss/...`) and the training rate (env-steps/s). matplotlib renders off screen (Agg), so it works on a
machine without a display.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from roboforge.rl.metrics import read_metrics
from roboforge.rl.run_dir import newest_first
from roboforge.utils.errors import UserInputError

DEFAULT_PANELS = (
    r"Train/mean_reward", r"Train/mean_episode_length", r"Metrics/.*", r"Loss/.*", r"Policy/.*", r"Perf/total_fps",
)  # fmt: skip
"""Panels drawn by default, as regular expressions over metric names, in this order."""
TITLES = {"Perf/total_fps": "env-steps/s", "Train/mean_reward": "mean episode reward"}
"""Panel titles that read better than the metric name."""
MAX_PANELS = 24
"""At most this many panels in one figure (a regex matching more is cut, and says so)."""
MAX_RUNS = 12
"""At most this many runs overlaid (more are unreadable)."""


@dataclass(frozen=True)
class RunCurves:
    """One run's metrics: `series[name]` = (iterations, values)."""

    label: str
    series: dict[str, tuple[list[int], list[float]]]


def run_folder(path: str | Path) -> Path:
    """A run folder (with `metrics.jsonl`), or the newest run of a task folder; one-line error otherwise."""
    path = Path(path)
    if (path / "metrics.jsonl").is_file():
        return path
    if path.is_dir():
        runs = newest_first(p for p in path.iterdir() if (p / "metrics.jsonl").is_file())
        if runs:
            return runs[0]
    raise UserInputError(
        f"{path}: no metrics.jsonl there or in its run folders; give a run folder such as runs/cartpole/<run> "
        "or a task folder such as runs/cartpole."
    )


def load_curves(run: Path, label: str | None = None) -> RunCurves:
    """The numeric series of `run`'s metrics.jsonl, labelled `label` (default: task/run folder names)."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in read_metrics(run):
        iteration = record.get("iteration")
        if not isinstance(iteration, int):
            continue
        for name, value in record.items():
            if name != "iteration" and isinstance(value, (int, float)) and math.isfinite(value):
                xs, ys = series.setdefault(name, ([], []))
                xs.append(iteration)
                ys.append(float(value))
    if not series:
        raise UserInputError(f"{run}/metrics.jsonl has no iteration records yet; train first.")
    return RunCurves(label or f"{run.parent.name}/{run.name}", series)


def choose_panels(runs: list[RunCurves], patterns: list[str] | None = None) -> list[str]:
    """Metric names to draw, in pattern order (each regex must match a whole name of some run)."""
    names = sorted({name for run in runs for name in run.series})
    chosen: list[str] = []
    for pattern in patterns or list(DEFAULT_PANELS):
        try:
            regex = re.compile(pattern)
        except re.error as err:
            raise UserInputError(f"--metric {pattern!r} is not a regular expression ({err}).") from None
        matched = [n for n in names if regex.fullmatch(n) and n not in chosen]
        if not matched and patterns:
            raise UserInputError(
                f"--metric {pattern!r} matches no metric of these runs; they have: {', '.join(names)}."
            )
        chosen += matched
    return chosen[:MAX_PANELS]


def plot_runs(runs: list[RunCurves], panels: list[str], out: Path, title: str | None = None) -> Path:
    """Draw `panels` (one subplot per metric, every run a line) into the PNG `out`; returns `out`."""
    if len(runs) > MAX_RUNS:
        raise UserInputError(f"{len(runs)} runs: plot at most {MAX_RUNS} at once.")
    if out.suffix.lower() != ".png":
        raise UserInputError(f"-o {out}: the figure is a PNG; give a file name ending in .png.")
    plt = _pyplot()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        for run in runs:
            if name in run.series:
                xs, ys = run.series[name]
                ax.plot(xs, ys, label=run.label, linewidth=1.2)
        ax.set_title(TITLES.get(name, name), fontsize=10)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    top = 1.0  # legend, then title, above the panels (bbox_inches="tight" keeps them in the file)
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, top), ncol=min(len(runs), 4),
               fontsize=9, frameon=False)  # fmt: skip
    if title:
        fig.suptitle(title, y=top + 0.4 / fig.get_figheight(), va="bottom")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def _pyplot():
    """matplotlib's pyplot on the off-screen Agg backend; a clear error when the extra is missing."""
    try:
        import matplotlib
    except ImportError:
        raise UserInputError(
            "roboforge plot needs matplotlib: pip install 'roboforge[plot]' (or pip install matplotlib)."
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
