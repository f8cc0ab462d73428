"""The state diagram, scenario by scenario: scripted events in, states and effects out."""

from __future__ import annotations

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import CreateFailure, Outcome
from election.core.state import Candidate, Place, StateName
from tests.unit.core_script import (
    SESSION,
    TOKEN,
    Script,
    node_name,
    node_path,
    queue_read,
    settle,
    to_attempter,
    to_failover,
    to_leader,
)

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


# --- Attempter: the queue -------------------------------------------------------------

OURS = node_name(sequence=3)
A, B = node_name("ra", 0x2002, 1), node_name("rb", 0x3003, 2)


def _queued(s: Script, *names: str, token: int = TOKEN) -> None:
    """Our create answered (node `OURS`, czxid `token`) and the queue read as `names`."""
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=token,
             path=node_path(OURS))  # fmt: skip
    queue_read(s, *names)


def test_attempter_queues_once_with_a_node_named_after_its_replica_priority_and_session() -> None:
    s = to_attempter()
    create = s.one(fx.CreateNode)
    assert create.path == f"/election/leader/r1-1-{SESSION:016x}-" and create.replica == "r1"
    assert s.last_timer("attempt").delay == 10.0
    s.fire(s.last_timer("attempt"))
    s.none(fx.CreateNode)  # one at a time: never two nodes of one session
    s.none(fx.ReadQueue)


def test_a_new_node_is_watched_and_its_place_read() -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=TOKEN,
             path=node_path(OURS))  # fmt: skip
    assert s.one(fx.ReadNode).path == node_path(OURS)  # deleted under us? we would hear
    assert s.one(fx.ReadQueue).path == "/election/leader"
    assert s.state.place.name == OURS and s.state.place.token == TOKEN


def test_attempter_leads_when_its_node_is_the_lowest() -> None:
    s = to_attempter()
    _queued(s, OURS, node_name("rz", 0x9, 7))
    settle(s)  # the priorities read at the head: ours alone
    assert s.name is LEADER and s.state.token == TOKEN
    assert s.state.cause == "our node leads the queue"
    write = s.one(fx.WriteLeaderFile)
    assert (write.token, write.seq, write.replica) == (TOKEN, 1, "r1")
    assert s.one(fx.MarkNode).path == node_path(OURS)  # wakes the one behind us, off the path
    assert s.one(fx.ReadNode).path == node_path(OURS)  # watches its own node
    s.one(fx.CancelTimer)  # the attempt timer


def test_a_candidate_watches_only_the_node_just_below_its_own() -> None:
    s = to_attempter()
    _queued(s, B, OURS, A)  # listed in any order: ordered by sequence number
    assert s.name is ATTEMPTER
    assert s.one(fx.ReadNode).path == node_path(B)
    assert s.state.phase == Candidate(below=2, predecessor=B, ahead=(("ra", 1), ("rb", 1)))


def test_when_the_only_node_below_goes_the_next_in_line_leads_without_a_request() -> None:
    s = to_attempter()
    _queued(s, A, OURS)
    s.answer(s.one(fx.ReadNode), ev.NodeRead, outcome=Outcome.OK, exists=True, path=node_path(A))
    settle(s)  # the next in line reads the priorities before its turn
    effects = s.send(ev.NodeWatchFired(path=node_path(A), kind="DELETED", answered_at=0.0))
    assert s.name is LEADER and s.state.token == TOKEN
    assert s.state.cause == "the node below ours went: we are next"
    # Leading asked ZooKeeper nothing first: every request here comes after it.
    assert not [e for e in effects if isinstance(e, fx.ReadQueue)]


def test_when_a_node_below_goes_with_others_below_it_one_read_decides() -> None:
    s = to_attempter()
    _queued(s, A, B, OURS)
    s.send(ev.NodeWatchFired(path=node_path(B), kind="DELETED"))
    assert s.name is ATTEMPTER
    queue_read(s, A, OURS)  # A is still there: watch it now
    assert s.one(fx.ReadNode).path == node_path(A)
    settle(s)  # next in line: the priorities read
    s.send(ev.NodeWatchFired(path=node_path(A), kind="DELETED"))
    assert s.name is LEADER


def test_a_node_below_already_gone_when_its_watch_was_set_counts_as_gone() -> None:
    s = to_attempter()
    _queued(s, A, OURS)
    read = s.one(fx.ReadNode)
    settle(s)  # next in line: the priorities read
    s.answer(read, ev.NodeRead, outcome=Outcome.OK, exists=False, path=node_path(A))
    assert s.name is LEADER


def test_the_watch_of_a_node_no_longer_below_ours_is_ignored() -> None:
    s = to_attempter()
    _queued(s, A, B, OURS)
    s.send(ev.NodeWatchFired(path=node_path(B), kind="DELETED"))
    queue_read(s, A, OURS)
    assert s.send(ev.NodeWatchFired(path=node_path(B), kind="DELETED")) == ()


