"""A running job's progress as the service shows it: the iteration, latest metrics and seconds per iteration
read from its run's `metrics.jsonl`, or a sweep's newest `sweep.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roboforge.service import files, sweeps
from roboforge.service.store import Job, Store

__all__ = ["JobProgress", "RunProgress"]


class RunProgress:
    """Incremental reader of one run's metrics, with the mean seconds per iteration; `skip_existing`
    starts after the records already there (a resumed attempt counts only its own)."""

    def __init__(self, run_dir: Path, skip_existing: bool = False):
        self.run_dir = run_dir
        self.tail = files.MetricsTail(run_dir / "metrics.jsonl")
        if skip_existing:
            self.tail.skip_to_end()
        self.seconds = 0.0
        self.count = 0

    def read(self) -> list[dict[str, Any]]:
        records = self.tail.read_new()
        for r in records:
            t = r.get("Perf/iteration_time", 0.0)
            if t > 0:
                self.seconds, self.count = self.seconds + t, self.count + 1
        return records

    @property
    def s_per_iteration(self) -> float | None:
        return self.seconds / self.count if self.count else None


class JobProgress:
    """Copies the progress of running jobs into the store; one metrics reader per job, kept between ticks."""

    def __init__(self, store: Store):
        self.store = store
        self._runs: dict[str, RunProgress] = {}

    def resume(self, job_id: str, run_dir: Path) -> None:
        """A resumed attempt of `job_id` continues `run_dir`: count only the records it adds."""
        self._runs[job_id] = RunProgress(run_dir, skip_existing=True)

    def forget(self, job_id: str) -> None:
        self._runs.pop(job_id, None)

    def update(self, job: Job) -> None:
        """Store the running job's run folder, iteration, latest metrics and seconds per iteration."""
        if job.kind == "sweep":
            self._update_sweep(job)
            return
        run_dir = files.find_run_dir(Path(job.job_dir), job.task)
        if run_dir is None:
            return
        progress = self._runs.get(job.id)
        if progress is None or progress.run_dir != run_dir:
            progress = self._runs[job.id] = RunProgress(run_dir)
        metrics = progress.read()
        values: dict[str, Any] = {}
        if job.run_dir != str(run_dir):
            values["run_dir"] = str(run_dir)
        if metrics:
            values.update(iteration=metrics[-1]["iteration"] + 1, latest_metrics=metrics[-1])
            if progress.s_per_iteration is not None:
                values["s_per_iteration"] = progress.s_per_iteration
        if values:
            self.store.update(job.id, ["running"], **values)

    def _update_sweep(self, job: Job) -> None:
        """Copy the sweep's newest `sweep.json` into its `sweep.result` when it changed."""
        result = sweeps.read_result(job)
        search = job.sweep or {}
        if result is not None and result != search.get("result"):
            self.store.update(job.id, ["running"], sweep={**search, "result": result})
