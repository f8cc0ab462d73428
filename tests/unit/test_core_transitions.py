"""The state diagram, scenario by scenario: scripted events in, states and effects out."""

from __future__ import annotations

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import CreateFailure, Outcome
from election.core.state import StateName
from tests.unit.core_script import SESSION, TOKEN, Script, to_attempter, to_failover, to_leader

INIT, ATTEMPTER, LEADER = StateName.INIT, StateName.ATTEMPTER, StateName.LEADER
FAILOVER, STOPPING = StateName.FAILOVER, StateName.STOPPING

# --- Init -----------------------------------------------------------------------------


def test_started_connects_checks_file_dir_and_arms_the_init_deadline() -> None:
    s = Script()
    s.send(ev.Started())
    assert s.name is INIT
    s.one(fx.Connect)
    s.one(fx.CheckFileDir)
    assert s.timer("init-deadline").delay == 5.0


@pytest.mark.parametrize("order", ["dir-first", "session-first"])
def test_init_reaches_attempter_once_every_check_passed(order: str) -> None:
    s = Script()
    s.send(ev.Started())
    check = s.one(fx.CheckFileDir)
    if order == "dir-first":
        s.answer(check, ev.FileDirChecked, outcome=Outcome.OK)
        s.send(ev.SessionConnected(session_id=SESSION))
        ensure = s.one(fx.EnsurePath)
    else:
        s.send(ev.SessionConnected(session_id=SESSION))
        ensure = s.one(fx.EnsurePath)
        s.answer(check, ev.FileDirChecked, outcome=Outcome.OK)
    assert s.name is INIT
    s.answer(ensure, ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is ATTEMPTER
    assert s.state.cause == "checks passed"


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN])
def test_init_fails_over_when_file_dir_check_fails(outcome: Outcome) -> None:
    s = Script()
    s.send(ev.Started())
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=outcome, reason="EACCES")
    assert s.name is FAILOVER
    assert "file-dir" in s.state.cause and "EACCES" in s.state.cause


def test_init_fails_over_when_connect_fails_or_deadline_passes() -> None:
    s = Script()
    s.send(ev.Started())
    s.answer(s.one(fx.Connect), ev.ConnectResult, outcome=Outcome.UNKNOWN, reason="no server")
    assert s.name is FAILOVER

    s = Script()
    s.send(ev.Started())
    s.fire(s.timer("init-deadline"))
    assert s.name is FAILOVER and s.state.cause == "init deadline passed"


def test_init_fails_over_on_session_suspended() -> None:
    s = Script()
    s.send(ev.Started())
    s.send(ev.SessionConnected(session_id=SESSION))
    s.send(ev.SessionSuspended())
    assert s.name is FAILOVER


# --- Attempter ------------------------------------------------------------------------


def test_attempter_creates_at_once_and_again_every_attempter_timeout() -> None:
    s = to_attempter()
    create = s.one(fx.CreateNode)
    assert create.path == "/election/leader" and create.replica == "r1"
    attempt = s.timer("attempt")
    assert attempt.delay == 10.0
    s.answer(create, ev.NodeCreated, outcome=Outcome.FAILED, failure=CreateFailure.CONNECTION)
    assert s.name is ATTEMPTER
    s.fire(attempt)
    s.one(fx.CreateNode)
    s.timer("attempt")


def test_attempter_does_not_double_a_create_in_flight() -> None:
    s = to_attempter()
    s.fire(s.timer("attempt"))
    s.none(fx.CreateNode)
    s.timer("attempt")


def test_attempter_becomes_leader_when_its_create_succeeds() -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=77)
    assert s.name is LEADER
    assert s.state.token == 77
    write = s.one(fx.WriteLeaderFile)
    assert (write.token, write.seq, write.replica) == (77, 1, "r1")
    s.one(fx.ReadNode)  # watches its own node
    s.one(fx.CancelTimer)  # the attempt timer


def test_node_held_by_another_is_watched_and_its_deletion_triggers_a_create_at_once() -> None:
    s = to_attempter()
    s.answer(
        s.one(fx.CreateNode),
        ev.NodeCreated,
        outcome=Outcome.FAILED,
        failure=CreateFailure.NODE_EXISTS,
    )
    read = s.one(fx.ReadNode)
    s.answer(read, ev.NodeRead, outcome=Outcome.OK, exists=True, owner=0x2002, token=5)
    assert s.name is ATTEMPTER
    s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    s.one(fx.CreateNode)  # fast hand-over: not waiting for the attempt timer


def test_unanswered_create_that_made_our_node_leads_to_leader() -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.UNKNOWN)
    read = s.one(fx.ReadNode)
    s.answer(read, ev.NodeRead, outcome=Outcome.OK, exists=True, owner=SESSION, token=99)
    assert s.name is LEADER and s.state.token == 99


