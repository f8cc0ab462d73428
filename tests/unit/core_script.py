"""A scripted driver for the pure core: events in, states and effects out, no I/O."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from election.core import effects as fx
from election.core import events as ev
from election.core.cause import Why
from election.core.events import Outcome
from election.core.queue import node_prefix
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


def node_name(
    replica: str = "r1", session: int = SESSION, sequence: int = 1, priority: int = 1
) -> str:
    """A queue node's name, as ZooKeeper makes it from a candidate's prefix."""
    return f"{node_prefix(replica, session, priority)}{sequence:010d}"


def node_path(name: str) -> str:
    return f"{CONFIG.election_path}/{name}"


class Script:
    """Feeds events to the reducer, keeping the latest state and effects."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state or initial_state(CONFIG)
        self.effects: tuple[fx.Effect, ...] = ()
        self.why: Why | None = None  # the kind of the last state change, if it was one
        self.history: list[tuple[ev.Event, tuple[fx.Effect, ...]]] = []
        self.clock = 0.0
        self.sequence = 0  # the queue's last sequence number handed out

    @property
    def own_path(self) -> str:
        """Our queue node's path, as the state knows it."""
        return node_path(self.state.place.name)

    def send(self, event: ev.Event) -> tuple[fx.Effect, ...]:
        self.clock += 0.001
        t = reduce(self.state, event)
        # Every state change names its kind (metrics, logs and the replay read it).
        assert (t.previous is None) == (t.why is None), t
        self.state, self.effects, self.why = t.state, t.effects, t.why
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

    def every(self, kind: type[E], since: int = 0) -> list[E]:
        """Every effect of `kind` in the history from its `since`-th event on (a mark
        taken as `len(s.history)`), in order."""
        return [e for _, effects in self.history[since:] for e in effects if type(e) is kind]

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
        """Answer `effect`; an answer that says when its request was sent says, unless
        told otherwise, that it was sent just now (as a prompt server's would)."""
        if "asked_at" in attrs.fields_dict(event_type):
            fields.setdefault("asked_at", fields.get("at", 0.0))
        return self.send(event_type(request=effect.request, **fields))  # type: ignore[call-arg]


def published(s: Script) -> tuple[fx.Effect, ...]:
    """Answer the publish of our member node in flight: ok (a claim: the replica id is
    ours). Returns the answer's effects (after a claim in Attempter, the create)."""
    publish = s.last(fx.PublishMember)
    assert s.state.awaiting(fx.PublishMember) == publish.request, "no publish in flight"
    asked = s.state.member.asked
    return s.answer(publish, ev.MemberPublished, outcome=Outcome.OK,
                    session_id=asked[0] if asked else None)  # fmt: skip


def settle(s: Script) -> Script:
    """Answer what every replica asks besides the election, if in flight on entry: its
    member node's publish (ok: the replica id is ours), the operator's controls (nothing
    stands) and the members' priorities (ours alone), in the order they were asked (as
    ZooKeeper answers a session's requests), so the latest effects are the last answer's.
    A request one of these answers asks for (a new state's publish) stays in flight."""
    state, cfg = s.state, s.state.config
    answers: list[tuple[Any, type[ev.Event], dict[str, Any]]] = []
    if state.awaits(fx.PublishMember):
        asked = state.member.asked  # the session it was sent on
        ok = {"outcome": Outcome.OK, "session_id": asked[0] if asked else state.session_id}
        answers.append((s.last(fx.PublishMember), ev.MemberPublished, ok))
    if state.awaits(fx.ReadControl):
        answers.append((s.last(fx.ReadControl), ev.ControlRead, {"outcome": Outcome.OK}))
    if state.awaits(fx.ReadMembers):
        ours = {"outcome": Outcome.OK, "replicas": (cfg.replica,), "priorities": (cfg.priority,)}
        answers.append((s.last(fx.ReadMembers), ev.MembersRead, ours))
    for effect, event_type, fields in sorted(answers, key=lambda a: a[0].request):
        s.answer(effect, event_type, **fields)
    return s


def to_attempter(script: Script | None = None) -> Script:
    """Drive a fresh replica through Init into Attempter, its member node published and
    the controls read (nothing stands)."""
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
    return settle(s)


def join(s: Script, token: int = TOKEN) -> str:
    """Answer the Attempter's create of its queue node (the latest): made, with `token`
    and the next sequence number; returns its name."""
    create = s.last(fx.CreateNode)
    s.sequence += 1
    name = create.path.rsplit("/", 1)[-1] + f"{s.sequence:010d}"
    s.answer(create, ev.NodeCreated, outcome=Outcome.OK, token=token, path=node_path(name))
    return name


def queue_read(s: Script, *names: str) -> tuple[fx.Effect, ...]:
    """Answer the pending ReadQueue with `names`."""
    return s.answer(s.last(fx.ReadQueue), ev.QueueRead, outcome=Outcome.OK, names=names)


def lead(s: Script, token: int = TOKEN) -> Script:
    """From Attempter, its create asked for: the node is made and alone in the queue."""
    name = join(s, token)
    queue_read(s, name)  # ours is the only node: the head
    settle(s)  # the priorities read at the head: ours alone
    assert s.name is StateName.LEADER, s.state
    return s


def release_done(s: Script) -> None:
    """Answer the delete of our node in flight, if any: gone."""
    if s.state.awaits(fx.ReleaseNode):
        s.answer(s.last(fx.ReleaseNode), ev.NodeReleased, outcome=Outcome.OK)


def lose_node(s: Script) -> None:
    """Leader: our queue node is deleted under us (back to Attempter, a new create)."""
    s.send(ev.NodeWatchFired(path=s.own_path, kind="DELETED"))
    assert s.name is StateName.ATTEMPTER


def to_leader(token: int = TOKEN, script: Script | None = None) -> Script:
    return lead(to_attempter(script), token)


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
