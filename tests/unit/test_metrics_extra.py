"""Metrics beyond the contract: session state, hand-overs, failovers by cause, latencies."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from election.core import effects as fx
from election.core import events as ev
from election.core.cause import Why
from election.core.record import Record
from election.observe.metrics import Metrics


def rec(
    seq: int, at: float, event: ev.Event, state: str, previous: str = "", **kw: object
) -> Record:
    fields: dict[str, object] = {"seq": seq, "at": at, "wall": at, "event": event}
    return Record(**fields, state=state, previous=previous, **kw)  # type: ignore[arg-type]


def value(m: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    got = m.registry.get_sample_value(name, labels or {})
    return 0.0 if got is None else got


def test_session_handovers_and_failovers_follow_the_records() -> None:
    m = Metrics(registry=CollectorRegistry())
    assert value(m, "election_zookeeper_session", {"state": "none"}) == 1
    m(rec(1, 1.0, ev.SessionConnected(session_id=1), "Init"))
    assert value(m, "election_zookeeper_session", {"state": "connected"}) == 1
    assert value(m, "election_zookeeper_session", {"state": "none"}) == 0
    m(rec(2, 2.0, ev.NodeCreated(request=1, outcome=ev.Outcome.OK, token=5), "Leader",
          previous="Attempter", token=5))  # fmt: skip
    m(rec(3, 3.0, ev.SessionSuspended(), "Failover", previous="Leader", why="session-suspended"))
    m(rec(4, 4.0, ev.FileWritten(request=2, outcome=ev.Outcome.OK, newer_token=9), "Failover",
          previous="Leader", why="superseded"))  # fmt: skip
    assert value(m, "election_handovers_total") == 1
    assert value(m, "election_zookeeper_session", {"state": "suspended"}) == 1
    assert value(m, "election_failovers_total", {"cause": "session-suspended"}) == 1
    assert value(m, "election_failovers_total", {"cause": "superseded"}) == 1


def test_a_failover_is_counted_by_the_kind_the_reducer_named_never_other() -> None:
    """A job that exits, a lease that runs out, a job that did not start: each is counted
    by its kind (they were all `other` when metrics read the event)."""
    m = Metrics(registry=CollectorRegistry())
    ended = [
        (ev.ChildExited(pid=9, code=1, ran_for=0.5), Why.JOB_EXIT),
        (ev.ChildLeaseExpired(pid=9, reason="never extended"), Why.LEASE),
        (ev.ChildStarted(request=3, outcome=ev.Outcome.FAILED, reason="ENOENT"), Why.JOB_EXIT),
    ]
    for seq, (event, why) in enumerate(ended, 1):
        m(rec(seq, float(seq), event, "Failover", previous="Leader", why=why.value))
    assert value(m, "election_failovers_total", {"cause": "job-exit"}) == 2
    assert value(m, "election_failovers_total", {"cause": "lease"}) == 1
    assert value(m, "election_failovers_total", {"cause": "other"}) == 0


def test_effect_latency_is_request_to_outcome_by_effect_type() -> None:
    m = Metrics(registry=CollectorRegistry())
    create = fx.CreateNode(request=7, path="/e/leader", replica="r1")
    m(rec(1, 10.0, ev.TimerFired(name="attempt", id=1), "Attempter", effects=(create,)))
    m(rec(2, 10.25, ev.NodeCreated(request=7, outcome=ev.Outcome.OK, token=3), "Leader",
          previous="Attempter", token=3))  # fmt: skip
    labels = {"effect": "CreateNode"}
    assert value(m, "election_effect_latency_seconds_count", labels) == 1
    assert value(m, "election_effect_latency_seconds_sum", labels) == 0.25
    m(rec(3, 11.0, ev.NodeCreated(request=7, outcome=ev.Outcome.OK, token=3), "Leader", token=3))
    assert value(m, "election_effect_latency_seconds_count", labels) == 1  # answered once


def test_journal_appends_are_timed() -> None:
    m = Metrics(registry=CollectorRegistry())
    seen: list[Record] = []
    append = m.timed(seen.append)
    record = rec(1, 1.0, ev.Started(), "Init")
    append(record)
    assert seen == [record]
    assert value(m, "election_journal_append_seconds_count") == 1
