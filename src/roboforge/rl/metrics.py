"""Per-iteration metrics: tensorboard scalars plus an append-only `metrics.jsonl` (for curves and the service)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from roboforge.utils.files import atomic_write


class MetricsWriter:
    """Writes one record per training iteration, from `first_iteration` on (a resume: the checkpoint's
    iteration + 1)."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, first_iteration: int = 0):
        self.path = run_dir / "metrics.jsonl"
        _keep_records_before(self.path, first_iteration)
        self._file = self.path.open("a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir), flush_secs=10)

    def write(self, iteration: int, metrics: dict[str, Any]) -> None:
        """Append `metrics` for `iteration` (flushed, so readers see it at once)."""
        self._file.write(json.dumps({"iteration": iteration, **metrics}) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, iteration)

    def add_gif(self, tag: str, gif: bytes, height: int, width: int, iteration: int) -> None:
        """An animated GIF as a tensorboard image summary (what `add_video` writes, without moviepy)."""
        if self._tb is None:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary

        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=gif)
        self._tb._get_file_writer().add_summary(
            Summary(value=[Summary.Value(tag=tag, image=image)]), iteration
        )

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _keep_records_before(path: Path, first_iteration: int) -> None:
    """Before a resume appends to `path`: drop a last line a killed writer left half written (the next record
    would be glued to it and lost with it) and the records of iterations from `first_iteration` on, which the
    stopped run trained past its last checkpoint and the resume trains again (each iteration once in the curve).
    The file is replaced whole, and only when something is dropped."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    kept = [ln for ln in lines if ln.endswith("\n") and _iteration(ln) < first_iteration]
    if len(kept) != len(lines):
        atomic_write(path, lambda f: f.write("".join(kept)), binary=False)


def _iteration(line: str) -> float:
    """The record's iteration; a line that is not a record counts as before every iteration (kept as it is)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return -math.inf
    value = record.get("iteration") if isinstance(record, dict) else None
    return value if isinstance(value, (int, float)) else -math.inf


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of a run's `metrics.jsonl` (a partly written last line, and any line that is not a JSON
    object, such as bytes of a damaged file, is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