def test_news_of_a_deletion_that_waited_long_for_us_is_checked_with_a_read() -> None:
    s = to_attempter()
    _queued(s, A, OURS)
    late = s.state.config.answers_fresh_for + 1.0
    s.send(ev.NodeWatchFired(path=node_path(A), kind="DELETED", answered_at=10.0, at=10.0 + late))
    assert s.name is ATTEMPTER
    s.one(fx.ReadQueue)


def test_a_queue_read_that_waited_long_for_us_is_made_again() -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=TOKEN,
             path=node_path(OURS))  # fmt: skip
    late = s.state.config.answers_fresh_for + 1.0
    s.send(ev.QueueRead(request=s.one(fx.ReadQueue).request, outcome=Outcome.OK, names=(OURS,),
                        answered_at=20.0, at=20.0 + late))  # fmt: skip
    assert s.name is ATTEMPTER
    queue_read(s, OURS)
    settle(s)  # the priorities read at the head
    assert s.name is LEADER


def test_the_leader_marking_its_node_tells_the_one_behind_to_read_the_queue() -> None:
    s = to_attempter()
    _queued(s, A, B, OURS)
    s.answer(s.one(fx.ReadNode), ev.NodeRead, outcome=Outcome.OK, exists=True, path=node_path(B))
    s.send(ev.NodeWatchFired(path=node_path(B), kind="CHANGED"))  # B took office
    queue_read(s, B, OURS)  # A went meanwhile: we are next in line now
    assert s.one(fx.ReadNode).path == node_path(B)  # the watch, again
    assert s.state.phase == Candidate(below=1, predecessor=B, ahead=(("rb", 1),), left=("ra",))


@pytest.mark.parametrize(
    "answer",
    [
        {"outcome": Outcome.UNKNOWN},
        {"outcome": Outcome.FAILED, "failure": CreateFailure.CONNECTION},
    ],
)
def test_a_create_in_doubt_is_looked_for_by_our_prefix_before_any_other(
    answer: dict[str, object],
) -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, **answer)
    s.none(fx.CreateNode)
    assert s.state.place.unsure
    queue_read(s, A, OURS)  # it was made: ours, found by its name
    assert {e.path for e in s.effects if isinstance(e, fx.ReadNode)} == {
        node_path(OURS),  # its czxid, our token
        node_path(A),  # the one below
    }
    s.none(fx.CreateNode)
    own = next(e for e in s.effects if isinstance(e, fx.ReadNode) and e.path == node_path(OURS))
    s.answer(own, ev.NodeRead, outcome=Outcome.OK, exists=True, owner=SESSION, token=99,
             path=node_path(OURS))  # fmt: skip
    settle(s)  # next in line: the priorities read
    s.send(ev.NodeWatchFired(path=node_path(A), kind="DELETED"))
    assert s.name is LEADER and s.state.token == 99


def test_a_create_in_doubt_that_did_not_happen_is_made_once_more() -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.UNKNOWN)
    queue_read(s, A)
    s.one(fx.CreateNode)
    assert not s.state.place.unsure


def test_a_node_of_our_own_earlier_session_is_not_ours() -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.UNKNOWN)
    queue_read(s, node_name(session=SESSION - 1))
    s.one(fx.CreateNode)


def test_our_node_deleted_under_us_is_made_again_at_the_back() -> None:
    s = to_attempter()
    _queued(s, A, OURS)
    s.send(ev.NodeWatchFired(path=node_path(OURS), kind="DELETED"))
    s.one(fx.CreateNode)
    assert s.state.phase == Candidate()


def test_missing_parent_is_ensured_then_create_retried() -> None:
    s = to_attempter()
    s.answer(
        s.one(fx.CreateNode),
        ev.NodeCreated,
        outcome=Outcome.FAILED,
        failure=CreateFailure.NO_PARENT,
    )
    assert s.one(fx.EnsurePath).path == "/election/leader"
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.one(fx.CreateNode)


def test_a_single_node_leader_of_an_older_release_is_waited_out() -> None:
    """An upgrade: the election path is a leader's ephemeral node of the single-node
    protocol. No child can be made under it; we watch it, and queue once it is gone."""
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.FAILED,
             failure=CreateFailure.PARENT_EPHEMERAL)  # fmt: skip
    read = s.one(fx.ReadNode)
    assert read.path == "/election/leader"
    s.answer(read, ev.NodeRead, outcome=Outcome.OK, exists=True, owner=0x2002, token=5,
             path="/election/leader")  # fmt: skip
    assert s.effects == ()
    s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED"))
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.one(fx.CreateNode)