def test_a_node_left_by_our_own_earlier_session_is_not_ours() -> None:
    s = to_attempter()
    s.answer(
        s.one(fx.CreateNode),
        ev.NodeCreated,
        outcome=Outcome.FAILED,
        failure=CreateFailure.NODE_EXISTS,
    )
    earlier_session = SESSION - 1
    s.answer(
        s.one(fx.ReadNode), ev.NodeRead, outcome=Outcome.OK, exists=True, owner=earlier_session
    )
    assert s.name is ATTEMPTER


def test_missing_parent_is_ensured_then_create_retried() -> None:
    s = to_attempter()
    s.answer(
        s.one(fx.CreateNode),
        ev.NodeCreated,
        outcome=Outcome.FAILED,
        failure=CreateFailure.NO_PARENT,
    )
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.one(fx.CreateNode)


@pytest.mark.parametrize("event", [ev.SessionSuspended(), ev.SessionLost()])
def test_attempter_fails_over_when_zookeeper_is_lost(event: ev.Event) -> None:
    s = to_attempter()
    s.send(event)
    assert s.name is FAILOVER


# --- Leader ---------------------------------------------------------------------------


def test_leader_prunes_to_make_room_then_writes_every_leader_timeout() -> None:
    s = to_leader()
    prune, first = s.one(fx.PruneFiles), s.one(fx.WriteLeaderFile)
    # Prune before the write, to capacity - 1: never more than capacity files on disk.
    assert s.effects.index(prune) < s.effects.index(first)
    assert (prune.keep, prune.token) == (2, TOKEN)
    write_timer = s.timer("write")
    assert write_timer.delay == 1.0
    s.answer(prune, ev.FilesPruned, outcome=Outcome.OK, removed=1)
    s.answer(first, ev.FileWritten, outcome=Outcome.OK, name="f1")
    assert s.effects == ()
    _answer_ours(s, s.last(fx.ReadNode))  # the watch on our own node
    s.none(fx.WriteLeaderFile)
    s.fire(write_timer)
    s.timer("write")
    _answer_ours(s, s.one(fx.ReadNode))  # the confirm before the next file
    assert s.one(fx.WriteLeaderFile).seq == 2
    s.one(fx.PruneFiles)


def _answer_ours(s: Script, read: fx.ReadNode) -> None:
    s.answer(read, ev.NodeRead, outcome=Outcome.OK, exists=True, owner=SESSION, token=TOKEN)


def test_leader_confirms_with_zookeeper_before_each_timed_write() -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    s.fire(s.last_timer("write"))
    s.none(fx.WriteLeaderFile)  # not before ZooKeeper says the node is still ours
    s.one(fx.ReadNode)


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN])
def test_a_write_that_zookeeper_cannot_confirm_is_skipped(outcome: Outcome) -> None:
    """A replica resumed from a long pause: its timer fires before it hears of the
    expiry; the confirm fails on the dead session, and no file is written."""
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    s.fire(s.last_timer("write"))
    s.answer(s.one(fx.ReadNode), ev.NodeRead, outcome=outcome, reason="SessionExpiredError")
    s.none(fx.WriteLeaderFile)
    assert s.name is LEADER and not s.state.write_due


def test_a_confirm_that_finds_another_owner_steps_down_without_writing() -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    s.fire(s.last_timer("write"))
    s.answer(s.one(fx.ReadNode), ev.NodeRead, outcome=Outcome.OK, exists=True, owner=7, token=9)
    s.none(fx.WriteLeaderFile)
    assert s.name is ATTEMPTER


def test_leader_skips_a_tick_while_a_write_is_still_in_flight() -> None:
    s = to_leader()
    s.fire(s.timer("write"))
    s.none(fx.WriteLeaderFile)
    s.timer("write")


def test_leader_steps_down_on_suspended_and_stops_writing_first() -> None:
    s = to_leader()
    write_timer = s.timer("write")
    effects = s.send(ev.SessionSuspended())
    assert s.name is FAILOVER
    assert s.state.token is None
    assert effects[0] == fx.CancelTimer(name="write", id=write_timer.id)
    assert not [e for e in effects if isinstance(e, fx.WriteLeaderFile | fx.ReleaseNode)]
    # The old write timer firing late is stale: no write.
    s.fire(write_timer)
    assert not [e for e in s.effects if isinstance(e, fx.WriteLeaderFile)]


def test_superseded_leader_writes_nothing_more_and_releases_its_node() -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.FAILED, newer_token=9000)
    assert s.name is FAILOVER
    assert "superseded by token 9000" in s.state.cause
    release = s.one(fx.ReleaseNode)
    assert release.token == TOKEN


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN])
def test_leader_that_cannot_write_releases_leadership(outcome: Outcome) -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=outcome, reason="ENOSPC")
    assert s.name is FAILOVER
    s.one(fx.ReleaseNode)


def test_leader_whose_node_is_deleted_goes_back_to_attempter() -> None:
    s = to_leader()
    s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    assert s.name is ATTEMPTER
    s.one(fx.CreateNode)


