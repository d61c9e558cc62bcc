"""The service's clocks on running attempts: how long ago an attempt's executor first said it ended while its
exit record was not there yet, and whether a requested stop is overdue (then its executor kills it)."""

from __future__ import annotations

import time

__all__ = ["STOP_GRACE_S", "AttemptDeadlines"]

STOP_GRACE_S = 60.0
"""Seconds a job has to save its checkpoint and end after a stop request; then its executor kills it."""


class AttemptDeadlines:
    """Per job: when its attempt was first seen ended without a record, and when its stop was requested."""

    def __init__(self) -> None:
        self._ended_at: dict[str, float] = {}
        self._stop_asked: dict[str, float] = {}

    def running(self, job_id: str) -> None:
        """The executor says the attempt runs (again): no end is pending."""
        self._ended_at.pop(job_id, None)

    def seconds_since_end(self, job_id: str) -> float:
        """Seconds since the executor first said the attempt ended (0 the first time)."""
        return time.monotonic() - self._ended_at.setdefault(job_id, time.monotonic())

    def stop_asked(self, job_id: str) -> None:
        """A stop was requested; the grace counts from the first request."""
        self._stop_asked.setdefault(job_id, time.monotonic())

    def stop_overdue(self, job_id: str) -> bool:
        """True once, when the job still runs STOP_GRACE_S after its stop was requested (a job whose request
        this service did not see, e.g. before a restart, gets its grace from now)."""
        asked = self._stop_asked.setdefault(job_id, time.monotonic())
        if time.monotonic() - asked < STOP_GRACE_S:
            return False
        self._stop_asked[job_id] = float("inf")
        return True

    def forget(self, job_id: str) -> None:
        self._ended_at.pop(job_id, None)
        self._stop_asked.pop(job_id, None)
