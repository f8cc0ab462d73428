"""How long the core awaits each request (`election.core.lifetime`), and the rules the
reducer keeps beside its table: one list of awaited requests, answers only of their own
kind, hooks by the state a reduction ends in, no handler asking which state it is in."""

from __future__ import annotations

import ast
import inspect

import attrs
import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core import reducer
from election.core.cause import Why
from election.core.events import Outcome
from election.core.lifetime import ANSWER, LANDS_WORK, LIFETIME, Lifetime, outlives
from election.core.snapshot import SPANNING_FIELDS
from election.core.state import StateName
from tests.unit.core_script import SESSION, Script, settle, to_attempter, to_leader


def _requests(types: tuple[type, ...]) -> set[type]:
    return {t for t in types if "request" in attrs.fields_dict(t)}


def test_every_request_has_one_lifetime_and_one_answer() -> None:
    assert set(LIFETIME) == _requests(fx.EFFECT_TYPES)
    assert set(ANSWER) == _requests(ev.EVENT_TYPES)
    assert sorted(ANSWER.values(), key=str) == sorted(LIFETIME, key=str)  # one each
    # A snapshot keeps each kind that spans states in a field of its own.
    assert set(SPANNING_FIELDS) == {k for k, v in LIFETIME.items() if v is Lifetime.SPANNING}


@pytest.mark.parametrize("why", list(Why))
def test_a_state_change_forgets_this_states_requests_and_keeps_what_spans_states(
    why: Why,
) -> None:
    for kind, lifetime in LIFETIME.items():
        if lifetime is Lifetime.STATE:
            assert not outlives(kind, why)
        elif lifetime is Lifetime.SPANNING:
            assert outlives(kind, why)
        else:  # the term's work: carried only by an end of term we chose
            assert outlives(kind, why) == (why in LANDS_WORK)


def _leader_writing() -> Script:
    s = to_leader()
    assert s.state.awaits(fx.WriteLeaderFile)
    return s


def test_a_stop_carries_the_leader_file_in_flight_and_our_node_waits_for_it() -> None:
    s = _leader_writing()
    write = s.last(fx.WriteLeaderFile)
    s.send(ev.StopRequested(signal="SIGTERM"))
    assert s.name is StateName.STOPPING and s.state.awaits(fx.WriteLeaderFile)
    s.none(fx.ReleaseNode)  # the file first
    s.answer(write, ev.FileWritten, outcome=Outcome.OK, name="f")
    s.one(fx.ReleaseNode)


def test_a_lost_session_forgets_the_leader_file_in_flight() -> None:
    s = _leader_writing()
    write = s.last(fx.WriteLeaderFile)
    s.send(ev.SessionSuspended())
    assert s.name is StateName.FAILOVER and not s.state.awaits(fx.WriteLeaderFile)
    before = s.state
    s.answer(write, ev.FileWritten, outcome=Outcome.OK, name="f")
    assert s.state == before and s.effects == ()  # a stale answer


def test_an_answer_counts_only_for_a_request_of_its_own_kind() -> None:
    s = to_leader()
    read = s.last(fx.ReadNode)  # our node's watch: awaited
    before = s.state
    # A create's answer bearing the read's id answers nothing of ours.
    s.send(ev.NodeCreated(request=read.request, outcome=Outcome.OK, token=1, path="/x/y"))
    assert s.state == before


def test_a_leader_hearing_of_a_new_session_claims_its_id_on_it_before_it_queues() -> None:
    s = to_leader()
    settle(s)  # the Leader's publish answered
    s.send(ev.SessionConnected(session_id=SESSION + 1))  # the old one expired unheard
    assert s.name is StateName.ATTEMPTER
    claim = s.one(fx.PublishMember)
    assert claim.create
    s.none(fx.CreateNode)  # not before the claim is answered
    s.answer(claim, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION + 1)
    s.one(fx.CreateNode)


def test_a_publish_failed_on_an_old_session_does_not_waive_a_new_sessions_claim() -> None:
    s = to_attempter()  # its Attempter publish in flight, on SESSION
    old = s.last(fx.PublishMember)
    s.send(ev.SessionLost())
    s.send(ev.SessionConnected(session_id=SESSION + 1))
    s.answer(old, ev.MemberPublished, outcome=Outcome.FAILED, reason="connection lost")
    assert not s.state.member.failed  # of the old session: it says nothing of the new one
    claim = s.one(fx.PublishMember)  # the new session's claim, at once
    assert claim.create
    s.answer(s.last(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.answer(s.last(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is StateName.ATTEMPTER
    s.none(fx.CreateNode)  # not before the claim is answered
    s.answer(claim, ev.MemberPublished, outcome=Outcome.OK, session_id=SESSION + 1)
    s.one(fx.CreateNode)


def test_hooks_are_declared_for_every_state_and_no_handler_asks_which_state_it_is_in() -> None:
    assert set(reducer.AFTER) == set(StateName)
    tree = ast.parse(inspect.getsource(reducer))
    asks = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(
            isinstance(side, ast.Attribute)
            and side.attr == "name"
            and isinstance(side.value, ast.Name)
            and side.value.id == "step"
            for side in (node.left, *node.comparators)
        )
    ]
    assert asks == [], f"reducer.py compares step.name at lines {asks}"
