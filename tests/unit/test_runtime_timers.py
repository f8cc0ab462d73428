"""The timer services and `Reply`: timers fire in order, cancel and close hold, and every
request gets exactly one answer (ok/failed before its deadline, unknown after it)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from election.core import events as ev
from election.core.events import Outcome
from election.runtime.replies import Reply
from election.runtime.timers import FakeTimerService, ThreadTimerService, TimerHandle

WAIT = 2.0  # upper bound for anything that should happen "soon" on a real thread


@pytest.fixture
def thread_timers() -> Iterator[ThreadTimerService]:
    service = ThreadTimerService()
    yield service
    service.close()


def collect(into: queue.SimpleQueue[str], label: str) -> Callable[[], None]:
    return lambda: into.put(label)


def take(q: queue.SimpleQueue[str], n: int) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + WAIT
    while len(got) < n:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {got} of {n} callbacks within {WAIT}s"
        with contextlib.suppress(queue.Empty):
            got.append(q.get(timeout=remaining))
    return got


# --- ThreadTimerService ---------------------------------------------------------------


def test_thread_timers_fire_in_due_order_not_call_order(
    thread_timers: ThreadTimerService,
) -> None:
    fired: queue.SimpleQueue[str] = queue.SimpleQueue()
    thread_timers.call_later(0.09, collect(fired, "late"))
    thread_timers.call_later(0.03, collect(fired, "early"))
    thread_timers.call_later(0.06, collect(fired, "middle"))
    assert take(fired, 3) == ["early", "middle", "late"]


def test_thread_timers_fire_no_sooner_than_their_delay(
    thread_timers: ThreadTimerService,
) -> None:
    fired: queue.SimpleQueue[float] = queue.SimpleQueue()
    start = time.monotonic()
    thread_timers.call_later(0.1, lambda: fired.put(time.monotonic()))
    assert fired.get(timeout=WAIT) - start >= 0.1


def test_thread_timers_equal_due_times_fire_in_call_order() -> None:
    now = [0.0]
    service = ThreadTimerService(clock=lambda: now[0])
    try:
        fired: queue.SimpleQueue[str] = queue.SimpleQueue()
        for label in ("a", "b", "c"):
            service.call_later(1.0, collect(fired, label))
        now[0] = 5.0  # every entry is due at once; wake the thread with a new entry
        service.call_later(0.0, collect(fired, "d"))
        assert take(fired, 4) == ["a", "b", "c", "d"]
    finally:
        service.close()


def test_cancelled_thread_timer_never_fires(thread_timers: ThreadTimerService) -> None:
    fired: queue.SimpleQueue[str] = queue.SimpleQueue()
    handle = thread_timers.call_later(0.03, collect(fired, "cancelled"))
    thread_timers.call_later(0.08, collect(fired, "kept"))
    handle.cancel()
    assert take(fired, 1) == ["kept"]
    assert fired.empty()


def test_close_stops_the_timer_thread_and_pending_timers() -> None:
    service = ThreadTimerService()
    fired: queue.SimpleQueue[str] = queue.SimpleQueue()
    service.call_later(0.05, collect(fired, "after close"))
    service.close()
    assert not service._thread.is_alive()
    time.sleep(0.1)  # past the due time: nothing may run
    assert fired.empty()


def test_a_failing_callback_does_not_stop_later_timers(
    thread_timers: ThreadTimerService,
) -> None:
    fired: queue.SimpleQueue[str] = queue.SimpleQueue()

    def boom() -> None:
        raise RuntimeError("a buggy callback")

    thread_timers.call_later(0.0, boom)
    thread_timers.call_later(0.05, collect(fired, "still ticking"))
    assert take(fired, 1) == ["still ticking"]


# --- FakeTimerService ---------------------------------------------------------------


def test_fake_timers_run_nothing_until_advanced() -> None:
    timers = FakeTimerService()
    ran: list[str] = []
    timers.call_later(1.0, lambda: ran.append("one"))
    assert ran == []
    assert timers.pending == [1.0]


def test_fake_advance_runs_due_entries_in_order_and_counts_them() -> None:
    timers = FakeTimerService()
    ran: list[tuple[str, float]] = []
    timers.call_later(3.0, lambda: ran.append(("three", timers.now)))
    timers.call_later(1.0, lambda: ran.append(("one", timers.now)))
    timers.call_later(2.0, lambda: ran.append(("two", timers.now)))
    assert timers.advance(2.5) == 2
    # Each callback sees the time it was due, not the target of the advance.
    assert ran == [("one", 1.0), ("two", 2.0)]
    assert timers.now == 2.5
    assert timers.pending == [3.0]


def test_fake_advance_includes_an_entry_due_exactly_at_the_target() -> None:
    timers = FakeTimerService()
    ran: list[str] = []
    timers.call_later(1.0, lambda: ran.append("edge"))
    assert timers.advance(0.999) == 0
    assert timers.advance(0.001) == 1
    assert ran == ["edge"]


def test_fake_advance_skips_cancelled_entries() -> None:
    timers = FakeTimerService()
    ran: list[str] = []
    timers.call_later(1.0, lambda: ran.append("cancelled")).cancel()
    timers.call_later(1.0, lambda: ran.append("kept"))
    assert timers.pending == [1.0]
    assert timers.advance(5.0) == 1
    assert ran == ["kept"]


def test_fake_entry_scheduled_by_a_callback_runs_in_the_same_advance_when_due() -> None:
    timers = FakeTimerService()
    ran: list[float] = []

    def tick() -> None:
        ran.append(timers.now)
        timers.call_later(1.0, tick)

    timers.call_later(1.0, tick)
    assert timers.advance(3.5) == 3
    assert ran == [1.0, 2.0, 3.0]
    assert timers.pending == [4.0]


def test_fake_negative_delay_is_due_now() -> None:
    timers = FakeTimerService()
    timers.advance(10.0)
    ran: list[float] = []
    timers.call_later(-5.0, lambda: ran.append(timers.now))
    assert timers.advance(0.0) == 1
    assert ran == [10.0]


def test_fake_close_drops_every_entry() -> None:
    timers = FakeTimerService()
    ran: list[str] = []
    timers.call_later(1.0, lambda: ran.append("dropped"))
    timers.close()
    assert timers.advance(5.0) == 0
    assert ran == []


# --- Reply ------------------------------------------------------------------------------


def make_reply(timers: FakeTimerService, deadline: float = 2.0) -> tuple[Reply, list[ev.Event]]:
    answers: list[ev.Event] = []
    return Reply(answers.append, ev.FileWritten, 7, timers, deadline), answers


def test_reply_ok_before_the_deadline_is_the_only_answer() -> None:
    timers = FakeTimerService()
    reply, answers = make_reply(timers)
    timers.advance(1.9)
    assert reply.ok(name="election-x.json") is True
    timers.advance(10.0)
    assert answers == [ev.FileWritten(request=7, outcome=Outcome.OK, name="election-x.json")]
    assert reply.done


def test_reply_failed_carries_its_reason_and_fields() -> None:
    timers = FakeTimerService()
    reply, answers = make_reply(timers)
    assert reply.failed("file-dir holds token 9", newer_token=9) is True
    assert answers == [
        ev.FileWritten(
            request=7, outcome=Outcome.FAILED, newer_token=9, reason="file-dir holds token 9"
        )
    ]


def test_reply_deadline_answers_unknown_with_a_reason() -> None:
    timers = FakeTimerService()
    _, answers = make_reply(timers, deadline=2.0)
    timers.advance(1.999)
    assert answers == []
    timers.advance(0.001)
    assert answers == [
        ev.FileWritten(request=7, outcome=Outcome.UNKNOWN, reason="no answer within 2s")
    ]


def test_reply_late_answers_after_the_deadline_are_dropped() -> None:
    timers = FakeTimerService()
    reply, answers = make_reply(timers, deadline=0.5)
    timers.advance(1.0)
    assert reply.ok(name="too-late.json") is False
    assert reply.failed("too late") is False
    assert [a.outcome for a in answers if isinstance(a, ev.FileWritten)] == [Outcome.UNKNOWN]


def test_reply_second_answer_is_dropped_and_cancels_the_deadline() -> None:
    timers = FakeTimerService()
    reply, answers = make_reply(timers)
    assert reply.failed("disk full") is True
    assert reply.ok() is False
    assert timers.pending == []  # the deadline entry was cancelled
    assert len(answers) == 1


def test_reply_concurrent_answers_yield_exactly_one_event() -> None:
    timers = FakeTimerService()
    for _ in range(50):
        reply, answers = make_reply(timers)
        barrier = threading.Barrier(4)

        def answer(ok: bool, reply: Reply = reply, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=WAIT)
            if ok:
                reply.ok()
            else:
                reply.failed("racing")

        threads = [threading.Thread(target=answer, args=(i % 2 == 0,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=WAIT)
        assert len(answers) == 1


class ImmediateTimers:
    """A timer service whose zero-delay entries run inside `call_later`: what a real
    timer thread may do before `call_later` has even returned."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        handle = FakeTimerService().call_later(delay, callback)
        if delay <= 0:
            callback()
        return handle

    def close(self) -> None:
        pass


def test_reply_with_a_deadline_that_expires_at_once_still_answers_unknown() -> None:
    answers: list[ev.Event] = []
    reply = Reply(answers.append, ev.NodeCreated, 3, ImmediateTimers(), 0.0)
    assert answers == [
        ev.NodeCreated(request=3, outcome=Outcome.UNKNOWN, reason="no answer within 0s")
    ]
    assert reply.ok(token=1) is False
