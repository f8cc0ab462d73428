"""The job's lease: how long an answer from ZooKeeper proves our session alive, and the
heartbeats that keep proving it while a job runs.

ZooKeeper's rule: the server expires a session no sooner than the negotiated timeout
after the last request it received from the client. So a request *sent* at monotonic
`t0` and answered proves the session (and its ephemeral node, our leadership) alive
until at least `t0 + timeout`. The lease ends a margin earlier:

    lease = t0 + timeout * (1 - LEASE_MARGIN)

The margin (10 %, so 1 s of a 10 s session, 200 ms of a 2 s one) covers:
- clock rates: our monotonic clock against the server's; NTP keeps both within
  500 ppm, 0.1 % at worst together;
- the server's reckoning: ZooKeeper rounds a session's expiry *up* to its next tick
  (in our favour); in an ensemble a follower passes our session's activity on to the
  leader with its next ping, at most half a tick late (a tick of 2 s against 10 s
  sessions: 1 s; the heartbeat's `sync` makes sure the server answering is in touch with
  the leader at all);
- ourselves: the supervisor's wake-up and the kernel's delivery of SIGKILL and the
  job's exit, a few milliseconds on an idle machine, tens to a hundred on a loaded one.
`t0` is read before the request is handed to kazoo: queueing only makes it earlier.

The leader sends a heartbeat — `sync` then `exists` of its own queue node, asynchronous —
every timeout / 6 while a job runs, and only an answer showing the node still of our
term (czxid = token) and our session (ephemeralOwner) extends the lease. Extensions are
not journaled (far too many); a lease that runs out is (`ChildLeaseExpired`).

A job's stop grace must fit in the lease: SIGTERM comes at `lease - grace`, and a
healthy leader's lease is always at least timeout * (1 - margin) - timeout / 6 ahead.
Start-up refuses a grace above a third of the session timeout; should the server
negotiate a shorter session than asked, the grace is cut to a third of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import attrs

from election.runtime.timers import TimerHandle, TimerService

log = logging.getLogger("election.lease")

LEASE_MARGIN = 0.1  # of the session timeout; see the module's docstring for why
HEARTBEATS_PER_TIMEOUT = 6
GRACE_SHARE = 1 / 3  # the longest stop grace, as a share of the session timeout


def lease_until(sent_at: float, timeout: float, margin: float = LEASE_MARGIN) -> float:
    """The end of the lease proven by a request sent at `sent_at` and answered, on a
    session of `timeout` seconds (the negotiated one)."""
    return sent_at + timeout * (1.0 - margin)


def heartbeat_interval(timeout: float) -> float:
    return timeout / HEARTBEATS_PER_TIMEOUT


def longest_grace(timeout: float) -> float:
    """The longest stop grace that fits in the lease of a `timeout`-second session."""
    return timeout * GRACE_SHARE


@attrs.frozen
class Proof:
    """A heartbeat answered: sent at monotonic `sent_at` on a session of `timeout` s."""

    sent_at: float
    timeout: float


Answered = Callable[[Proof | None], None]


class Heartbeat(Protocol):
    def __call__(self, token: int, answered: Answered) -> None:
        """Ask ZooKeeper whether the node of term `token` is still ours; call `answered`
        once, with the proof or None (not ours, failed, no session)."""


Grant = Callable[[float], None]


class LeaseSource(Protocol):
    """What the job runner needs: leases for a term's job, and a grace that fits."""

    def hold(self, token: int, grant: Grant) -> Callable[[], None]: ...

    def fitting_grace(self, grace: float) -> float: ...


class LeaseKeeper:
    """Heartbeats while any job is held and grants each proof's lease to the holders of
    its term. Thread-safe: holders come and go on the job runner's threads, answers on
    kazoo's, beats on the timer thread."""

    def __init__(
        self,
        heartbeat: Heartbeat,
        timers: TimerService,
        *,
        timeout: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
        margin: float = LEASE_MARGIN,
    ) -> None:
        self._heartbeat = heartbeat
        self._timers = timers
        self._timeout = timeout  # the session timeout now (negotiated once connected)
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._holders: dict[int, list[Grant]] = {}  # token -> grants
        self._leases: dict[int, float] = {}  # token -> the furthest lease proven
        self._in_flight: dict[int, float] = {}  # token -> when its heartbeat was sent
        self._timer: TimerHandle | None = None
        self._closed = False

    def hold(self, token: int, grant: Grant) -> Callable[[], None]:
        """Extend `grant`'s lease for term `token` from now on (the first heartbeat goes
        at once); returns the function that ends it."""
        with self._lock:
            self._holders.setdefault(token, []).append(grant)
            known = self._leases.get(token)
        if known is not None and known > self._clock():
            grant(known)
        self._beat()

        def release() -> None:
            with self._lock:
                grants = self._holders.get(token, [])
                if grant in grants:
                    grants.remove(grant)
                if not grants:
                    self._holders.pop(token, None)
                    self._leases.pop(token, None)

        return release

    def fitting_grace(self, grace: float) -> float:
        """`grace`, or less if the negotiated session is too short for it."""
        timeout = self._timeout()
        fitting = min(grace, longest_grace(timeout))
        if fitting < grace:
            log.warning(
                "the session timeout ZooKeeper granted (%.3gs) fits a stop grace of only "
                "%.3gs: the job gets SIGKILL %.3gs after SIGTERM, not %.3gs",
                timeout,
                fitting,
                fitting,
                grace,
            )
        return fitting

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _beat(self) -> None:
        """Send a heartbeat for every held term that has none in flight (one older than
        the lease it could give is given up), then come back in timeout / 6."""
        timeout = self._timeout()
        now = self._clock()
        with self._lock:
            if self._closed:
                return
            due = []
            for token in self._holders:
                sent = self._in_flight.get(token)
                if sent is None or now >= lease_until(sent, timeout, self._margin):
                    self._in_flight[token] = now
                    due.append(token)
            if self._timer is not None:
                self._timer.cancel()
            self._timer = (
                self._timers.call_later(heartbeat_interval(timeout), self._beat)
                if self._holders
                else None
            )
        for token in due:
            self._heartbeat(token, self._answer_for(token, now))

    def _answer_for(self, token: int, sent: float) -> Answered:
        def answered(proof: Proof | None) -> None:
            with self._lock:
                if self._in_flight.get(token) == sent:
                    del self._in_flight[token]
                if proof is None or token not in self._holders:
                    return
                until = lease_until(proof.sent_at, proof.timeout, self._margin)
                if until <= self._leases.get(token, float("-inf")):
                    return  # a late answer: an older proof than one we have
                self._leases[token] = until
                grants = list(self._holders[token])
            for grant in grants:
                grant(until)

        return answered