def test_leader_whose_node_is_not_ours_goes_back_to_attempter() -> None:
    s = to_leader()
    s.answer(s.one(fx.ReadNode), ev.NodeRead, outcome=Outcome.OK, exists=True, owner=1, token=1)
    assert s.name is ATTEMPTER


def test_same_term_resumed_continues_the_file_sequence() -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    s.send(ev.SessionSuspended())
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is INIT
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is ATTEMPTER
    s.answer(
        s.one(fx.CreateNode),
        ev.NodeCreated,
        outcome=Outcome.FAILED,
        failure=CreateFailure.NODE_EXISTS,
    )
    s.answer(
        s.one(fx.ReadNode), ev.NodeRead, outcome=Outcome.OK, exists=True, owner=SESSION, token=TOKEN
    )
    assert s.name is LEADER
    assert s.one(fx.WriteLeaderFile).seq == 2


# --- Failover (what it repairs, and when it goes back to Init: test_core_failover.py) --


def test_failover_returns_to_init_when_the_session_comes_back() -> None:
    s = to_failover()
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is INIT
    s.one(fx.EnsurePath)  # connected already: no new Connect
    s.none(fx.Connect)


def test_reaching_attempter_resets_the_back_off() -> None:
    s = to_failover()
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is ATTEMPTER
    s.send(ev.SessionSuspended())
    assert s.timer("retry").delay == 0.2


# --- Stopping -------------------------------------------------------------------------


def test_stopping_leader_closes_its_session_once_its_file_landed_then_exits_zero() -> None:
    s = to_leader()
    s.send(ev.StopRequested(signal="SIGTERM"))
    assert s.name is STOPPING and s.state.cause == "SIGTERM received"
    s.none(fx.WriteLeaderFile)
    # The file in flight lands first: nothing of this term after the next one began.
    s.none(fx.CloseSession)
    s.answer(s.last(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    # Closing the session deletes our ephemeral node on the server in the same request:
    # one round trip, where an explicit delete would take two (a check, then the delete).
    close = s.one(fx.CloseSession)
    s.none(fx.ReleaseNode)
    s.answer(close, ev.SessionClosed, outcome=Outcome.OK)
    assert s.one(fx.Exit) == fx.Exit(code=0, reason="stopped")
    assert s.state.exited
    assert s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED")) == ()


def test_stopping_from_failover_with_zookeeper_down_exits_zero_at_the_deadline() -> None:
    s = to_failover()
    s.send(ev.StopRequested(signal="SIGINT"))
    s.none(fx.ReleaseNode)
    s.one(fx.CloseSession)
    deadline = s.timer("stop-deadline")
    assert deadline.delay == 2.0
    s.fire(deadline)
    assert s.one(fx.Exit) == fx.Exit(code=0, reason="stop deadline passed")


def test_a_second_signal_forces_exit() -> None:
    s = to_attempter()
    s.send(ev.StopRequested(signal="SIGTERM"))
    s.send(ev.StopRequested(signal="SIGINT"))
    exit_ = s.one(fx.Exit)
    assert exit_.code != 0 and "forced" in exit_.reason


def test_stop_cancels_every_timer_of_the_state_it_leaves() -> None:
    s = to_leader()
    live = dict(s.state.timers)
    s.send(ev.StopRequested())
    cancelled = {(e.name, e.id) for e in s.effects if isinstance(e, fx.CancelTimer)}
    assert cancelled == {(str(name), tid) for name, tid in live.items()}


# --- answers that waited too long for a frozen process --------------------------------


def test_a_create_answer_that_waited_too_long_is_looked_at_again_before_leading() -> None:
    s = to_attempter()
    create = s.one(fx.CreateNode)
    fresh_for = s.state.config.answers_fresh_for
    # Answered at 100.0; the loop, frozen meanwhile, takes it much later.
    s.send(ev.NodeCreated(request=create.request, outcome=Outcome.OK, token=TOKEN,
                          answered_at=100.0, at=100.0 + fresh_for + 1.0))  # fmt: skip
    assert s.name is ATTEMPTER
    look = s.one(fx.ReadNode)
    # The fresh look finds it ours still (the session lived): now it leads.
    s.send(ev.NodeRead(request=look.request, outcome=Outcome.OK, exists=True, owner=SESSION,
                       token=TOKEN, answered_at=200.0, at=200.001))  # fmt: skip
    assert s.name is LEADER


def test_a_stale_found_ours_is_looked_at_again_and_a_stale_confirm_writes_nothing() -> None:
    s = to_leader()
    late = s.state.config.answers_fresh_for + 1.0
    s.fire(s.last_timer("write"))
    confirm = s.last(fx.ReadNode)
    s.send(ev.NodeRead(request=confirm.request, outcome=Outcome.OK, exists=True, owner=SESSION,
                       token=TOKEN, answered_at=50.0, at=50.0 + late))  # fmt: skip
    assert s.name is LEADER
    s.none(fx.WriteLeaderFile)  # an old confirmation confirms nothing
