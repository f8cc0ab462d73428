"""The loop: the one thread that owns the state.

Every other thread (kazoo's, the timer thread, the file worker, signal handlers) only
puts events on the queue. For each event the loop stamps it (seq, monotonic `at`, wall
time), folds it through the reducer, journals the record (write-ahead: before any of
its effects run), runs the effects, and then shows the record to the observers (they
only watch: a log line or a metric never delays a request, such as the close of a
stopping leader's session that the next in line waits for).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterable

import attrs

from election.core import effects as fx
from election.core.events import Event, TimerFired
from election.core.record import Record
from election.core.reducer import reduce
from election.core.state import State
from election.runtime.dispatch import EffectHandler, dispatch_table
from election.runtime.timers import TimerHandle, TimerService

log = logging.getLogger("election.loop")

Observer = Callable[[Record], None]


class Inbox:
    """The loop's queue of events: every other thread only puts on it. Made before the
    loop and its parts, so each part is given `put` and the wiring reads in order."""

    def __init__(self) -> None:
        # SimpleQueue.put is reentrant: safe from a signal handler on the loop's thread.
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.get = self._queue.get
        self.get_nowait = self._queue.get_nowait

    def put(self, event: Event) -> None:
        """Thread-safe (and signal-safe): hand an event to the loop."""
        self._queue.put(event)


class JournalFailure(Exception):
    """The journal could not be written: we cannot go on without a record."""


class Loop:
    def __init__(
        self,
        state: State,
        *,
        journal: Callable[[Record], None],
        handlers: Iterable[EffectHandler],
        timers: TimerService,
        observers: Iterable[Observer] = (),
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        inbox: Inbox | None = None,
    ) -> None:
        self.state = state
        self._journal = journal
        self._runs = dispatch_table(handlers)
        self._timers = timers
        self._observers = list(observers)
        self._clock = clock
        self._wall = wall
        self._queue = inbox if inbox is not None else Inbox()
        self._live_timers: dict[str, tuple[int, TimerHandle]] = {}
        self._seq = 0
        self.exit_code: int | None = None
        self.last_progress = clock()  # for /healthz: the loop is alive

    def put(self, event: Event) -> None:
        """Thread-safe (and signal-safe): hand an event to the loop."""
        self._queue.put(event)

    def run(self, idle_tick: float = 0.5) -> int:
        """Process events until an effect asks to exit; returns the exit code."""
        while self.exit_code is None:
            try:
                event = self._queue.get(timeout=idle_tick)
            except queue.Empty:
                self.last_progress = self._clock()
                continue
            self.step(event)
        return self.exit_code

    def drain(self, limit: int = 10_000) -> list[Record]:
        """Process what is queued now, without waiting (for tests)."""
        records: list[Record] = []
        while self.exit_code is None and len(records) < limit:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            records.append(self.step(event))
        return records

    def step(self, event: Event) -> Record:
        self._seq += 1
        at = self._clock()
        event = attrs.evolve(event, at=at)
        transition = reduce(self.state, event)
        self.state = transition.state
        record = Record(
            seq=self._seq,
            at=at,
            wall=self._wall(),
            event=event,
            state=transition.state.name.value,
            effects=transition.effects,
            previous=transition.previous.value if transition.previous else "",
            cause=transition.cause,
            why=transition.why.value if transition.why is not None else "",
            token=transition.state.token,
        )
        try:
            self._journal(record)
        except (OSError, ValueError) as exc:  # a full disk, or a record the writer refuses
            raise JournalFailure(f"cannot append to the journal: {exc}") from exc
        for effect in transition.effects:
            self._run(effect)
        for observer in self._observers:
            try:
                observer(record)
            except Exception:  # an observer must never stop the daemon
                log.exception("observer %r failed on record %d", observer, record.seq)
        self.last_progress = self._clock()
        return record

    def _run(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.StartTimer):
            self._start_timer(effect)
        elif isinstance(effect, fx.CancelTimer):
            live = self._live_timers.get(effect.name)
            if live is not None and live[0] == effect.id:
                live[1].cancel()
                del self._live_timers[effect.name]
        elif isinstance(effect, fx.Exit):
            self.exit_code = effect.code
        else:
            run = self._runs.get(type(effect))
            if run is None:
                raise LookupError(f"no handler for {type(effect).__name__}")
            run(effect)

    def _start_timer(self, effect: fx.StartTimer) -> None:
        old = self._live_timers.pop(effect.name, None)
        if old is not None:
            old[1].cancel()
        fired = TimerFired(name=effect.name, id=effect.id)
        handle = self._timers.call_later(effect.delay, lambda: self.put(fired))
        self._live_timers[effect.name] = (effect.id, handle)
