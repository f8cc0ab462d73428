"""The member node in the pure core: published through effects, answered by events, one
at a time, the latest state winning; nothing while disconnected; the first publish of a
session claims the replica id; Stopping shown once, as the last word before the close."""

from __future__ import annotations

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.state import Shutdown, StateName, initial_state
from tests.unit.core_script import CONFIG, SESSION, TOKEN, Script, join, lead, to_attempter

MEMBER_CONFIG = CONFIG
PATH = "/election/members/r1"
LEADER, FAILOVER = StateName.LEADER, StateName.FAILOVER


def member_script() -> Script:
    return Script(initial_state(MEMBER_CONFIG))


def publishes(s: Script) -> list[fx.PublishMember]:
    return [e for e in s.effects if isinstance(e, fx.PublishMember)]


def test_nothing_is_published_before_the_session_and_then_init_at_once() -> None:
    s = member_script()
    s.send(ev.Started(at=100.0))
    assert publishes(s) == []
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    (publish,) = publishes(s)
    assert publish == fx.PublishMember(
        request=publish.request, path=PATH, state="Init", since=100.0, token=None, create=True
    )


def test_a_state_change_while_a_publish_is_in_flight_waits_and_the_latest_wins() -> None:
    s = member_script()
    s.send(ev.Started(at=100.0))
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    claim = s.one(fx.PublishMember)
    connect = s.last(fx.Connect)
    s.answer(connect, ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.send(ev.PathEnsured(request=s.last(fx.EnsurePath).request, outcome=Outcome.OK, at=101.0))
    assert s.name is StateName.ATTEMPTER
    assert publishes(s) == []  # one at a time: Init's (the claim) is still in flight
    s.answer(claim, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    (first,) = publishes(s)
    assert (first.state, first.since, first.create) == ("Attempter", 101.0, False)
    s.answer(s.last(fx.ReadControl), ev.ControlRead, outcome=Outcome.OK)
    name = join(s)
    s.answer(s.one(fx.ReadQueue), ev.QueueRead, outcome=Outcome.OK, names=(name,), at=101.5)
    s.send(ev.MembersRead(request=s.one(fx.ReadMembers).request, outcome=Outcome.OK,
                          replicas=("r1",), priorities=(1,), at=102.0))  # fmt: skip
    assert s.name is LEADER and publishes(s) == []  # Attempter's in flight
    s.send(ev.FileWritten(request=s.one(fx.WriteLeaderFile).request, outcome=Outcome.FAILED,
                          reason="ENOSPC", at=103.0))  # fmt: skip
    assert s.name is FAILOVER and publishes(s) == []
    s.answer(first, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    # Leader was never shown: the node goes from Attempter straight to Failover.
    (update,) = publishes(s)
    assert (update.state, update.since, update.token, update.create) == (
        "Failover",
        103.0,
        None,
        False,  # the node of this session exists: an update
    )
    s.answer(update, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    assert publishes(s) == []  # shown as it is: nothing more to say
    assert s.state.member.shown == (SESSION, "Failover", 103.0, None)


def test_the_leader_is_shown_with_its_token() -> None:
    s = member_script()
    to_attempter(s)
    s.answer(s.last(fx.PublishMember), ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    lead(s)
    (update,) = publishes(s)
    assert (update.state, update.token, update.create) == ("Leader", TOKEN, False)


def test_nothing_is_published_while_disconnected_and_a_new_session_creates_again() -> None:
    s = member_script()
    to_attempter(s)
    s.answer(s.last(fx.PublishMember), ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    s.answer(s.last(fx.PublishMember), ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    s.send(ev.SessionSuspended(at=200.0))
    assert s.name is FAILOVER and publishes(s) == []
    s.send(ev.SessionLost(at=201.0))
    s.send(ev.SessionConnected(session_id=SESSION + 1, at=202.0))
    # Back to Init on the new session: its node is to be made anew.
    (publish,) = publishes(s)
    assert (publish.state, publish.create) == ("Init", True)


def test_after_a_failure_the_next_try_waits_for_a_change_or_a_reconnect() -> None:
    s = member_script()
    s.send(ev.Started(at=100.0))
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    s.answer(s.one(fx.PublishMember), ev.MemberPublished, outcome=Outcome.FAILED, reason="NoAuth")
    assert publishes(s) == [] and s.state.member.failed
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    assert publishes(s) == []  # not hammered on every event
    s.answer(s.last(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is StateName.ATTEMPTER
    (publish,) = publishes(s)  # a state change: try again
    assert (publish.state, publish.create) == ("Attempter", True)


def test_an_unknown_outcome_counts_as_failed_and_a_reconnect_retries() -> None:
    s = member_script()
    s.send(ev.Started(at=100.0))
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    s.answer(s.one(fx.PublishMember), ev.MemberPublished, outcome=Outcome.UNKNOWN)
    assert s.state.member.failed and s.state.member.shown is None
    s.send(ev.SessionConnected(session_id=SESSION, at=101.0))
    assert publishes(s)[0].create  # the node may or may not be there: make it (or adopt it)


def test_a_stale_answer_changes_nothing() -> None:
    s = member_script()
    s.send(ev.Started(at=100.0))
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    before = s.state
    s.send(ev.MemberPublished(request=999, outcome=Outcome.OK, session_id=SESSION))
    assert s.state == before and s.effects == ()


HELD = "host vm2, pid 4242, session 0x77"


def test_a_member_node_held_by_another_live_replica_stops_this_one_with_exit_2() -> None:
    # Two replicas of one --replica-id ran silently, appending to one journal or both
    # telling `status` they were `dup`: the second is refused, as an invalid flag is.
    s = member_script()
    s.send(ev.Started(at=100.0))
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    s.answer(s.one(fx.PublishMember), ev.MemberPublished, outcome=Outcome.FAILED,
             reason="held by another live session", held_by=HELD)  # fmt: skip
    assert s.name is StateName.STOPPING
    assert s.state.cause == f"replica id r1 is in use by another live replica ({HELD})"
    assert not [e for e in s.effects if isinstance(e, fx.CreateNode)]
    s.answer(s.one(fx.CloseSession), ev.SessionClosed, outcome=Outcome.OK)
    (exit_,) = [e for e in s.effects if isinstance(e, fx.Exit)]
    assert exit_.code == 2


def test_a_leader_that_finds_its_id_in_use_ends_its_term_and_stops() -> None:
    s = member_script()
    to_attempter(s)
    s.answer(s.last(fx.PublishMember), ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    lead(s)
    # Say a new session's create found another's node (its own expired meanwhile).
    s.answer(s.last(fx.PublishMember), ev.MemberPublished, outcome=Outcome.FAILED,
             reason="held by another live session", held_by=HELD)  # fmt: skip
    assert s.state.name is StateName.STOPPING
    assert isinstance(s.state.phase, Shutdown) and s.state.phase.exit_code == 2


def test_a_late_answer_in_stopping_changes_nothing_more() -> None:
    s = member_script()
    s.send(ev.Started(at=100.0))
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    publish = s.one(fx.PublishMember)
    s.send(ev.StopRequested(signal="SIGTERM", at=101.0))
    cause = s.state.cause
    s.answer(publish, ev.MemberPublished, outcome=Outcome.FAILED, reason="x", held_by=HELD)
    assert s.name is StateName.STOPPING and s.state.cause == cause
    assert isinstance(s.state.phase, Shutdown) and s.state.phase.exit_code == 0


CLAIM_CONFIG = CONFIG


def _candidate_claiming() -> Script:
    """Init -> Attempter with the controls read, while the first publish of the session
    (the claim of our replica id) is in flight: not queued."""
    s = Script(initial_state(CLAIM_CONFIG))
    s.send(ev.Started(at=100.0))
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    s.answer(s.last(fx.Connect), ev.ConnectResult, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is StateName.ATTEMPTER
    s.answer(s.last(fx.ReadControl), ev.ControlRead, outcome=Outcome.OK)
    return s


def _creates(s: Script) -> list[fx.CreateNode]:
    return [e for _, effects in s.history for e in effects if isinstance(e, fx.CreateNode)]


def test_a_replica_competes_only_once_its_replica_id_is_its_own() -> None:
    s = _candidate_claiming()
    assert _creates(s) == []  # the controls are read, but the claim is still in flight
    first = [e for _, effects in s.history for e in effects if isinstance(e, fx.PublishMember)]
    s.answer(first[0], ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    assert len(_creates(s)) == 1 and s.name is StateName.ATTEMPTER  # queued now


def test_a_refused_replica_never_competes() -> None:
    s = _candidate_claiming()
    first = [e for _, effects in s.history for e in effects if isinstance(e, fx.PublishMember)]
    s.answer(first[0], ev.MemberPublished, outcome=Outcome.FAILED, reason="held", held_by=HELD)
    assert s.name is StateName.STOPPING and _creates(s) == []


def test_a_claim_that_fails_otherwise_holds_nobody_back() -> None:
    # NoAuth on the members' parent, a time-out: as before the claim, the member node is
    # only what `election top` reads; the election goes on.
    s = _candidate_claiming()
    first = [e for _, effects in s.history for e in effects if isinstance(e, fx.PublishMember)]
    s.answer(first[0], ev.MemberPublished, outcome=Outcome.UNKNOWN)
    assert len(_creates(s)) == 1


def test_a_new_session_queues_only_once_its_own_claim_is_answered() -> None:
    # The publish in flight when the session was lost answers (ok) on the new one: that
    # says the id was ours on the old session, nothing of the new one's claim.
    s = member_script()
    to_attempter(s)
    old = s.last(fx.PublishMember)  # Attempter's, asked on SESSION
    assert s.state.awaiting(fx.PublishMember) == old.request
    s.send(ev.SessionLost())
    s.send(ev.SessionConnected(session_id=SESSION + 1))
    s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    mark = len(s.history)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is StateName.ATTEMPTER
    s.answer(old, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    claim = s.last(fx.PublishMember)
    assert claim.create and s.state.awaiting(fx.PublishMember) == claim.request  # new claim
    assert s.every(fx.CreateNode, since=mark) == []  # not before it is answered
    s.answer(claim, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION + 1)
    s.one(fx.CreateNode)


STOPPING_CONFIG = CONFIG


def test_stopping_is_shown_as_the_last_word_ahead_of_the_close() -> None:
    # `election top` tells a replica that stopped from one whose session was lost (a
    # crash, an expiry) by the last state its node showed.
    s = Script(initial_state(STOPPING_CONFIG))
    to_attempter(s)
    for _ in range(2):
        s.answer(
            s.last(fx.PublishMember), ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION
        )
    s.send(ev.StopRequested(signal="SIGTERM", at=300.0))
    assert s.name is StateName.STOPPING
    kinds = [type(e) for e in s.effects]
    assert kinds.index(fx.PublishMember) < kinds.index(fx.CloseSession)
    (last,) = publishes(s)
    close = s.one(fx.CloseSession)
    assert (last.state, last.since, last.token, last.create) == ("Stopping", 300.0, None, False)
    s.answer(last, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION)
    assert publishes(s) == []  # nothing more
    s.answer(close, ev.SessionClosed, outcome=Outcome.OK)
    assert s.state.exited


def test_a_stop_while_a_publish_is_in_flight_still_says_stopping_and_none_before_a_node() -> None:
    s = Script(initial_state(STOPPING_CONFIG))
    s.send(ev.Started(at=100.0))
    s.send(ev.SessionConnected(session_id=SESSION, at=100.5))
    s.send(ev.StopRequested(signal="SIGTERM", at=101.0))  # Init's create in flight
    (last,) = publishes(s)
    assert (last.state, last.create) == ("Stopping", False)
    s = Script(initial_state(STOPPING_CONFIG))
    s.send(ev.Started(at=100.0))
    s.send(ev.StopRequested(signal="SIGTERM", at=101.0))  # never connected: no node
    assert publishes(s) == []
