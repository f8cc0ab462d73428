"""The loop with a fake timer service, fake effect handlers and a list as the journal:
write-ahead order, stamping, timers, exit, and a whole election driven in memory."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.leaderfiles import leader_file_name
from election.core.record import Record
from election.core.reducer import UnexpectedEvent
from election.core.state import CoreConfig, initial_state
from election.runtime.dispatch import LOOP_EFFECTS, EffectHandler
from election.runtime.loop import JournalFailure, Loop, Observer
from election.runtime.timers import FakeTimerService

CONFIG = CoreConfig(
    replica="r1",
    election_path="/election/leader",
    leader_timeout=2.0,
    attempter_timeout=10.0,
    storage_capacity=3,
    init_deadline=5.0,
    stop_deadline=3.0,
)
F = TypeVar("F", bound=fx.Effect)
SESSION = 0x5EED
TOKEN = 4242
MONOTONIC_START = 100.0
WALL_START = 1_700_000_000.0


def ok_answers(effect: fx.Effect, queue: list[str], now: float) -> list[ev.Event]:
    """What a healthy world answers to each effect, at once (`queue`: the names of the
    queue's nodes, which a create adds to; `now`: the loop's monotonic clock, when the
    request is sent — its answer proves the session alive then)."""
    if isinstance(effect, fx.Connect):
        return [
            ev.ConnectResult(request=effect.request, outcome=Outcome.OK),
            ev.SessionConnected(session_id=SESSION),
        ]
    if isinstance(effect, fx.CheckFileDir):
        return [ev.FileDirChecked(request=effect.request, outcome=Outcome.OK)]
    if isinstance(effect, fx.EnsurePath):
        return [ev.PathEnsured(request=effect.request, outcome=Outcome.OK)]
    if isinstance(effect, fx.CreateNode):
        path = f"{effect.path}{len(queue):010d}"
        queue.append(path.rsplit("/", 1)[-1])
        return [
            ev.NodeCreated(
                request=effect.request, outcome=Outcome.OK, token=TOKEN, path=path, asked_at=now
            )
        ]
    if isinstance(effect, fx.ReadQueue):
        names = tuple(queue)
        return [ev.QueueRead(request=effect.request, outcome=Outcome.OK, names=names, asked_at=now)]
    if isinstance(effect, fx.MarkNode):
        return [ev.NodeMarked(request=effect.request, outcome=Outcome.OK)]
    if isinstance(effect, fx.ReadNode):
        return [
            ev.NodeRead(
                request=effect.request,
                outcome=Outcome.OK,
                exists=True,
                owner=SESSION,
                token=TOKEN,
                path=effect.path,
                asked_at=now,
            )
        ]
    if isinstance(effect, fx.WriteLeaderFile):
        name = leader_file_name(effect.token, effect.seq)
        return [ev.FileWritten(request=effect.request, outcome=Outcome.OK, name=name)]
    if isinstance(effect, fx.PruneFiles):
        return [ev.FilesPruned(request=effect.request, outcome=Outcome.OK)]
    if isinstance(effect, fx.ReleaseNode):
        return [ev.NodeReleased(request=effect.request, outcome=Outcome.OK)]
    if isinstance(effect, fx.CloseSession):
        return [ev.SessionClosed(request=effect.request, outcome=Outcome.OK)]
    if isinstance(effect, fx.PublishMember):  # the replica id is ours
        return [ev.MemberPublished(request=effect.request, outcome=Outcome.OK, session_id=SESSION)]
    if isinstance(effect, fx.ReadControl):  # nothing stands
        return [ev.ControlRead(request=effect.request, outcome=Outcome.OK)]
    if isinstance(effect, fx.ReadMembers):  # ours alone
        return [ev.MembersRead(request=effect.request, outcome=Outcome.OK, replicas=("r1",),
                               priorities=(CONFIG.priority,))]  # fmt: skip
    raise AssertionError(f"unexpected effect {effect!r}")


class FakeWorld(EffectHandler):
    """An effect handler for every world effect: records what it was asked and, when
    `auto`, answers like a healthy ZooKeeper and disk (by putting events)."""

    RUNS = {kind: "run" for kind in fx.EFFECT_TYPES if kind not in LOOP_EFFECTS}

    def __init__(self, auto: bool, journal: list[Record], clock: Callable[[], float]) -> None:
        self.auto = auto
        self.clock = clock
        self.journal = journal
        self.effects: list[fx.Effect] = []
        self.journaled_first: list[bool] = []  # per effect: its record was journaled
        self.put: Callable[[ev.Event], None] = lambda e: None
        self.only: tuple[type[fx.Effect], ...] | None = None  # restrict auto answers
        self.queue: list[str] = []  # the election path's children

    def run(self, effect: fx.Effect) -> None:
        self.journaled_first.append(any(effect in r.effects for r in self.journal))
        self.effects.append(effect)
        if self.auto and (self.only is None or isinstance(effect, self.only)):
            for answer in ok_answers(effect, self.queue, self.clock()):
                self.put(answer)

    def of(self, kind: type[F]) -> list[F]:
        return [e for e in self.effects if isinstance(e, kind)]


class Harness:
    def __init__(
        self,
        auto: bool = True,
        observers: Iterable[Observer] = (),
        journal: Callable[[Record], None] | None = None,
    ) -> None:
        self.timers = FakeTimerService()
        self.journal: list[Record] = []
        self.world = FakeWorld(auto, self.journal, clock=self.now)
        self.loop = Loop(
            initial_state(CONFIG),
            journal=journal or self.journal.append,
            handlers=[self.world],
            timers=self.timers,
            observers=observers,
            clock=self.now,
            wall=lambda: WALL_START + self.timers.now,
        )
        self.world.put = self.loop.put

    def now(self) -> float:
        """The loop's monotonic clock."""
        return MONOTONIC_START + self.timers.now

    def send(self, *events: ev.Event) -> list[Record]:
        for event in events:
            self.loop.put(event)
        return self.loop.drain()

    def advance(self, seconds: float) -> list[Record]:
        self.timers.advance(seconds)
        return self.loop.drain()

    @property
    def state(self) -> str:
        return self.loop.state.name.value


