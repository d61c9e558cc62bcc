"""The runner's clocks on running attempts (service/deadlines.py), on a fake monotonic clock."""

from __future__ import annotations

import pytest

from roboforge.service import deadlines
from roboforge.service.deadlines import STOP_GRACE_S, AttemptDeadlines


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(deadlines.time, "monotonic", lambda: now[0])
    return now


def test_a_stop_is_overdue_once_after_the_grace_from_the_first_request(clock):
    d = AttemptDeadlines()
    d.stop_asked("a")
    clock[0] += STOP_GRACE_S / 2
    d.stop_asked("a")  # a second request does not restart the grace
    assert not d.stop_overdue("a")
    clock[0] += STOP_GRACE_S / 2
    assert d.stop_overdue("a")
    assert not d.stop_overdue("a"), "the kill is asked for once"
    clock[0] += 10 * STOP_GRACE_S
    assert not d.stop_overdue("a")


def test_a_stop_this_service_did_not_see_gets_its_grace_from_the_first_check(clock):
    d = AttemptDeadlines()
    assert not d.stop_overdue("b")
    clock[0] += STOP_GRACE_S
    assert d.stop_overdue("b")


def test_the_time_since_an_end_counts_from_the_first_sight_until_the_attempt_runs_again(clock):
    d = AttemptDeadlines()
    assert d.seconds_since_end("a") == 0.0
    clock[0] += 5.0
    assert d.seconds_since_end("a") == 5.0
    d.running("a")
    assert d.seconds_since_end("a") == 0.0
    clock[0] += 3.0
    assert d.seconds_since_end("a") == 3.0


def test_forget_clears_both_clocks_of_the_job_only(clock):
    d = AttemptDeadlines()
    d.stop_asked("a")
    d.stop_asked("b")
    d.seconds_since_end("a")
    clock[0] += STOP_GRACE_S
    d.forget("a")
    assert d.seconds_since_end("a") == 0.0
    assert not d.stop_overdue("a")
    assert d.stop_overdue("b")
