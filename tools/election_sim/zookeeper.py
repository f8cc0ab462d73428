"""The simulated ZooKeeper server: sessions, expiry, nodes, sequential names and watches.

What the election depends on, and nothing more: a global `zxid` counter (a node's `czxid`
is the fencing token), sessions that expire when their client has been silent for longer
than their timeout, persistent nodes (the election path, the queue's parent) and
ephemeral ones owned by a session (`ephemeralOwner`) and deleted with it, sequential
names from a per-parent counter (so a later node always sorts after an earlier one),
and one-shot watches: data watches (exists) that fire CREATED/DELETED/CHANGED and child
watches (get_children) that fire CHILD. During an outage the server answers nothing and
expires nothing; when it comes back every session's countdown starts again (a restarted
ZooKeeper restores its sessions with fresh timeouts).

It also keeps the ground truth the simulation is judged by beside the journals: a
session that ever held two queue nodes at once (`problems`).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from election.core.queue import SEQUENCE_DIGITS, in_order

WatchSink = Callable[[str, str], None]  # (path, kind) -> deliver to the session's client
CHILD = "CHILD"  # a child watch fired: a child came or went


@attrs.define
class Session:
    id: int
    timeout: float
    last_contact: float
    in_contact: Callable[[], bool]  # is its client connected and reachable right now?
    on_watch: WatchSink
    expired: bool = False  # expired or closed: it never comes back


@attrs.define
class Node:
    czxid: int
    owner: int  # ephemeralOwner: the session id (0: a persistent node)
    version: int = 0


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class SimZooKeeper:
    def __init__(self, first_session_id: int = 0x1000) -> None:
        self.zxid = 0
        self.up = True
        self.sessions: dict[int, Session] = {}
        self.nodes: dict[str, Node] = {}  # ephemeral nodes: the candidates' queue nodes
        self.persistent: dict[str, int] = {"/": 0}  # path -> czxid
        self.counters: dict[str, int] = {}  # parent -> its next sequence number
        # Member nodes: path -> (owner session, what it shows); ephemeral like the queue
        # nodes, but kept apart so that they count in no listing of the queue.
        self.members: dict[str, tuple[int, object]] = {}
        # The operator's control nodes (`election.control`): path -> what it says.
        self.control: dict[str, object] = {}
        self.watches: dict[str, list[int]] = {}  # path -> session ids, one-shot (data)
        self.child_watches: dict[str, list[int]] = {}  # parent -> session ids, one-shot
        self.problems: list[str] = []  # ground truth: what must never happen, if it did
        self._next_session = first_session_id

    # --- sessions ----------------------------------------------------------------------

    def new_session(
        self, timeout: float, now: float, in_contact: Callable[[], bool], on_watch: WatchSink
    ) -> Session:
        self._next_session += 1
        self.zxid += 1  # createSession is a transaction too
        session = Session(self._next_session, timeout, now, in_contact, on_watch)
        self.sessions[session.id] = session
        return session

    def tick(self, now: float) -> None:
        """Refresh sessions whose client is in contact; expire the silent ones."""
        if not self.up:
            return
        for session in list(self.sessions.values()):
            if session.in_contact():
                session.last_contact = now
            elif now - session.last_contact > session.timeout:
                self.end_session(session)

    def end_session(self, session: Session) -> None:
        """Expiry or close: its ephemeral nodes go (watchers hear of it), its watches go."""
        session.expired = True
        del self.sessions[session.id]
        for registry in (self.watches, self.child_watches):
            for ids in registry.values():
                while session.id in ids:
                    ids.remove(session.id)
        for path in [p for p, node in self.nodes.items() if node.owner == session.id]:
            self._delete(path)
        for path in [p for p, (owner, _) in self.members.items() if owner == session.id]:
            del self.members[path]
            self._fire_children(_parent(path))

    def outage(self) -> None:
        self.up = False

    def recover(self, now: float) -> None:
        self.up = True
        for session in self.sessions.values():
            session.last_contact = now

    def drop_watches(self, session_id: int) -> list[str]:
        """The paths this session watched; the watches are gone (fired NONE by the client)."""
        paths = []
        for registry in (self.watches, self.child_watches):
            for path, ids in registry.items():
                if session_id in ids:
                    paths.append(path)
                    ids[:] = [i for i in ids if i != session_id]
        return paths

    # --- operations (the session is live) -------------------------------------------------

    def ensure_path(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            made = "/" + "/".join(parts[:i])
            if made not in self.persistent:
                self.zxid += 1
                self.persistent[made] = self.zxid
                self._fire(made, "CREATED")

    def create_sequential(self, session: Session, prefix: str) -> tuple[str, int] | str:
        """An ephemeral sequential node named `prefix` + the parent's next sequence
        number: its path and czxid, or why not ("no-parent")."""
        parent = _parent(prefix)
        if parent not in self.persistent:
            return "no-parent"
        sequence = self.counters.get(parent, 0)
        self.counters[parent] = sequence + 1
        path = f"{prefix}{sequence:0{SEQUENCE_DIGITS}d}"
        mine = [n.name for n in in_order(self.children(parent) or []) if n.of_session(session.id)]
        if mine:
            self.problems.append(
                f"session 0x{session.id:x} made {path.rsplit('/', 1)[-1]} while it held "
                f"{', '.join(mine)}: two queue nodes of one session"
            )
        self.zxid += 1
        self.nodes[path] = Node(czxid=self.zxid, owner=session.id)
        self._fire(path, "CREATED")
        self._fire_children(parent)
        return path, self.zxid

    def exists(self, session: Session, path: str, watch: bool) -> Node | None:
        if watch:
            watchers = self.watches.setdefault(path, [])
            if session.id not in watchers:
                watchers.append(session.id)
        if path in self.persistent:
            return Node(czxid=self.persistent[path], owner=0)
        return self.nodes.get(path)

    def children(self, parent: str, session: Session | None = None) -> list[str] | None:
        """The names of the ephemeral nodes under `parent` (None: no such node), with a
        child watch for `session` if given."""
        if parent not in self.persistent:
            return None
        if session is not None:
            watchers = self.child_watches.setdefault(parent, [])
            if session.id not in watchers:
                watchers.append(session.id)
        prefix = parent.rstrip("/") + "/"
        return sorted(p[len(prefix) :] for p in self.nodes if _parent(p) == parent)

    def head(self, parent: str) -> tuple[str, Node] | None:
        """The queue node of the lowest sequence under `parent`: who leads."""
        nodes = in_order(self.children(parent) or [])
        if not nodes:
            return None
        path = f"{parent}/{nodes[0].name}"
        return path, self.nodes[path]

    def set_data(self, path: str) -> Node | None:
        """Write a node's data again: its version grows, its watchers hear CHANGED."""
        node = self.nodes.get(path)
        if node is None:
            return None
        node.version += 1
        self.zxid += 1
        self._fire(path, "CHANGED")
        return node

    def publish_member(self, session: Session, path: str, shows: object) -> None:
        """Create or update the member node `path` for `session` (a node an earlier
        session left is replaced, as the daemon's adapter does)."""
        new = path not in self.members
        self.members[path] = (session.id, shows)
        if new:
            self._fire_children(_parent(path))

    def members_of(self, session: Session, directory: str) -> list[str]:
        """The member nodes under `directory`, watching the list."""
        watchers = self.child_watches.setdefault(directory, [])
        if session.id not in watchers:
            watchers.append(session.id)
        prefix = directory + "/"
        return sorted(p[len(prefix) :] for p in self.members if p.startswith(prefix))

    def read_control(self, session: Session, path: str) -> object | None:
        """What the control node `path` says (None: it does not exist), watching it."""
        self.exists(session, path, watch=True)
        return self.control.get(path)

    def set_control(self, path: str, value: object) -> None:
        """The operator makes (or changes) a control node."""
        kind = "CHANGED" if path in self.control else "CREATED"
        self.control[path] = value
        self._fire(path, kind)

    def clear_control(self, path: str) -> None:
        if self.control.pop(path, None) is not None:
            self._fire(path, "DELETED")

    def delete_if(self, path: str, czxid: int) -> str:
        """Delete `path` only if it is the node `czxid`: "ok", "already gone" or "other"."""
        node = self.nodes.get(path)
        if node is None:
            return "already gone"
        if node.czxid != czxid:
            return "other"
        self._delete(path)
        return "ok"

    def _delete(self, path: str) -> None:
        del self.nodes[path]
        self.zxid += 1
        self._fire(path, "DELETED")
        self._fire_children(_parent(path))

    def _fire(self, path: str, kind: str) -> None:
        for session_id in self.watches.pop(path, []):
            session = self.sessions.get(session_id)
            if session is not None:
                session.on_watch(path, kind)

    def _fire_children(self, parent: str) -> None:
        for session_id in self.child_watches.pop(parent, []):
            session = self.sessions.get(session_id)
            if session is not None:
                session.on_watch(parent, CHILD)
