"""What the training loop shows: the progress bar and its per-iteration text."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        disable=quiet,
    )


def bar_info(metrics: dict[str, Any], max_len: int) -> str:
    length = metrics.get("Train/mean_episode_length")
    ret = metrics.get("Train/mean_reward")
    fps = metrics.get("Perf/total_fps", 0.0)
    parts = [f"{fps / 1000:.0f}K steps/s"]
    if ret is not None:
        parts.append(f"return {ret:.2f}")
    if length is not None:
        parts.append(f"ep len {length:.0f}/{max_len}")
    return "  ".join(parts)