def test_a_queue_whose_path_is_gone_makes_it_again() -> None:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=TOKEN,
             path=node_path(OURS))  # fmt: skip
    s.answer(s.one(fx.ReadQueue), ev.QueueRead, outcome=Outcome.OK, exists=False)
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.one(fx.CreateNode)


def test_the_queue_is_read_again_every_attempter_timeout_without_a_second_watch() -> None:
    s = to_attempter()
    _queued(s, A, OURS)
    s.answer(s.one(fx.ReadNode), ev.NodeRead, outcome=Outcome.OK, exists=True, path=node_path(A))
    s.fire(s.last_timer("attempt"))
    s.timer("attempt")  # and again after the next attempter-timeout
    queue_read(s, A, OURS)
    s.none(fx.ReadNode)  # the watch on A is set already


def test_a_create_answered_while_away_is_ours_when_we_come_back() -> None:
    s = to_attempter()
    create = s.one(fx.CreateNode)
    s.send(ev.SessionSuspended())
    s.answer(create, ev.NodeCreated, outcome=Outcome.OK, token=TOKEN, path=node_path(OURS))
    assert s.name is FAILOVER and s.state.place.name == OURS
    s.send(ev.SessionConnected(session_id=SESSION))  # the same session: the node lives
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.none(fx.CreateNode)
    queue_read(s, OURS)
    settle(s)  # the controls read again on reconnecting, the priorities at the head
    assert s.name is LEADER and s.state.token == TOKEN


def test_a_new_session_forgets_the_node_of_the_old_one() -> None:
    s = to_attempter()
    _queued(s, A, OURS)
    settle(s)  # the member node shows Attempter; the priorities read (next in line)
    s.send(ev.SessionLost())
    assert s.state.place == Place()
    s.send(ev.SessionConnected(session_id=SESSION + 1))
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.none(fx.CreateNode)  # the new session claims our member node first
    settle(s)
    assert s.one(fx.CreateNode).path.endswith(f"-{SESSION + 1:016x}-")


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
    assert s.send(ev.NodeWatchFired(path=node_path(A), kind="DELETED")) == ()  # not ours
    s.send(ev.NodeWatchFired(path=s.own_path, kind="DELETED"))
    assert s.name is ATTEMPTER and s.state.cause == "queue node deleted"
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
    s.none(fx.CreateNode)  # the same session: our node lives on
    mark = len(s.history)
    queue_read(s, s.state.place.name)
    settle(s)  # the controls read again on reconnecting, the priorities at the head
    assert s.name is LEADER and s.state.token == TOKEN
    (write,) = s.every(fx.WriteLeaderFile, since=mark)
    assert write.seq == 2


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


def test_stopping_leader_lets_its_node_go_once_its_file_landed_then_exits_zero() -> None:
    s = to_leader()
    s.send(ev.StopRequested(signal="SIGTERM"))
    assert s.name is STOPPING and s.state.cause == "SIGTERM received"
    s.none(fx.WriteLeaderFile)
    # The file in flight lands first: nothing of this term after the next one began.
    s.none(fx.CloseSession)
    s.answer(s.last(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    # Our node first (the next in line hears of a delete as soon as it commits), then
    # the session: the close waits for the delete's answer.
    release = s.one(fx.ReleaseNode)
    assert (release.path, release.token) == (s.own_path, TOKEN)
    s.none(fx.CloseSession)
    s.answer(release, ev.NodeReleased, outcome=Outcome.OK)
    close = s.one(fx.CloseSession)
    s.answer(close, ev.SessionClosed, outcome=Outcome.OK)
    assert s.one(fx.Exit) == fx.Exit(code=0, reason="stopped")
    assert s.state.exited
    assert s.send(ev.NodeWatchFired(path="/election/leader", kind="DELETED")) == ()


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN])
def test_a_delete_that_fails_in_stopping_leaves_the_node_to_the_close(outcome: Outcome) -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    s.send(ev.StopRequested(signal="SIGTERM"))
    s.answer(s.one(fx.ReleaseNode), ev.NodeReleased, outcome=outcome, reason="ConnectionLoss")
    s.one(fx.CloseSession)  # the close takes the node all the same: once, not again
    s.none(fx.ReleaseNode)


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


def test_a_stale_found_ours_is_looked_at_again_and_a_stale_confirm_writes_nothing() -> None:
    s = to_leader()
    late = s.state.config.answers_fresh_for + 1.0
    s.fire(s.last_timer("write"))
    confirm = s.last(fx.ReadNode)
    s.send(ev.NodeRead(request=confirm.request, outcome=Outcome.OK, exists=True, owner=SESSION,
                       token=TOKEN, answered_at=50.0, at=50.0 + late))  # fmt: skip
    assert s.name is LEADER
    s.none(fx.WriteLeaderFile)  # an old confirmation confirms nothing
