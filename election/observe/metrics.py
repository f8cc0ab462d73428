"""Prometheus metrics, derived from the loop's records (never computed in the core)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from election.core.record import Record
from election.core.state import StateName

# `*_created` series double every counter's lines and tell an operator nothing here.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The contract's metrics: `election_state{state}`, `election_state_seconds`,
    `election_state_transitions_total{from,to}`, `election_is_leader`,
    `election_leader_token`; plus files written and pruned."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
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
        self._set_state(StateName.INIT.value)

    def _set_state(self, name: str) -> None:
        for state in StateName:
            self.state.labels(state=state.value).set(1 if state.value == name else 0)

    def __call__(self, record: Record) -> None:
        if record.changed:
            self._entered_at = record.at
            self._set_state(record.state)
            self.transitions.labels(record.previous, record.state).inc()
        self.is_leader.set(1 if record.state == StateName.LEADER.value else 0)
        self.token.set(record.token or 0)
        event: Any = record.event
        name = type(event).__name__
        if name == "FileWritten" and event.outcome == "ok":
            self.files_written.inc()
        elif name == "FilesPruned":
            self.files_pruned.inc(event.removed)
