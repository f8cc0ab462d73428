"""`Step`, the reducer's scratch pad: a new state is put together from the parts that
changed, the old state never changes, and a misspelt part is refused."""

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.cause import Why
from election.core.events import Outcome
from election.core.state import CoreConfig, Session, State, StateName, Term, Timer, initial_state
from election.core.step import Step

CONFIG = CoreConfig(replica="r1", election_path="/e")


def test_changes_make_a_new_state_and_leave_the_old_one_alone() -> None:
    old = initial_state(CONFIG)
    step = Step(old, ())
    step.session = Session(True, 7)
    request = step.request(fx.ReadNode, path="/e")
    step.start_timer(Timer.WRITE, 1.0)
    new = step.result()
    assert new is not old and old == initial_state(CONFIG)
    assert (new.connected, new.session_id, new.next_id) == (True, 7, 3)
    assert new.pending == ((request, fx.ReadNode),)
    assert new.timers == ((Timer.WRITE, 2),)
    assert step.effects == [
        fx.ReadNode(request=1, path="/e"),
        fx.StartTimer(name="write", id=2, delay=1.0),
    ]
    # Parts that did not change are shared, not copied.
    assert new.job is old.job and new.streaks is old.streaks and new.config is old.config
    assert isinstance(new, State)


def test_unchanged_step_gives_back_the_same_state() -> None:
    old = initial_state(CONFIG)
    assert Step(old, ()).result() is old


def test_a_part_state_does_not_have_is_refused() -> None:
    step = Step(initial_state(CONFIG), ())
    with pytest.raises(AttributeError):
        step.conected = True  # type: ignore[attr-defined]  # sic


def test_answers_and_fires_are_consumed_once() -> None:
    state = initial_state(CONFIG)
    step = Step(state, ())
    request = step.request(fx.ReadNode, path="/e")
    step.start_timer(Timer.WRITE, 1.0)
    answer = ev.NodeRead(request=request, outcome=Outcome.OK)
    other_kind = ev.QueueRead(request=request, outcome=Outcome.OK)  # answers no ReadNode
    assert not step.answered(other_kind)
    assert step.answered(answer) and not step.answered(answer)
    assert not step.fired(Timer.ATTEMPT, 2)  # the live id, but of another timer
    assert step.fired(Timer.WRITE, 2) and not step.fired(Timer.WRITE, 2)
    after = step.result()
    assert after.pending == () and after.timers == ()
    assert after.name is StateName.INIT


def test_a_state_change_keeps_the_terms_files_for_a_resumed_term() -> None:
    leader = State(CONFIG, StateName.LEADER, phase=Term(token=9, seq=4))
    step = Step(leader, (StateName.ATTEMPTER,))
    step.goto(StateName.ATTEMPTER, Why.NODE_LOST, "election node deleted")
    after = step.result()
    assert after.token is None and after.streaks.last_term == (9, 4)
    assert (step.previous, after.cause) == (StateName.LEADER, "election node deleted")
    assert step.why is Why.NODE_LOST
