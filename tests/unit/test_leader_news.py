"""A waiting replica's log says who leads, once per change (`LeaderNews`): told when a
read of the queue shows another node at its head, from the node's name alone."""

from __future__ import annotations

import logging

import pytest

from election.core import events as ev
from election.core.events import Outcome
from election.core.queue import node_prefix
from election.core.record import Record
from election.observe.leader_news import Head, LeaderNews

OURS = 0x500  # our session


def record(state: str, event: ev.Event, previous: str = "", token: int | None = None) -> Record:
    return Record(seq=1, at=0.0, wall=0.0, event=event, state=state, previous=previous, token=token)


def node(replica: str, session: int, sequence: int) -> str:
    return f"{node_prefix(replica, session)}{sequence:010d}"


def queue(*names: str) -> ev.QueueRead:
    """A read of the queue that lists `names` (and ours, last)."""
    return ev.QueueRead(request=5, outcome=Outcome.OK, names=(*names, node("r2", OURS, 99)))


CONNECTED = ev.SessionConnected(session_id=OURS)
R1 = node("r1", 0x100, 1)
R3 = node("r3", 0x300, 4)


def news() -> tuple[LeaderNews, list[Head]]:
    told: list[Head] = []
    observer = LeaderNews(tell=told.append)
    observer(record("Init", CONNECTED))
    return observer, told


def test_a_waiting_replica_tells_who_heads_the_queue_once_per_change() -> None:
    observer, told = news()
    observer(record("Attempter", ev.PathEnsured(request=1, outcome=Outcome.OK), previous="Init"))
    observer(record("Attempter", queue(R1, R3)))
    assert told == [Head("r1", 2)]
    for _ in range(3):  # reads every attempter-timeout, the same head: nothing to tell
        observer(record("Attempter", ev.TimerFired(name="attempt", id=9)))
        observer(record("Attempter", queue(R1, R3)))
    assert told == [Head("r1", 2)]
    observer(record("Attempter", queue(R3)))  # r1's node went: r3 heads it now
    # r3 moved to the back and came to the head again with a new node: news too.
    observer(record("Attempter", queue(node("r3", 0x300, 7))))
    assert told == [Head("r1", 2), Head("r3", 1), Head("r3", 1)]


def test_at_the_head_ourselves_there_is_nobody_to_tell_of() -> None:
    observer, told = news()
    observer(
        record(
            "Attempter", ev.QueueRead(request=5, outcome=Outcome.OK, names=(node("r2", OURS, 3),))
        )
    )
    observer(record("Attempter", ev.QueueRead(request=6, outcome=Outcome.FAILED, reason="x")))
    assert told == []


def test_after_its_own_term_the_next_head_is_news_even_if_it_headed_before() -> None:
    observer, told = news()
    observer(record("Attempter", queue(R1)))
    observer(record("Leader", queue(), "Attempter", 9))
    observer(record("Attempter", queue(R1), previous="Leader"))
    assert told == [Head("r1", 1), Head("r1", 1)]


def test_the_log_line_names_the_head_and_an_earlier_run_of_our_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="election"):
        observer = LeaderNews(replica="r2")
        observer(record("Init", CONNECTED))
        observer(record("Attempter", queue(R1, R3)))
        observer(record("Attempter", queue(node("r2", 0x1, 0))))  # our dead run's node
    assert [r.getMessage() for r in caplog.records] == [
        "r1 leads the queue; waiting behind it (2 ahead of us)",
        "an earlier run of r2 heads the queue until its session ends; waiting behind it",
    ]
