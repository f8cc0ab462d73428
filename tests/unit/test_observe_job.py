"""Job (--exec) metrics and log lines, from records."""

from __future__ import annotations

import logging

import attrs
import pytest
from prometheus_client import generate_latest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.record import Record
from election.core.reducer import reduce
from election.core.state import CoreConfig, ExecExit, initial_state
from election.observe.logs import LogObserver
from election.observe.metrics import Metrics
from tests.unit.core_script import CONFIG, Script, lead, to_attempter


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


def _exit_record(config: CoreConfig, ran_for: float) -> Record:
    """The record the reducer makes of the job exiting after `ran_for` seconds."""
    s = lead(to_attempter(Script(initial_state(config))), 7)
    s.answer(s.one(fx.StartChild), ev.ChildStarted, outcome=Outcome.OK, pid=10)
    return _reduced(s, ev.ChildExited(pid=10, code=1, ran_for=ran_for))


def _reduced(s: Script, event: ev.Event) -> Record:
    t = reduce(s.state, event)
    return Record(
        seq=9,
        at=9.0,
        wall=1009.0,
        event=event,
        state=str(t.state.name),
        effects=t.effects,
        previous=str(t.previous or ""),
        cause=t.cause,
        token=t.state.token,
    )


JOB_CONFIG = attrs.evolve(CONFIG, exec_command=("/bin/false",), write_files=False)


@pytest.mark.parametrize("policy", [ExecExit.RELEASE, ExecExit.RESTART])
def test_a_job_failure_is_a_warning_naming_the_exit_and_the_wait(
    caplog: pytest.LogCaptureFixture, policy: ExecExit
) -> None:
    config = attrs.evolve(JOB_CONFIG, exec_exit=policy)
    with caplog.at_level(logging.INFO, logger="election"):
        LogObserver(config)(_exit_record(config, ran_for=0.0))
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    next_try = "competing again" if policy is ExecExit.RELEASE else "restarting it"
    assert warning.getMessage() == (
        f"job pid 10 failed: exited with code 1 after 0.0s; {next_try} in 0.5s"
    )


def test_a_job_that_ran_long_and_exited_is_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="election"):
        LogObserver(JOB_CONFIG)(_exit_record(JOB_CONFIG, ran_for=60.0))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "job pid 10 exited with code 1 after 60.0s" in caplog.text


def test_a_job_that_did_not_start_is_one_warning_with_the_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = lead(to_attempter(Script(initial_state(JOB_CONFIG))), 7)
    start = s.one(fx.StartChild)
    failed = ev.ChildStarted(request=start.request, outcome=Outcome.FAILED, reason="ENOENT")
    with caplog.at_level(logging.INFO, logger="election"):
        LogObserver(JOB_CONFIG)(_reduced(s, failed))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["job did not start (failed: ENOENT); competing again in 0.5s"]


def test_a_lease_run_out_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="election"):
        LogObserver()(_record(2, ev.ChildLeaseExpired(pid=10, reason="not extended for 1.40s")))
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "job pid 10: its lease ran out (not extended for 1.40s)" in warning.getMessage()


def test_pause_priority_and_hand_over_requests_are_shown() -> None:
    m = Metrics(clock=lambda: 0.0, priority=3)
    assert _value(m, "election_priority") == 3
    read = ev.ControlRead(request=1, outcome=Outcome.OK, paused=True, paused_by="ops")
    m(_record(1, read))
    assert _value(m, "election_paused") == 1
    for seq, handover in enumerate(("h1", "h1", "", "h2"), start=2):
        m(_record(seq, ev.ControlRead(request=seq, outcome=Outcome.OK, handover=handover)))
    assert _value(m, "election_paused") == 0
    assert _value(m, "election_handovers_requested_total") == 2  # h1 once, then h2
