"""`Step`: the scratch pad of one reduction.

A handler of the transition table receives a `Step` holding the parts of the state
(`name`, the books, `session`, `phase`, `job`, `streaks`) and records what should
happen: new parts, effects, timers, and at most one state change. `result()` puts the
parts together again, rebuilding only what changed. A `Step` is local to one call of
`reduce`, so the reducer stays a pure function of (state, event).
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from election.core import effects as fx
from election.core.cause import Why
from election.core.lifetime import ANSWER, outlives
from election.core.state import (
    Books,
    Candidate,
    Checks,
    Control,
    CoreConfig,
    Job,
    Member,
    Peers,
    Pending,
    Phase,
    Place,
    Repairs,
    Session,
    Shutdown,
    State,
    StateName,
    Streaks,
    Term,
    Timer,
    Timers,
)


class IllegalTransition(Exception):
    """A handler tried a state change the transition table does not declare."""


def capped_backoff(initial: float, failures: int, cap: float) -> float:
    """`initial` doubled for each failure after the first, at most `cap`."""
    exponent = max(failures - 1, 0)
    if exponent > 60:  # 2**61 * anything positive is past any cap
        return cap
    return min(initial * math.pow(2.0, exponent), cap)


class Step:
    __slots__ = (
        "_allowed",
        "_before",
        "at",
        "cause",
        "config",
        "control",
        "effects",
        "job",
        "member",
        "name",
        "next_id",
        "peers",
        "pending",
        "phase",
        "place",
        "previous",
        "session",
        "streaks",
        "timers",
        "why",
    )

    def __init__(self, state: State, allowed: tuple[StateName, ...], at: float = 0.0) -> None:
        self._before = state
        self._allowed = allowed
        self.at = at  # the event's time (monotonic)
        self.config: CoreConfig = state.config
        self.name: StateName = state.name
        books = state.books
        self.next_id: int = books.next_id
        self.timers: Timers = books.timers
        self.pending: Pending = books.pending
        self.session: Session = state.session
        self.phase: Phase = state.phase
        self.job: Job = state.job
        self.streaks: Streaks = state.streaks
        self.cause: str = state.cause
        self.why: Why | None = None  # set by a state change, with `previous`
        self.member: Member = state.member
        self.control: Control = state.control
        self.peers: Peers = state.peers
        self.place: Place = state.place
        self.effects: list[fx.Effect] = []
        self.previous: StateName | None = None  # set by a state change

    @property
    def before(self) -> State:
        """The state the reduction started from."""
        return self._before

    def result(self) -> State:
        """The state with every change; the same object when nothing changed."""
        before = self._before
        books = before.books
        if (
            self.next_id != books.next_id
            or self.timers is not books.timers
            or self.pending is not books.pending
        ):
            books = Books(self.next_id, self.timers, self.pending)
        if (
            books is before.books
            and self.name is before.name
            and self.session is before.session
            and self.phase is before.phase
            and self.job is before.job
            and self.streaks is before.streaks
            and self.cause is before.cause
            and self.member is before.member
            and self.control is before.control
            and self.peers is before.peers
            and self.place is before.place
        ):
            return before
        return State(
            self.config,
            self.name,
            books,
            self.session,
            self.phase,
            self.job,
            self.streaks,
            self.cause,
            self.member,
            self.control,
            self.peers,
            self.place,
        )

    # --- the phase of the current state ------------------------------------------------

    @property
    def term(self) -> Term:
        """Leader's term (only ever asked for in Leader)."""
        phase = self.phase
        assert isinstance(phase, Term), phase
        return phase

    @property
    def candidate(self) -> Candidate:
        phase = self.phase
        assert isinstance(phase, Candidate), phase
        return phase

    @property
    def checks(self) -> Checks:
        phase = self.phase
        assert isinstance(phase, Checks), phase
        return phase

    @property
    def repairs(self) -> Repairs:
        phase = self.phase
        assert isinstance(phase, Repairs), phase
        return phase

    @property
    def shutdown(self) -> Shutdown:
        phase = self.phase
        assert isinstance(phase, Shutdown), phase
        return phase

    # --- requests and timers -----------------------------------------------------------

    def new_id(self) -> int:
        """A fresh id (for a timer, or a request)."""
        new_id = self.next_id
        self.next_id = new_id + 1
        return new_id

    def request(self, make: type[fx.Effect], **fields: Any) -> int:
        """Emit the effect `make(request=<new id>, **fields)` and await its answer."""
        request = self.new_id()
        self.pending = (*self.pending, (request, make))
        self.effects.append(make(request=request, **fields))  # type: ignore[call-arg]
        return request

    def awaits(self, kind: type[fx.Effect]) -> bool:
        """True while a request of effect type `kind` is awaited."""
        return any(awaited is kind for _, awaited in self.pending)

    def forget(self, *kinds: type[fx.Effect]) -> None:
        """Stop awaiting the requests of `kinds`: what they asked for is void (their
        answers, arriving later, are stale)."""
        self.pending = tuple(p for p in self.pending if p[1] not in kinds)

    def answered(self, answer: Any) -> bool:
        """`answer` (an outcome event) has arrived for its request: stop awaiting it.
        False (and nothing changes) if no request of the kind it answers (`ANSWER`) is
        awaited with its id: a stale answer, of an earlier state or one superseded."""
        awaited = (answer.request, ANSWER[type(answer)])
        left = tuple(p for p in self.pending if p != awaited)
        if len(left) == len(self.pending):
            return False
        self.pending = left
        return True

    def start_timer(self, name: Timer, delay: float) -> None:
        """Start (or restart) the timer `name`; a fire of its old id becomes stale."""
        timer_id = self.new_id()
        self.timers = (*(t for t in self.timers if t[0] != name), (name, timer_id))
        self.effects.append(fx.StartTimer(name=name, id=timer_id, delay=delay))

    def has_timer(self, name: Timer) -> bool:
        return any(timer == name for timer, _ in self.timers)

    def fired(self, name: Timer, timer_id: int) -> bool:
        """The timer `name` fired with `timer_id`: True if that is its live id (it is
        then no longer live); False, changing nothing, for a stale fire."""
        if (name, timer_id) not in self.timers:
            return False
        self.timers = tuple(t for t in self.timers if t[0] != name)
        return True

    def cancel_timers(self) -> None:
        for timer, timer_id in self.timers:
            self.effects.append(fx.CancelTimer(name=timer, id=timer_id))
        self.timers = ()

    # --- back-offs ---------------------------------------------------------------------

    def backoff(self, failures: int | None = None) -> float:
        """Capped exponential back-off for the current run of failures (or `failures`)."""
        count = self.streaks.failures if failures is None else failures
        return capped_backoff(self.config.backoff_initial, count, self.config.backoff_max)

    def job_backoff(self, failures: int) -> float:
        """The wait after the `failures`-th job failure in a row (restart or compete)."""
        cfg = self.config
        return capped_backoff(cfg.child_backoff_initial, failures, cfg.child_backoff_max)

    # --- state changes ---------------------------------------------------------------

    def goto(self, target: StateName, why: Why, cause: str, phase: Phase = None) -> None:
        """Leave the current state for `target` with its `phase`, `why` (the kind) and
        `cause` (what happened, for a reader): cancel the timers, forget the requests
        that do not outlive the change (`election.core.lifetime`), stop the job; the
        caller then runs `target`'s entry. Only the declared targets of the rule are
        allowed."""
        if target not in self._allowed:
            raise IllegalTransition(f"{self.name} -> {target} is not in the table")
        if self.previous is None:
            self.previous = self.name
        if isinstance(self.phase, Term):  # a resumed term continues its files
            term = self.phase
            self.streaks = attrs.evolve(self.streaks, last_term=(term.token, term.seq))
        self.cause = cause
        self.why = why
        self.cancel_timers()
        # Leadership ends with the state: the job learns it at once (SIGTERM now, SIGKILL
        # after the grace).
        self.stop_child()
        self.name = target
        self.pending = tuple(p for p in self.pending if outlives(p[1], why))
        self.phase = phase

    def stop_child(self) -> None:
        """Ask the running job (if any, and not already asked) to stop."""
        job = self.job
        if job.pid is not None and not job.stopping:
            self.effects.append(fx.StopChild(pid=job.pid, grace=self.config.exec_grace))
            self.job = Job(job.token, job.pid, True)