def run_bounded(loop: Loop, timeout: float = 2.0) -> int:
    """`loop.run()` on a thread; fails (instead of hanging) if it does not return."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(loop.run(idle_tick=0.01)), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"run() still going after {timeout}s"
    assert len(result) == 1
    return result[0]


def write_seqs(effects: Iterable[fx.Effect]) -> list[int]:
    return [e.seq for e in effects if isinstance(e, fx.WriteLeaderFile)]


# --- write-ahead and stamping ---------------------------------------------------------


def test_every_effect_runs_only_after_its_record_is_journaled() -> None:
    h = Harness()
    h.send(ev.Started())
    assert h.state == "Leader"
    assert len(h.world.effects) >= 7  # connect, checks, create, write, read, prune...
    assert all(h.world.journaled_first), list(
        zip(h.world.effects, h.world.journaled_first, strict=True)
    )


def test_effects_run_after_the_journal_and_observers_see_the_record_after_them() -> None:
    order: list[str] = []

    def journal(record: Record) -> None:
        order.append(f"journal {record.seq}")

    def observer(record: Record) -> None:
        order.append(f"observe {record.seq}")

    h = Harness(observers=[observer], journal=journal)
    loop_put = h.loop.put

    def answer(event: ev.Event) -> None:
        order.append("effect")
        loop_put(event)

    h.world.put = answer
    h.send(ev.Started())
    # Started asks for Connect (answered with two events) and CheckFileDir: record 1's
    # journal line comes before any effect runs, its observers after them (a log line or
    # a metric never delays a request).
    assert order[:5] == ["journal 1", "effect", "effect", "effect", "observe 1"]


def test_records_are_stamped_with_seq_monotonic_and_wall_time() -> None:
    h = Harness(auto=False)
    first = h.send(ev.Started(at=999.0))  # the caller's `at` is never trusted
    h.timers.advance(1.5)
    connect = h.world.of(fx.Connect)[0]
    second = h.send(ev.ConnectResult(request=connect.request, outcome=Outcome.OK))
    records = first + second
    assert [r.seq for r in records] == [1, 2]
    assert [r.at for r in records] == [MONOTONIC_START, MONOTONIC_START + 1.5]
    assert [r.wall for r in records] == [WALL_START, WALL_START + 1.5]
    assert [r.event.at for r in records] == [r.at for r in records]
    assert h.journal == records


def test_record_names_the_state_change_and_its_cause() -> None:
    h = Harness()
    records = h.send(ev.Started())
    changes = [(r.previous, r.state, r.cause) for r in records if r.changed]
    assert changes == [
        ("Init", "Attempter", "checks passed"),
        ("Attempter", "Leader", "our node leads the queue"),
    ]
    assert records[-1].token == TOKEN


# --- timers -----------------------------------------------------------------------------


def test_start_timer_arms_the_timer_service() -> None:
    h = Harness(auto=False)
    (record,) = h.send(ev.Started())
    (start,) = [e for e in record.effects if isinstance(e, fx.StartTimer)]
    assert start.name == "init-deadline"
    assert h.timers.pending == [CONFIG.init_deadline]


def test_a_fired_timer_becomes_a_timer_fired_event_with_its_id() -> None:
    h = Harness(auto=False)
    (record,) = h.send(ev.Started())
    (start,) = [e for e in record.effects if isinstance(e, fx.StartTimer)]
    assert h.advance(CONFIG.init_deadline - 0.01) == []
    (fired,) = h.advance(0.01)
    assert fired.event == ev.TimerFired(
        name="init-deadline", id=start.id, at=MONOTONIC_START + CONFIG.init_deadline
    )
    assert (fired.state, fired.cause) == ("Failover", "init deadline passed")


def test_cancelled_timer_is_never_delivered() -> None:
    h = Harness()
    records = h.send(ev.Started())  # Init -> Attempter cancels the init deadline
    cancels = [e for r in records for e in r.effects if isinstance(e, fx.CancelTimer)]
    assert "init-deadline" in [c.name for c in cancels]
    assert CONFIG.init_deadline not in h.timers.pending
    later = h.advance(CONFIG.init_deadline + 0.5)
    fired = [r.event.name for r in later if isinstance(r.event, ev.TimerFired)]
    assert fired  # the leader's write timer did fire meanwhile
    assert "init-deadline" not in fired


def test_restarted_timer_fires_only_under_its_new_id() -> None:
    h = Harness()
    h.world.only = (fx.Connect, fx.CheckFileDir, fx.EnsurePath)  # never answer the create
    h.send(ev.Started())
    assert h.state == "Attempter"
    first_attempt = h.loop._live_timers["attempt"][0]
    h.timers.advance(4.0)
    # Away and back (the same session, repaired at once): Attempter anew restarts the
    # attempt timer from here.
    h.send(ev.SessionSuspended(), ev.SessionConnected(session_id=SESSION))
    assert h.state == "Attempter"
    second_attempt = h.loop._live_timers["attempt"][0]
    assert second_attempt != first_attempt
    assert h.timers.pending == [4.0 + CONFIG.attempter_timeout]
    fired = h.advance(CONFIG.attempter_timeout + 0.1)
    timer_events = [r.event for r in fired if isinstance(r.event, ev.TimerFired)]
    assert [(e.name, e.id) for e in timer_events] == [("attempt", second_attempt)]


# --- exit, observers and the journal ------------------------------------------------------


def test_exit_effect_ends_run_with_code_zero_after_a_graceful_stop() -> None:
    h = Harness()
    h.send(ev.Started())
    assert h.state == "Leader"
    h.loop.put(ev.StopRequested(signal="SIGTERM"))
    assert run_bounded(h.loop) == 0
    assert h.journal[-1].state == "Stopping"
    assert fx.Exit(code=0, reason="stopped") in h.journal[-1].effects
    # Its queue node first (one round trip: the node is of its session), then the session.
    (release,) = h.world.of(fx.ReleaseNode)
    assert h.world.effects.index(release) < h.world.effects.index(h.world.of(fx.CloseSession)[0])


def test_second_stop_request_forces_exit_code_one_and_nothing_runs_after() -> None:
    h = Harness(auto=False)
    for event in (ev.Started(), ev.StopRequested(), ev.StopRequested(signal="SIGINT")):
        h.loop.put(event)
    h.loop.put(ev.SessionConnected(session_id=SESSION))  # after the exit: not processed
    assert run_bounded(h.loop) == 1
    assert [type(r.event) for r in h.journal] == [
        ev.Started,
        ev.StopRequested,
        ev.StopRequested,
    ]


def test_a_raising_observer_does_not_stop_the_loop_or_other_observers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int] = []

    def broken(record: Record) -> None:
        raise ValueError("observer bug")

    h = Harness(observers=[broken, lambda r: seen.append(r.seq)])
    with caplog.at_level(logging.ERROR, logger="election.loop"):
        records = h.send(ev.Started())
    assert h.state == "Leader"
    assert seen == [r.seq for r in records]
    assert any("observer" in m and "failed" in m for m in caplog.messages)


def test_journal_oserror_is_a_journal_failure_and_no_effect_runs() -> None:
    def full_disk(record: Record) -> None:
        raise OSError(28, "No space left on device")

    h = Harness(journal=full_disk)
    h.loop.put(ev.Started())
    with pytest.raises(JournalFailure, match="No space left"):
        h.loop.drain()
    assert h.world.effects == []
    assert h.timers.pending == []


def test_an_event_that_cannot_happen_stops_the_loop_before_anything_is_journaled() -> None:
    journaled: list[Record] = []
    timers = FakeTimerService()
    loop = Loop(initial_state(CONFIG), journal=journaled.append, handlers=[], timers=timers)
    loop.put(ev.SessionClosed(request=1, outcome=ev.Outcome.OK))  # only Stopping asks for it
    with pytest.raises(UnexpectedEvent, match="SessionClosed cannot happen in Init"):
        loop.drain()
    assert journaled == []  # the daemon reports an internal error and exits 3


def test_an_effect_no_handler_claims_is_a_loud_error() -> None:
    timers = FakeTimerService()
    loop = Loop(initial_state(CONFIG), journal=lambda r: None, handlers=[], timers=timers)
    loop.put(ev.Started())
    with pytest.raises(LookupError, match=r"CheckFileDir|Connect"):
        loop.drain()


# --- a whole election in memory -----------------------------------------------------------


def test_whole_election_in_memory_reaches_leader_and_writes_at_leader_timeout_cadence() -> None:
    h = Harness(auto=False)
    h.send(ev.Started())
    assert h.state == "Init"
    connect, check = h.world.of(fx.Connect)[0], h.world.of(fx.CheckFileDir)[0]
    h.send(
        ev.ConnectResult(request=connect.request, outcome=Outcome.OK),
        ev.SessionConnected(session_id=SESSION),
        ev.FileDirChecked(request=check.request, outcome=Outcome.OK),
    )
    (ensure,) = h.world.of(fx.EnsurePath)
    assert ensure.path == CONFIG.election_path
    assert h.state == "Init"  # the path is not ensured yet
    h.send(ev.PathEnsured(request=ensure.request, outcome=Outcome.OK))
    assert h.state == "Attempter"
    assert h.world.of(fx.CreateNode) == []  # our member node is claimed first
    (claim,) = h.world.of(fx.PublishMember)
    (control,) = h.world.of(fx.ReadControl)
    assert claim.create
    h.send(
        ev.ControlRead(request=control.request, outcome=Outcome.OK),
        ev.MemberPublished(request=claim.request, outcome=Outcome.OK, session_id=SESSION),
    )
    (create,) = h.world.of(fx.CreateNode)
    prefix = f"{CONFIG.election_path}/r1-1-{SESSION:016x}-"
    assert create == fx.CreateNode(request=create.request, path=prefix, replica="r1")
    h.send(ev.NodeCreated(request=create.request, outcome=Outcome.OK, token=TOKEN,
                          path=f"{prefix}0000000001", asked_at=h.now()))  # fmt: skip
    (read,) = h.world.of(fx.ReadQueue)
    names = (f"r1-1-{SESSION:016x}-0000000001",)
    h.send(ev.QueueRead(request=read.request, outcome=Outcome.OK, names=names, asked_at=h.now()))
    assert h.state == "Attempter"  # at the head: the priorities are read first
    (members,) = h.world.of(fx.ReadMembers)
    h.send(ev.MembersRead(request=members.request, outcome=Outcome.OK, replicas=("r1",),
                          priorities=(1,)))  # fmt: skip
    assert h.state == "Leader"
    assert h.loop.state.token == TOKEN
    assert write_seqs(h.world.effects) == [1]

    h.world.auto = True  # from here on the disk answers every write
    first = h.world.of(fx.WriteLeaderFile)[0]
    h.send(ev.FileWritten(request=first.request, outcome=Outcome.OK, name="x"))
    write_times = [r.at for r in h.journal if write_seqs(r.effects) == [1]]
    for expected_seq in (2, 3, 4):
        early = h.advance(CONFIG.leader_timeout - 0.01)
        assert not write_seqs(e for r in early for e in r.effects)
        records = h.advance(0.01)
        assert write_seqs(e for r in records for e in r.effects) == [expected_seq]
        write_times.append(records[0].at)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(write_times)]
    assert gaps == [CONFIG.leader_timeout] * 3
    prunes = h.world.of(fx.PruneFiles)
    assert len(prunes) == 4  # one before every file, making room for it
    assert {(p.keep, p.token) for p in prunes} == {(CONFIG.storage_capacity - 1, TOKEN)}
    assert h.state == "Leader"
