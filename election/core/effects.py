"""Effects: what the reducer asks the shell to do, as frozen data (never closures).

Each effect that talks to the world carries a `request` id; its handler answers with
exactly one outcome event bearing that id (ok, failed, or unknown after its deadline).
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Effect:
    """Base of all effects."""


@attrs.frozen(kw_only=True)
class StartTimer(Effect):
    """Fire `TimerFired(name, id)` after `delay` seconds (replaces a live timer of `name`)."""

    name: str
    id: int
    delay: float


@attrs.frozen(kw_only=True)
class CancelTimer(Effect):
    """Cancel the timer `name` if it is still the one with `id`."""

    name: str
    id: int


@attrs.frozen(kw_only=True)
class Connect(Effect):
    """Open a ZooKeeper session (or keep the one that is open). Answer: `ConnectResult`;
    the session's own changes arrive as `SessionConnected`/`SessionSuspended`/`SessionLost`."""

    request: int


@attrs.frozen(kw_only=True)
class CloseSession(Effect):
    """Close the ZooKeeper session. Answer: `SessionClosed`."""

    request: int


@attrs.frozen(kw_only=True)
class CheckFileDir(Effect):
    """Make file-dir if missing and check it is a writable directory. Answer: `FileDirChecked`."""

    request: int


@attrs.frozen(kw_only=True)
class EnsurePath(Effect):
    """Make `path` (the election path: the queue's parent) and its parents, persistent
    nodes, if missing. Answer: `PathEnsured`."""

    request: int
    path: str


@attrs.frozen(kw_only=True)
class CreateNode(Effect):
    """Create our queue node: ephemeral and sequential, named `path` (the election path
    and our prefix, `election.core.queue.node_prefix`) plus ZooKeeper's sequence number,
    holding `replica`. Answer: `NodeCreated` (with the node's path and czxid)."""

    request: int
    path: str
    replica: str


@attrs.frozen(kw_only=True)
class ReadNode(Effect):
    """Stat `path` and leave a watch on it. Answer: `NodeRead`, later `NodeWatchFired`.
    `prove`: the node just below ours, and it the only one: while its watch stands, keep
    a fresh proof of our session (an answered `exists` of our own node every sixth of the
    session timeout), so that its deletion comes with one at once (`proven_at`)."""

    request: int
    path: str
    prove: bool = False


@attrs.frozen(kw_only=True)
class ReadQueue(Effect):
    """List the children of the election path `path`; with `watch`, leave a watch on the
    list (only a head waiting for one who may lead to queue asks for it). Answer:
    `QueueRead`; with `watch`, later `QueueChanged`."""

    request: int
    path: str
    watch: bool = False


@attrs.frozen(kw_only=True)
class MarkNode(Effect):
    """Write our queue node `path`'s data again (the same replica id): its version
    grows, so the watch of the candidate behind us fires and it reads the queue — off the
    hand-over's path — and learns it is next in line. Answer: `NodeMarked`."""

    request: int
    path: str


@attrs.frozen(kw_only=True)
class ReleaseNode(Effect):
    """Delete `path` only if it is still the node of `token` (czxid). Answer: `NodeReleased`."""

    request: int
    path: str
    token: int


@attrs.frozen(kw_only=True)
class WriteLeaderFile(Effect):
    """Write leader file (`token`, `seq`) atomically, unless file-dir holds a higher token
    or the session is known to be down. Answer: `FileWritten`."""

    request: int
    token: int
    seq: int
    replica: str


@attrs.frozen(kw_only=True)
class PruneFiles(Effect):
    """Remove our own files beyond `keep`, oldest first, never one above `token`.
    Answer: `FilesPruned`."""

    request: int
    keep: int
    token: int


@attrs.frozen(kw_only=True)
class StartChild(Effect):
    """Start the job `command` for the term `token`, in its own process group, once no
    earlier job of this election still runs on this machine. Answer: `ChildStarted`;
    later `ChildExited`."""

    request: int
    token: int
    command: tuple[str, ...]


@attrs.frozen(kw_only=True)
class StopChild(Effect):
    """SIGTERM the job's process group now, SIGKILL it after `grace` seconds.
    Answer: `ChildExited` when the job has gone."""

    pid: int
    grace: float


@attrs.frozen(kw_only=True)
class PublishMember(Effect):
    """Make our member node `path` (ephemeral) show `state`, entered at monotonic `since`,
    and `token` while Leader. `create`: there is no node of this session yet (make it,
    replacing one an earlier session of ours left); otherwise update it (making it again
    if someone deleted it). Answer: `MemberPublished`."""

    request: int
    path: str
    state: str
    since: float
    token: int | None
    create: bool


@attrs.frozen(kw_only=True)
class ReadControl(Effect):
    """Read the operator's control nodes (`election.control`: the pause, the hand-over
    request) and watch them. Answer: `ControlRead`; later `ControlChanged`."""

    request: int
    pause_path: str
    handover_path: str


@attrs.frozen(kw_only=True)
class ReadMembers(Effect):
    """List the live member nodes under `path` with their priorities, and watch the
    list. `known`: (replica, priority) of members whose priority the caller knows
    already (from the queue's names): their nodes need not be read. Answer:
    `MembersRead`; later `MembersChanged`."""

    request: int
    path: str
    known: tuple[tuple[str, int], ...] = ()


@attrs.frozen(kw_only=True)
class Exit(Effect):
    """End the process with `code` once the journal is flushed."""

    code: int = 0
    reason: str = ""


EFFECT_TYPES: tuple[type[Effect], ...] = (
    StartTimer,
    CancelTimer,
    Connect,
    CloseSession,
    CheckFileDir,
    EnsurePath,
    CreateNode,
    ReadNode,
    ReadQueue,
    MarkNode,
    ReleaseNode,
    WriteLeaderFile,
    PruneFiles,
    StartChild,
    StopChild,
    PublishMember,
    ReadControl,
    ReadMembers,
    Exit,
)
"""Every concrete effect type; the journal tags each by its class name."""

ZOOKEEPER_EFFECTS: tuple[type[Effect], ...] = (
    Connect,
    CloseSession,
    EnsurePath,
    CreateNode,
    ReadNode,
    ReadQueue,
    MarkNode,
    ReleaseNode,
    PublishMember,
    ReadControl,
    ReadMembers,
)
"""The effects a ZooKeeper handler runs: the daemon's adapter and the simulator's."""
