"""Failover repairs what failed and goes back to Init only once it works again: it does
not bounce through Init on every back-off tick while ZooKeeper (or file-dir, or the
election path) stays broken."""

from __future__ import annotations

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.state import Repair, StateName
from tests.unit.core_script import SESSION, Script, to_attempter, to_failover, to_leader

INIT, ATTEMPTER, FAILOVER = StateName.INIT, StateName.ATTEMPTER, StateName.FAILOVER


def _started() -> Script:
    s = Script()
    s.send(ev.Started())
    return s


# --- the session ----------------------------------------------------------------------


def test_failover_stays_put_while_the_session_is_down_and_reconnects_each_tick() -> None:
    s = to_failover()
    assert s.state.repair == (Repair.SESSION,)
    delays = []
    for _ in range(8):
        retry = s.last_timer("retry")
        delays.append(retry.delay)
        s.fire(retry)
        assert s.name is FAILOVER  # no state change, tick after tick
        s.one(fx.Connect)  # asked again: after AUTH_FAILED kazoo needs a new start
        s.none(fx.CheckFileDir)  # only what is broken is asked for
        s.none(fx.EnsurePath)
        s.timer("retry")
        s.answer(s.one(fx.Connect), ev.ConnectResult, outcome=Outcome.UNKNOWN)
        assert s.name is FAILOVER and s.effects == ()  # still down: nothing happens
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0, 3.0]


def test_failover_goes_to_init_at_once_when_the_session_comes_back() -> None:
    s = to_failover()
    s.fire(s.timer("retry"))
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is INIT and s.state.cause == "session connected"
    assert s.state.repair == ()
    s.one(fx.EnsurePath)  # Init runs its checks again
    s.one(fx.CheckFileDir)


def test_a_session_lost_again_in_failover_is_still_waited_for() -> None:
    s = to_failover()
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is INIT
    s.send(ev.SessionLost())
    assert s.name is FAILOVER and s.state.repair == (Repair.SESSION,)
    s.send(ev.SessionSuspended())  # a duplicate changes nothing
    assert s.state.repair == (Repair.SESSION,)


def test_a_connect_answered_ok_while_connected_repairs_the_session() -> None:
    """Init's Connect timed out although the session had connected: the tick finds it
    up and Init follows, rather than waiting for a SessionConnected that came already."""
    s = _started()
    connect = s.one(fx.Connect)
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(connect, ev.ConnectResult, outcome=Outcome.UNKNOWN)
    assert s.name is FAILOVER and s.state.repair == (Repair.SESSION,)
    s.fire(s.timer("retry"))
    assert s.name is INIT and s.state.cause == "retrying after back-off"


# --- file-dir and the election path ---------------------------------------------------


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN])
def test_a_broken_file_dir_is_checked_again_from_failover_until_it_passes(
    outcome: Outcome,
) -> None:
    s = _started()
    check = s.one(fx.CheckFileDir)
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(check, ev.FileDirChecked, outcome=Outcome.FAILED, reason="EROFS")
    assert s.name is FAILOVER and s.state.repair == (Repair.FILE_DIR,)
    for _ in range(4):
        s.fire(s.last_timer("retry"))
        assert s.name is FAILOVER
        s.none(fx.Connect)  # the session is fine
        check = s.one(fx.CheckFileDir)
        s.answer(check, ev.FileDirChecked, outcome=outcome, reason="EROFS")
        assert s.name is FAILOVER and s.effects == ()
    s.fire(s.last_timer("retry"))
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    assert s.name is INIT and s.state.cause == "file-dir repaired"
    s.one(fx.CheckFileDir)  # Init checks everything again


def test_a_file_dir_check_still_in_flight_is_not_asked_for_twice() -> None:
    s = _started()
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.FAILED)
    s.fire(s.timer("retry"))
    s.one(fx.CheckFileDir)  # a hung disk: no answer yet
    s.fire(s.timer("retry"))
    s.none(fx.CheckFileDir)
    s.timer("retry")


