"""`Step`, the reducer's scratch pad: a new state is built from a copy of the old one's
fields, so the old state never changes, and a misspelt field is refused."""

import pytest

from election.core import effects as fx
from election.core.state import CoreConfig, State, StateName, Timer, initial_state
from election.core.step import Step

CONFIG = CoreConfig(replica="r1", election_path="/e")


def test_changes_make_a_new_state_and_leave_the_old_one_alone() -> None:
    old = initial_state(CONFIG)
    step = Step(old, ())
    step.set(connected=True, session_id=7)
    request = step.request(fx.ReadNode, path="/e")
    step.start_timer(Timer.WRITE, 1.0)
    new = step.state
    assert new is not old and old == initial_state(CONFIG)
    assert (new.connected, new.session_id, new.next_id) == (True, 7, 3)
    assert new.pending == ((request, "ReadNode"),)
    assert new.timers == ((Timer.WRITE, 2),)
    assert step.effects == [
        fx.ReadNode(request=1, path="/e"),
        fx.StartTimer(name="write", id=2, delay=1.0),
    ]
    # Built once, the draft is the new state's own: a later change copies again.
    step.set(seq=5)
    assert step.state.seq == 5 and new.seq == 0
    assert isinstance(new, State) and new == State(**{**vars(new)})


def test_unchanged_step_gives_back_the_same_state() -> None:
    old = initial_state(CONFIG)
    assert Step(old, ()).state is old


def test_a_field_state_does_not_have_is_refused() -> None:
    step = Step(initial_state(CONFIG), ())
    step.set(conected=True)  # sic
    with pytest.raises(TypeError, match="State has no field"):
        _ = step.state


def test_answers_and_fires_are_consumed_once() -> None:
    state = initial_state(CONFIG)
    step = Step(state, ())
    request = step.request(fx.ReadNode, path="/e")
    step.start_timer(Timer.WRITE, 1.0)
    assert step.answered(request) and not step.answered(request)
    assert not step.fired(Timer.ATTEMPT, 2)  # the live id, but of another timer
    assert step.fired(Timer.WRITE, 2) and not step.fired(Timer.WRITE, 2)
    after = step.state
    assert after.pending == () and after.timers == ()
    assert after.name is StateName.INIT
