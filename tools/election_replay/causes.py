"""Why a leadership term ended: the cause that `--json` gives as `end_cause` and the
report shows.

The record that took a replica out of Leader names the kind of its state change (`why`,
`election.core.cause.Why`), chosen by the reducer: `BY_WHY` reads it. Journals written
before the reducer named it are classified here, in this one place, by the old table:
from the event that ended the term (its type, and what it says), read as journaled (JSON)
by its type's name.

Two causes come from no event: `crash`, the journal ends while Leader and the cluster
went on without it (a later term of another replica, or a later run of the same one),
and None, still leading when every journal ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

STOP: Final = "stop"  # a graceful stop of the daemon (SIGTERM, SIGINT)
HANDOVER: Final = "handover"  # `election handover`: the leader steps aside
PAUSE: Final = "pause"  # `election pause`: the whole cluster stops working
SESSION: Final = "session"  # the ZooKeeper session was suspended or lost
SUPERSEDED: Final = "superseded"  # a file of a newer term appeared in file-dir
JOB_EXIT: Final = "job-exit"  # the job (--exec) exited or could not start
LEASE: Final = "lease"  # the job's lease ran out (its supervisor stopped it)
NODE_LOST: Final = "node-lost"  # our election node was deleted, or is no longer ours
WRITE_FAILED: Final = "write-failed"  # a leader file could not be written
CRASH: Final = "crash"  # the journal ends while Leader, and the cluster went on
OTHER: Final = "other"  # an event this table does not name (the report shows its type)

EventJson = Mapping[str, Any]


def _always(_: EventJson) -> bool:
    return True


# (event type, what it says, cause): the first row whose type matches and whose
# condition holds names the cause.
TABLE: Final[tuple[tuple[str, Callable[[EventJson], bool], str], ...]] = (
    ("StopRequested", _always, STOP),
    ("ControlRead", lambda e: e.get("paused") is True, PAUSE),
    ("ControlRead", _always, HANDOVER),
    ("SessionSuspended", _always, SESSION),
    ("SessionLost", _always, SESSION),
    ("FileWritten", lambda e: e.get("newer_token") is not None, SUPERSEDED),
    ("FileWritten", _always, WRITE_FAILED),
    ("ChildExited", _always, JOB_EXIT),  # whatever --exec-exit then did
    ("ChildStarted", _always, JOB_EXIT),  # it failed to start
    ("ChildLeaseExpired", _always, LEASE),
    ("NodeWatchFired", _always, NODE_LOST),
    ("NodeRead", _always, NODE_LOST),  # the confirm-read found it gone or not ours
)

CAUSES: Final = (
    STOP,
    HANDOVER,
    PAUSE,
    SESSION,
    SUPERSEDED,
    JOB_EXIT,
    LEASE,
    NODE_LOST,
    WRITE_FAILED,
    CRASH,
    OTHER,
)

# The kind of the state change that left Leader -> the term's end cause: every kind that
# can end a term (the random histories of tests/unit/test_core_properties.py hold it); the
# others only enter Attempter, Leader or Init, or leave Init.
BY_WHY: Final[Mapping[str, str]] = {
    "stop": STOP,
    "id-in-use": STOP,  # another live replica holds its id: it stops itself
    "handover": HANDOVER,
    "pause": PAUSE,
    "session-suspended": SESSION,
    "session-lost": SESSION,
    "superseded": SUPERSEDED,
    "write-failed": WRITE_FAILED,
    "job-exit": JOB_EXIT,
    "lease": LEASE,
    "node-lost": NODE_LOST,
}

_BY_TYPE: dict[str, list[tuple[Callable[[EventJson], bool], str]]] = {}
for _type, _holds, _cause in TABLE:
    _BY_TYPE.setdefault(_type, []).append((_holds, _cause))


def end_cause(event: EventJson, why: str = "") -> str:
    """The cause of a term's end: from the kind the record leaving Leader names (`why`),
    or, in a journal from before it, from that record's event (as journaled); `other`
    for an event the old table does not name."""
    if why:
        return BY_WHY.get(why, OTHER)
    for holds, cause in _BY_TYPE.get(str(event.get("type")), ()):
        if holds(event):
            return cause
    return OTHER


def asked_by(event: EventJson) -> str:
    """Who asked for the end, when the operator's controls ended the term (`ControlRead`):
    `by alice: maintenance` for a pause, `by alice, to r1` for a hand-over; else ""."""
    if event.get("type") != "ControlRead":
        return ""
    if event.get("paused") is True:
        who, why = event.get("paused_by") or "?", event.get("pause_reason") or ""
        return f"by {who}" + (f": {why}" if why else "")
    to = event.get("handover_to")
    return f"by {event.get('handover_by') or '?'}" + (f", to {to}" if to else "")
