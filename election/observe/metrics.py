"""Prometheus metrics, derived from the loop's records (never computed in the core)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from election.core.effects import StartTimer
from election.core.record import Record
from election.core.state import StateName, Timer

# `*_created` series double every counter's lines and tell an operator nothing here.
disable_created_metrics()  # type: ignore[no-untyped-call]

SESSION_STATES = ("none", "connected", "suspended", "lost")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_JOURNAL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1)
_MAX_PENDING = 1000  # requests awaiting an outcome; every one has a deadline, this is a cap


class Metrics:
    """The contract's metrics: `election_state{state}`, `election_state_seconds`,
    `election_state_transitions_total{from,to}`, `election_is_leader`,
    `election_leader_token`; plus files written and pruned, the ZooKeeper session state,
    hand-overs, failovers by cause, effect latencies and journal append latency."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        priority: int = 1,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self._entered_at = clock()
        r = self.registry
        if registry is None:  # our own registry: keep the standard process metrics on it
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self.state = Gauge(
            "election_state", "1 for the current state, 0 for the others", ["state"], registry=r
        )
        self.state_seconds = Gauge(
            "election_state_seconds", "Seconds spent in the current state", registry=r
        )
        self.state_seconds.set_function(lambda: self._clock() - self._entered_at)
        self.transitions = Counter(
            "election_state_transitions_total",
            "State changes, by from and to state",
            ["from", "to"],
            registry=r,
        )
        self.is_leader = Gauge("election_is_leader", "1 while this replica leads", registry=r)
        self.token = Gauge(
            "election_leader_token",
            "Fencing token (czxid) of the current term, 0 if none",
            registry=r,
        )
        self.files_written = Counter(
            "election_files_written_total", "Leader files written", registry=r
        )
        self.files_pruned = Counter(
            "election_files_pruned_total", "Leader files pruned", registry=r
        )
        self.session = Gauge(
            "election_zookeeper_session",
            "1 for the ZooKeeper session's current state (none, connected, suspended, lost)",
            ["state"],
            registry=r,
        )
        self.handovers = Counter(
            "election_handovers_total", "Times this replica became Leader", registry=r
        )
        self.failovers = Counter(
            "election_failovers_total", "Entries into Failover, by cause", ["cause"], registry=r
        )
        self.effect_latency = Histogram(
            "election_effect_latency_seconds",
            "From an effect's request to its outcome event, by effect type",
            ["effect"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.journal_append = Histogram(
            "election_journal_append_seconds",
            "Time to append (and fsync) one journal record",
            buckets=_JOURNAL_BUCKETS,
            registry=r,
        )
        self.child_running = Gauge(
            "election_child_running", "1 while the job (--exec) runs", registry=r
        )
        self.child_starts = Counter(
            "election_child_starts_total", "Jobs started (--exec)", registry=r
        )
        self.child_restarts = Counter(
            "election_child_restarts_total",
            "Jobs restarted in place after exiting by themselves (--exec-exit restart)",
            registry=r,
        )
        self.child_exits = Counter(
            "election_child_exits_total",
            "Job exits, by exit code (128+N: ended by signal N)",
            ["code"],
            registry=r,
        )
        self.child_lease_expiries = Counter(
            "election_child_lease_expiries_total",
            "Jobs stopped by their keeper because the lease ran out (--exec)",
            registry=r,
        )
        self.paused = Gauge(
            "election_paused", "1 while the cluster is paused (election pause)", registry=r
        )
        self.priority = Gauge(
            "election_priority", "This replica's --priority (0: a standby)", registry=r
        )
        self.priority.set(priority)
        self.handovers_requested = Counter(
            "election_handovers_requested_total",
            "Planned hand-overs this replica saw asked for (election handover)",
            registry=r,
        )
        self._handover = ""  # the id of the request last seen standing
        self._pending: dict[int, tuple[str, float]] = {}  # request id -> (effect, at)
        self._set_state(StateName.INIT.value)
        self._set_session("none")

    def _set_session(self, name: str) -> None:
        for state in SESSION_STATES:
            self.session.labels(state=state).set(1 if state == name else 0)

    def timed(self, journal: Callable[[Record], None]) -> Callable[[Record], None]:
        """`journal`, observed by `election_journal_append_seconds` (for the Loop)."""

        def append(record: Record) -> None:
            start = time.perf_counter()
            try:
                journal(record)
            finally:
                self.journal_append.observe(time.perf_counter() - start)

        return append

    def _set_state(self, name: str) -> None:
        for state in StateName:
            self.state.labels(state=state.value).set(1 if state.value == name else 0)

    def __call__(self, record: Record) -> None:
        if record.changed:
            self._entered_at = record.at
            self._set_state(record.state)
            self.transitions.labels(record.previous, record.state).inc()
            if record.state == StateName.LEADER.value:
                self.handovers.inc()
            elif record.state == StateName.FAILOVER.value:
                # The reducer named the kind (`election.core.cause.Why`): a small fixed set.
                self.failovers.labels(cause=record.why or "other").inc()
        self.is_leader.set(1 if record.state == StateName.LEADER.value else 0)
        self.token.set(record.token or 0)
        event: Any = record.event
        name = type(event).__name__
        if name == "FileWritten" and event.outcome == "ok":
            self.files_written.inc()
        elif name == "FilesPruned":
            self.files_pruned.inc(event.removed)
        if name == "ChildStarted" and event.outcome == "ok":
            self.child_running.set(1)
            self.child_starts.inc()
        elif name == "ChildExited":
            self.child_running.set(0)
            self.child_exits.labels(code=str(min(max(event.code, 0), 255))).inc()
        elif name == "ChildLeaseExpired":
            self.child_lease_expiries.inc()
        elif name == "ControlRead" and event.outcome == "ok":
            self.paused.set(1 if event.paused else 0)
            if event.handover and event.handover != self._handover:
                self.handovers_requested.inc()
            self._handover = event.handover
        if any(
            isinstance(e, StartTimer) and e.name == Timer.CHILD_RESTART.value
            for e in record.effects
        ):
            self.child_restarts.inc()
        if name == "SessionConnected":
            self._set_session("connected")
        elif name == "SessionSuspended":
            self._set_session("suspended")
        elif name == "SessionLost":
            self._set_session("lost")
        self._latencies(record)

    def _latencies(self, record: Record) -> None:
        request = getattr(record.event, "request", None)
        if request is not None:
            issued = self._pending.pop(request, None)
            if issued is not None:
                kind, at = issued
                self.effect_latency.labels(effect=kind).observe(max(0.0, record.at - at))
        for effect in record.effects:
            rid = getattr(effect, "request", None)
            if rid is not None:
                if len(self._pending) >= _MAX_PENDING:
                    self._pending.pop(next(iter(self._pending)))  # the oldest
                self._pending[rid] = (type(effect).__name__, record.at)
