"""Observers: the contract's Prometheus metrics and the log lines, from scripted records."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.record import Record
from election.core.state import StateName
from election.observe.logs import JsonFormatter, LogObserver
from election.observe.metrics import Metrics

STATES = [s.value for s in StateName]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the exposition text, keyed by (name, sorted labels)."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def state_gauge(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["state"]: value
        for (name, labels), value in samples.items()
        if name == "election_state"
    }


def transitions_total(samples: Samples) -> float:
    return sum(
        value for (name, _), value in samples.items() if name == "election_state_transitions_total"
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rec(
    seq: int,
    at: float,
    event: ev.Event,
    state: str,
    previous: str = "",
    cause: str = "",
    token: int | None = None,
) -> Record:
    return Record(
        seq=seq,
        at=at,
        wall=1_700_000_000.0 + at,
        event=event,
        state=state,
        previous=previous,
        cause=cause,
        token=token,
    )


SCRIPT = [
    rec(1, 10.0, ev.Started(), "Init"),
    rec(2, 10.5, ev.PathEnsured(request=3, outcome=Outcome.OK), "Attempter", "Init", "checks"),
    rec(
        3,
        11.0,
        ev.NodeCreated(request=5, outcome=Outcome.OK, token=77),
        "Leader",
        "Attempter",
        "election node created",
        token=77,
    ),
    rec(4, 11.2, ev.FileWritten(request=6, outcome=Outcome.OK, name="f"), "Leader", token=77),
    rec(5, 11.3, ev.FilesPruned(request=8, outcome=Outcome.OK, removed=2), "Leader", token=77),
    rec(6, 14.0, ev.SessionSuspended(), "Failover", "Leader", "session suspended"),
]


# --- metrics ----------------------------------------------------------------------------


def test_metrics_start_in_init_with_no_transitions() -> None:
    samples = scrape(Metrics(CollectorRegistry(), clock=Clock(0.0)).registry)
    assert state_gauge(samples) == {s: (1.0 if s == "Init" else 0.0) for s in STATES}
    assert transitions_total(samples) == 0
    assert samples[("election_is_leader", ())] == 0
    assert samples[("election_leader_token", ())] == 0


def test_metrics_follow_a_scripted_election() -> None:
    clock = Clock(10.0)
    metrics = Metrics(CollectorRegistry(), clock=clock)
    for record in SCRIPT[:5]:
        metrics(record)
    clock.now = 13.5
    leading = scrape(metrics.registry)
    assert state_gauge(leading) == {s: (1.0 if s == "Leader" else 0.0) for s in STATES}
    assert leading[("election_is_leader", ())] == 1
    assert leading[("election_leader_token", ())] == 77
    assert leading[("election_state_seconds", ())] == pytest.approx(2.5)  # Leader since 11.0
    assert transitions_total(leading) == 2
    assert leading[("election_files_written_total", ())] == 1
    assert leading[("election_files_pruned_total", ())] == 2

    metrics(SCRIPT[5])
    clock.now = 14.25
    after = scrape(metrics.registry)
    assert state_gauge(after) == {s: (1.0 if s == "Failover" else 0.0) for s in STATES}
    assert after[("election_is_leader", ())] == 0
    assert after[("election_leader_token", ())] == 0
    assert after[("election_state_seconds", ())] == pytest.approx(0.25)


def test_transitions_total_sums_to_the_number_of_state_changes() -> None:
    metrics = Metrics(CollectorRegistry(), clock=Clock(0.0))
    for record in SCRIPT:
        metrics(record)
    samples = scrape(metrics.registry)
    assert transitions_total(samples) == sum(r.changed for r in SCRIPT) == 3
    by_edge = {
        (dict(labels)["from"], dict(labels)["to"]): value
        for (name, labels), value in samples.items()
        if name == "election_state_transitions_total"
    }
    assert by_edge == {
        ("Init", "Attempter"): 1,
        ("Attempter", "Leader"): 1,
        ("Leader", "Failover"): 1,
    }


def test_a_record_without_a_state_change_keeps_the_state_clock_running() -> None:
    clock = Clock(0.0)
    metrics = Metrics(CollectorRegistry(), clock=clock)
    metrics(SCRIPT[1])  # enters Attempter at 10.5
    metrics(rec(7, 12.0, ev.TimerFired(name="attempt", id=9), "Attempter"))
    clock.now = 13.0
    assert scrape(metrics.registry)[("election_state_seconds", ())] == pytest.approx(2.5)


def test_metrics_own_registry_also_carries_process_metrics() -> None:
    names = {name for name, _ in scrape(Metrics().registry)}
    assert "election_state" in names
    assert any(name.startswith("process_") for name in names)


# --- logs -------------------------------------------------------------------------------


@pytest.fixture
def election_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="election"):
        yield caplog


def test_log_observer_tells_a_transition_with_from_to_and_cause(
    election_logs: pytest.LogCaptureFixture,
) -> None:
    LogObserver()(SCRIPT[2])
    lines = [r for r in election_logs.records if "->" in r.getMessage()]
    assert len(lines) == 1
    line = lines[0]
    assert line.levelno == logging.INFO
    assert line.getMessage() == "Attempter -> Leader (election node created) token=77"
    fields = line.fields  # type: ignore[attr-defined]
    assert (fields["previous"], fields["state"], fields["cause"]) == (
        "Attempter",
        "Leader",
        "election node created",
    )


def test_log_observer_says_nothing_of_a_transition_when_the_state_stays(
    election_logs: pytest.LogCaptureFixture,
) -> None:
    LogObserver()(SCRIPT[3])
    messages = [r.getMessage() for r in election_logs.records if r.levelno >= logging.INFO]
    assert messages == ["wrote f"]


def test_event_line_fields_do_not_pick_up_the_transition_that_follows(
    election_logs: pytest.LogCaptureFixture,
) -> None:
    LogObserver()(SCRIPT[5])  # a warning about the session, then the transition
    warning, transition = [r for r in election_logs.records if r.levelno >= logging.INFO]
    assert "session suspended" in warning.getMessage()
    assert "previous" not in warning.fields  # type: ignore[attr-defined]
    assert transition.fields["previous"] == "Leader"  # type: ignore[attr-defined]


def test_log_observer_warns_on_failed_and_unknown_outcomes(
    election_logs: pytest.LogCaptureFixture,
) -> None:
    failed = ev.FileWritten(request=1, outcome=Outcome.FAILED, reason="ENOSPC: disk full")
    unknown = ev.NodeCreated(request=2, outcome=Outcome.UNKNOWN, reason="no answer within 5s")
    LogObserver()(rec(1, 1.0, failed, "Leader", token=3))
    LogObserver()(rec(2, 2.0, unknown, "Attempter"))
    warnings = [r.getMessage() for r in election_logs.records if r.levelno == logging.WARNING]
    assert warnings == [
        "FileWritten failed: ENOSPC: disk full",
        "NodeCreated unknown: no answer within 5s",
    ]


def test_log_observer_lists_effects_at_debug(election_logs: pytest.LogCaptureFixture) -> None:
    record = Record(
        seq=1,
        at=0.0,
        wall=0.0,
        event=ev.Started(),
        state="Init",
        effects=(fx.Connect(request=2),),
    )
    LogObserver()(record)
    assert "effect Connect(request=2)" in [r.getMessage() for r in election_logs.records]


def test_json_formatter_lines_are_json_with_level_message_and_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("election")
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        for record in SCRIPT:
            LogObserver()(record)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entries, "no lines"
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert all(e["time"].endswith("Z") for e in entries)
    transition = [e for e in entries if e["message"].startswith("Leader -> Failover")]
    assert len(transition) == 1
    assert transition[0]["level"] == "info"
    assert transition[0]["cause"] == "session suspended"
    assert transition[0]["seq"] == 6
    assert next(e["level"] for e in entries if "suspended" in e["message"]) == "warning"


def test_json_formatter_includes_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "election.loop", logging.ERROR, __file__, 1, "failed: %s", ("x",), sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "error"
    assert entry["message"] == "failed: x"
    assert "ValueError: boom" in entry["exception"]
