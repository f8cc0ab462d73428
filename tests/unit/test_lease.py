"""The lease arithmetic and the heartbeats, with a scripted clock: no ZooKeeper, no
threads. `FakeTimerService.now` is the monotonic clock."""

from __future__ import annotations

import logging

import pytest

from election.runtime.lease import (
    LEASE_MARGIN,
    Answered,
    LeaseKeeper,
    Proof,
    heartbeat_interval,
    lease_until,
    longest_grace,
)
from election.runtime.timers import FakeTimerService

TOKEN = 4242


class Scripted:
    """A keeper whose heartbeats wait for the test to answer them."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timers = FakeTimerService()
        self.timeout = timeout  # the session timeout the server granted
        self.sent: list[tuple[float, int, Answered]] = []  # (sent at, token, answer)
        self.granted: list[float] = []
        self.keeper = LeaseKeeper(
            self._heartbeat,
            self.timers,
            timeout=lambda: self.timeout,
            clock=lambda: self.timers.now,
        )

    def _heartbeat(self, token: int, answered: Answered) -> None:
        self.sent.append((self.timers.now, token, answered))

    def hold(self, token: int = TOKEN) -> None:
        self.release = self.keeper.hold(token, self.granted.append)

    def answer(self, index: int, ours: bool = True) -> None:
        sent_at, _, answered = self.sent[index]
        answered(Proof(sent_at, self.timeout) if ours else None)

    @property
    def lease(self) -> float | None:
        return self.granted[-1] if self.granted else None


def test_a_request_sent_at_t0_and_answered_proves_the_session_until_t0_plus_the_timeout() -> None:
    assert lease_until(100.0, 10.0) == pytest.approx(100.0 + 10.0 * (1 - LEASE_MARGIN))
    assert lease_until(100.0, 10.0, margin=0.0) == 110.0
    assert heartbeat_interval(10.0) == pytest.approx(10.0 / 6)
    # Any grace up to a third of the session fits; the defaults (3 s of 10 s) do.
    assert longest_grace(10.0) == pytest.approx(10.0 / 3) and longest_grace(10.0) >= 3.0


def test_the_first_heartbeat_goes_at_once_and_its_answer_grants_the_lease() -> None:
    s = Scripted()
    s.timers.advance(50.0)
    s.hold()
    assert [(at, token) for at, token, _ in s.sent] == [(50.0, TOKEN)]
    assert s.lease is None  # nothing is proven before ZooKeeper answers
    s.timers.advance(0.004)
    s.answer(0)
    assert s.lease == pytest.approx(50.0 + 9.0)  # from when it was sent, not answered


def test_heartbeats_come_every_sixth_of_the_timeout_and_each_answer_extends() -> None:
    s = Scripted()
    s.hold()
    s.answer(0)
    for beat in range(1, 7):
        s.timers.advance(heartbeat_interval(10.0))
        assert len(s.sent) == beat + 1
        s.answer(beat)
        assert s.lease == pytest.approx(s.sent[beat][0] + 9.0)
    # Just before the next answer, a healthy leader's lease is still 0.9 T - T/6 ahead:
    # room for a grace of a third of T, with some to spare.
    s.timers.advance(heartbeat_interval(10.0) - 1e-6)
    assert s.lease is not None
    assert s.lease - s.timers.now >= 9.0 - heartbeat_interval(10.0) > longest_grace(10.0)


def test_a_late_answer_extends_only_from_when_it_was_sent() -> None:
    s = Scripted()
    s.hold()
    s.timers.advance(4.0)  # an answer 4 s late (a slow server): still a proof, from t0
    s.answer(0)
    assert s.lease == pytest.approx(9.0)
    # A newer proof arrived first; the older one, answered after it, changes nothing.
    s.timers.advance(heartbeat_interval(10.0))
    s.answer(len(s.sent) - 1)
    newest = s.lease
    s.answer(0)
    assert s.lease == newest and len(s.granted) == 2


def test_an_unanswered_heartbeat_grants_nothing_and_the_lease_runs_out() -> None:
    s = Scripted()
    s.hold()
    s.answer(0)
    lease = s.lease
    assert lease is not None
    s.timers.advance(heartbeat_interval(10.0))
    # ZooKeeper stops answering: one heartbeat stays in flight, no new one is stacked
    # behind it until it could no longer prove anything (its own lease would be over).
    s.timers.advance(5.0)
    assert len(s.sent) == 2
    assert s.lease == lease  # only the supervisor's clock moves on: at `lease` it kills
    s.timers.advance(9.0)
    assert len(s.sent) == 3  # given up; a fresh heartbeat goes


def test_an_answer_that_the_node_is_not_ours_grants_nothing() -> None:
    s = Scripted()
    s.hold()
    s.answer(0, ours=False)
    assert s.lease is None


def test_a_negotiated_timeout_shorter_than_asked_shortens_lease_beat_and_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = Scripted(timeout=4.0)  # asked 10 s; the server's maxSessionTimeout granted 4 s
    s.hold()
    s.answer(0)
    assert s.lease == pytest.approx(4.0 * 0.9)
    s.timers.advance(heartbeat_interval(4.0))
    assert len(s.sent) == 2
    with caplog.at_level(logging.WARNING, "election.lease"):
        assert s.keeper.fitting_grace(3.0) == pytest.approx(4.0 / 3)
    assert "fits a stop grace of only" in caplog.text
    assert s.keeper.fitting_grace(1.0) == 1.0


def test_the_lease_of_a_term_goes_to_every_holder_of_that_term_only() -> None:
    s = Scripted()
    other: list[float] = []
    s.hold(TOKEN)
    s.keeper.hold(TOKEN + 1, other.append)
    tokens = [token for _, token, _ in s.sent]
    s.answer(tokens.index(TOKEN))
    assert s.lease is not None and other == []


def test_heartbeats_stop_when_no_job_is_held() -> None:
    s = Scripted()
    s.hold()
    s.release()
    sent = len(s.sent)
    s.timers.advance(60.0)
    assert len(s.sent) == sent
    s.answer(0)
    assert s.lease is None  # an answer after the release grants nothing
