"""Job (--exec) metrics and log lines, from records."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import generate_latest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.record import Record
from election.observe.logs import LogObserver
from election.observe.metrics import Metrics


def _record(seq: int, event: ev.Event, effects: tuple[fx.Effect, ...] = ()) -> Record:
    return Record(
        seq=seq,
        at=float(seq),
        wall=1000.0 + seq,
        event=event,
        state="Leader",
        effects=effects,
        token=7,
    )


def _value(metrics: Metrics, line_start: str) -> float:
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {line_start}")


def test_job_metrics_follow_starts_exits_and_restarts() -> None:
    m = Metrics(clock=lambda: 0.0)
    m(_record(1, ev.ChildStarted(request=1, outcome=Outcome.OK, pid=10)))
    assert _value(m, "election_child_running") == 1
    restart = fx.StartTimer(name="child-restart", id=3, delay=0.5)
    m(_record(2, ev.ChildExited(pid=10, code=3, ran_for=1.0), (restart,)))
    assert _value(m, "election_child_running") == 0
    assert _value(m, 'election_child_exits_total{code="3"}') == 1
    assert _value(m, "election_child_restarts_total") == 1
    assert _value(m, "election_child_starts_total") == 1


def test_job_start_and_exit_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    observe = LogObserver()
    with caplog.at_level(logging.INFO, logger="election"):
        observe(_record(1, ev.ChildStarted(request=1, outcome=Outcome.OK, pid=10)))
        observe(_record(2, ev.ChildExited(pid=10, code=143, signal="SIGTERM", ran_for=2.5)))
    text = caplog.text
    assert "job started: pid 10" in text
    assert "job pid 10 exited with signal SIGTERM after 2.5s" in text


def test_a_lease_run_out_is_counted() -> None:
    m = Metrics(clock=lambda: 0.0)
    m(_record(1, ev.ChildStarted(request=1, outcome=Outcome.OK, pid=10)))
    m(_record(2, ev.ChildLeaseExpired(pid=10, reason="not extended for 1.40s")))
    assert _value(m, "election_child_lease_expiries_total") == 1