def test_a_broken_election_path_is_ensured_again_from_failover() -> None:
    s = _started()
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.FAILED, reason="NoAuth")
    assert s.name is FAILOVER and s.state.repair == (Repair.PATH,)
    s.fire(s.timer("retry"))
    ensure = s.one(fx.EnsurePath)
    s.answer(ensure, ev.PathEnsured, outcome=Outcome.FAILED, reason="NoAuth")
    assert s.name is FAILOVER
    s.fire(s.last_timer("retry"))
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is INIT and s.state.cause == "election path repaired"


def test_the_path_is_ensured_only_once_connected() -> None:
    s = _started()
    s.fire(s.timer("init-deadline"))  # no session, nothing checked
    assert s.state.repair == (Repair.SESSION, Repair.FILE_DIR, Repair.PATH)
    s.fire(s.timer("retry"))
    s.one(fx.Connect)
    s.one(fx.CheckFileDir)
    s.none(fx.EnsurePath)  # cannot while the session is down
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is FAILOVER
    s.one(fx.EnsurePath)  # at once, not at the next tick
    s.answer(s.last(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    assert s.name is FAILOVER
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is INIT


@pytest.mark.parametrize(
    ("answered", "unmet"),
    [
        ((), (Repair.SESSION, Repair.FILE_DIR, Repair.PATH)),
        (("session",), (Repair.FILE_DIR, Repair.PATH)),
        (("session", "file-dir"), (Repair.PATH,)),
        (("session", "path"), (Repair.FILE_DIR,)),
    ],
)
def test_the_init_deadline_waits_for_the_checks_that_had_not_passed(
    answered: tuple[str, ...], unmet: tuple[Repair, ...]
) -> None:
    s = _started()
    check = s.one(fx.CheckFileDir)
    if "session" in answered:
        s.send(ev.SessionConnected(session_id=SESSION))
    if "file-dir" in answered:
        s.answer(check, ev.FileDirChecked, outcome=Outcome.OK)
    if "path" in answered:
        s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    s.fire(s.last_timer("init-deadline"))
    assert s.name is FAILOVER and s.state.cause == "init deadline passed"
    assert s.state.repair == unmet


def test_a_late_answer_of_init_does_not_repair_failover() -> None:
    s = _started()
    check = s.one(fx.CheckFileDir)
    s.fire(s.timer("init-deadline"))
    s.answer(check, ev.FileDirChecked, outcome=Outcome.OK)  # asked by Init: stale
    assert s.name is FAILOVER and Repair.FILE_DIR in s.state.repair


# --- a failure of the work ------------------------------------------------------------


def test_a_failed_write_waits_out_the_back_off_then_goes_to_init() -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.FAILED, reason="EIO")
    assert s.name is FAILOVER and s.state.repair == (Repair.BACKOFF,)
    s.send(ev.SessionConnected(session_id=SESSION))  # nothing to do with it
    assert s.name is FAILOVER
    s.fire(s.last_timer("retry"))
    assert s.name is INIT and s.state.cause == "retrying after back-off"


def test_zookeeper_lost_during_the_back_off_is_repaired_too() -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.FAILED, reason="EIO")
    s.send(ev.SessionSuspended())
    assert s.state.repair == (Repair.BACKOFF, Repair.SESSION)
    s.fire(s.last_timer("retry"))
    after_tick: tuple[Repair, ...] = s.state.repair  # (mypy would keep the narrowing)
    assert s.name is FAILOVER and after_tick == (Repair.SESSION,)
    s.one(fx.Connect)
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is INIT


def test_a_session_back_before_the_back_off_ends_still_waits_for_it() -> None:
    s = to_leader()
    s.answer(s.one(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.FAILED, newer_token=1)
    s.send(ev.SessionSuspended())
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is FAILOVER and s.state.repair == (Repair.BACKOFF,)
    s.fire(s.last_timer("retry"))
    assert s.name is INIT


def test_reaching_attempter_after_a_repair_resets_the_back_off() -> None:
    s = to_failover()
    for _ in range(3):
        s.fire(s.last_timer("retry"))
    s.send(ev.SessionConnected(session_id=SESSION))
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is ATTEMPTER
    s.send(ev.SessionLost())
    assert s.timer("retry").delay == 0.2


def test_a_stop_in_failover_needs_no_repair() -> None:
    s = to_attempter()
    s.send(ev.SessionSuspended())
    s.send(ev.StopRequested(signal="SIGTERM"))
    assert s.name is StateName.STOPPING and s.state.repair == ()
