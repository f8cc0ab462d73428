"""How long the core awaits the answer to each kind of request: one table, one rule.

Every request the reducer awaits is in `Books.pending`, as `(id, effect type)`; its
answer (`ANSWER`: the event type that answers each) is accepted only while it is there
(`Step.answered`), and a late answer of a request no longer there is stale. What takes
a request out, besides its answer, is a state change, and then only by the request's
lifetime, declared here by its effect type:

- `STATE`: the current state's own business (Init's checks, Attempter's reads of the
  queue, Leader's confirmations of its node, Stopping's close). Any state change forgets
  it: the next state asks for what it needs itself.
- `WORK`: the term's work in flight (a leader file). It must land, or fail, before our
  node goes, or it could land in another replica's term. A state change that ends the
  term by our own choice (`LANDS_WORK`: a stop, a step-down, a yield) carries it, and
  what comes next waits for its answer; one that finds the term gone already (the
  session or the node lost, a new term begun) forgets it.
- `SPANNING`: what outlives states — our queue node's create and delete (the node
  outlives them), the member node's publish, the reads of the operator's controls and
  of the members, the job's start. No state change forgets them; only what voids them
  does (`Step.forget`: a session gone takes its node's create and delete with it; a
  newer publish supersedes an older one).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from election.core import effects as fx
from election.core import events as ev
from election.core.cause import Why
from election.core.effects import Effect


class Lifetime(enum.Enum):
    STATE = "state"
    WORK = "work"
    SPANNING = "spanning"


LIFETIME: Final[Mapping[type[Effect], Lifetime]] = {
    fx.Connect: Lifetime.STATE,
    fx.CloseSession: Lifetime.STATE,
    fx.CheckFileDir: Lifetime.STATE,
    fx.EnsurePath: Lifetime.STATE,
    fx.ReadQueue: Lifetime.STATE,
    fx.ReadNode: Lifetime.STATE,
    fx.MarkNode: Lifetime.STATE,
    fx.PruneFiles: Lifetime.STATE,  # a failed prune harms no one: nothing waits for it
    fx.WriteLeaderFile: Lifetime.WORK,
    fx.CreateNode: Lifetime.SPANNING,
    fx.ReleaseNode: Lifetime.SPANNING,
    fx.PublishMember: Lifetime.SPANNING,
    fx.ReadControl: Lifetime.SPANNING,
    fx.ReadMembers: Lifetime.SPANNING,
    fx.StartChild: Lifetime.SPANNING,
}
"""Every effect the core awaits an answer to, and how long (the others — timers, the
job's stop, the exit — are answered by no request of theirs)."""

ANSWER: Final[Mapping[type[ev.Event], type[Effect]]] = {
    ev.ConnectResult: fx.Connect,
    ev.SessionClosed: fx.CloseSession,
    ev.FileDirChecked: fx.CheckFileDir,
    ev.PathEnsured: fx.EnsurePath,
    ev.QueueRead: fx.ReadQueue,
    ev.NodeRead: fx.ReadNode,
    ev.NodeMarked: fx.MarkNode,
    ev.FilesPruned: fx.PruneFiles,
    ev.FileWritten: fx.WriteLeaderFile,
    ev.NodeCreated: fx.CreateNode,
    ev.NodeReleased: fx.ReleaseNode,
    ev.MemberPublished: fx.PublishMember,
    ev.ControlRead: fx.ReadControl,
    ev.MembersRead: fx.ReadMembers,
    ev.ChildStarted: fx.StartChild,
}
"""The event that answers each request (the effect handler's one outcome)."""

LANDS_WORK: Final = frozenset(
    {
        Why.STOP,
        Why.ID_IN_USE,
        Why.JOB_EXIT,
        Why.SUPERSEDED,
        Why.WRITE_FAILED,
        Why.LEASE,
        Why.PAUSE,
        Why.HANDOVER,
    }
)
"""The state changes that end a term by our own choice: its work in flight lands first."""


def outlives(kind: type[Effect], why: Why) -> bool:
    """Whether a request of `kind` is still awaited after a state change of kind `why`."""
    lifetime = LIFETIME[kind]
    return lifetime is Lifetime.SPANNING or (lifetime is Lifetime.WORK and why in LANDS_WORK)
