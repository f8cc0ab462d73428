"""A scripted driver for the pure core: events in, states and effects out, no I/O."""

from __future__ import annotations

from typing import Any, TypeVar

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.reducer import reduce
from election.core.state import CoreConfig, State, StateName, initial_state

E = TypeVar("E", bound=fx.Effect)

CONFIG = CoreConfig(
    replica="r1",
    election_path="/election/leader",
    leader_timeout=1.0,
    attempter_timeout=10.0,
    storage_capacity=3,
    init_deadline=5.0,
    stop_deadline=2.0,
    backoff_initial=0.2,
    backoff_max=3.0,
)
SESSION = 0x1001
TOKEN = 4242


class Script:
    """Feeds events to the reducer, keeping the latest state and effects."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state or initial_state(CONFIG)
        self.effects: tuple[fx.Effect, ...] = ()
        self.history: list[tuple[ev.Event, tuple[fx.Effect, ...]]] = []
        self.clock = 0.0

    def send(self, event: ev.Event) -> tuple[fx.Effect, ...]:
        self.clock += 0.001
        t = reduce(self.state, event)
        self.state, self.effects = t.state, t.effects
        self.history.append((event, t.effects))
        return t.effects

    @property
    def name(self) -> StateName:
        return self.state.name

    def one(self, kind: type[E], effects: tuple[fx.Effect, ...] | None = None) -> E:
        """The single effect of `kind` among the latest effects."""
        found = [e for e in (self.effects if effects is None else effects) if type(e) is kind]
        assert len(found) == 1, f"expected one {kind.__name__} in {self.effects}"
        return found[0]

    def last(self, kind: type[E]) -> E:
        """The latest effect of `kind` in the whole history."""
        for _, effects in reversed(self.history):
            for effect in reversed(effects):
                if type(effect) is kind:
                    return effect
        raise AssertionError(f"no {kind.__name__} so far")

    def last_timer(self, name: str) -> fx.StartTimer:
        """The latest StartTimer of `name` in the whole history."""
        for _, effects in reversed(self.history):
            for effect in reversed(effects):
                if isinstance(effect, fx.StartTimer) and effect.name == name:
                    return effect
        raise AssertionError(f"no timer {name} so far")

    def none(self, kind: type[fx.Effect]) -> None:
        assert not [e for e in self.effects if type(e) is kind], self.effects

    def timer(self, name: str) -> fx.StartTimer:
        found = [e for e in self.effects if isinstance(e, fx.StartTimer) and e.name == name]
        assert len(found) == 1, f"expected timer {name} in {self.effects}"
        return found[0]

    def fire(self, timer: fx.StartTimer) -> tuple[fx.Effect, ...]:
        return self.send(ev.TimerFired(name=timer.name, id=timer.id))

    def answer(
        self, effect: Any, event_type: type[ev.Event], **fields: Any
    ) -> tuple[fx.Effect, ...]:
        return self.send(event_type(request=effect.request, **fields))  # type: ignore[call-arg]


def to_attempter(script: Script | None = None) -> Script:
    """Drive a fresh replica through Init into Attempter."""
    s = script or Script()
    s.send(ev.Started())
    connect = s.one(fx.Connect)
    if s.state.config.write_files:  # a job-only replica does not check file-dir
        s.answer(s.one(fx.CheckFileDir), ev.FileDirChecked, outcome=Outcome.OK)
    s.send(ev.SessionConnected(session_id=SESSION))
    ensure = s.one(fx.EnsurePath)
    s.answer(connect, ev.ConnectResult, outcome=Outcome.OK)
    s.answer(ensure, ev.PathEnsured, outcome=Outcome.OK)
    assert s.name is StateName.ATTEMPTER
    return s


def to_leader(token: int = TOKEN) -> Script:
    s = to_attempter()
    s.answer(s.one(fx.CreateNode), ev.NodeCreated, outcome=Outcome.OK, token=token)
    assert s.name is StateName.LEADER
    return s


def to_failover() -> Script:
    s = to_attempter()
    s.send(ev.SessionSuspended())
    assert s.name is StateName.FAILOVER
    return s


def to_stopping() -> Script:
    s = to_leader()
    s.send(ev.StopRequested(signal="SIGTERM"))
    assert s.name is StateName.STOPPING
    return s
