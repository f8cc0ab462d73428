"""The simulated ZooKeeper server: sessions, expiry, ephemeral nodes and one-shot watches.

What the election depends on, and nothing more: a global `zxid` counter (a node's `czxid`
is the fencing token), sessions that expire when their client has been silent for longer
than their timeout, ephemeral nodes owned by a session (`ephemeralOwner`) and deleted
with it, and one-shot watches that fire CREATED/DELETED. During an outage the server
answers nothing and expires nothing; when it comes back every session's countdown starts
again (a restarted ZooKeeper restores its sessions with fresh timeouts).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

WatchSink = Callable[[str, str], None]  # (path, kind) -> deliver to the session's client


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
    owner: int  # ephemeralOwner: the session id
    version: int = 0


class SimZooKeeper:
    def __init__(self, first_session_id: int = 0x1000) -> None:
        self.zxid = 0
        self.up = True
        self.sessions: dict[int, Session] = {}
        self.nodes: dict[str, Node] = {}
        self.persistent: set[str] = {"/"}
        # Member nodes: path -> (owner session, what it shows); ephemeral like the
        # election node, but kept apart so they do not count in the fencing tokens.
        self.members: dict[str, tuple[int, object]] = {}
        # The operator's control nodes (`election.control`): path -> what it says.
        self.control: dict[str, object] = {}
        self.watches: dict[str, list[int]] = {}  # path -> session ids, one-shot
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
        """Expiry or close: its ephemeral nodes go (watchers hear DELETED), its watches go."""
        session.expired = True
        del self.sessions[session.id]
        for paths in self.watches.values():
            while session.id in paths:
                paths.remove(session.id)
        for path in [p for p, node in self.nodes.items() if node.owner == session.id]:
            self._delete(path)
        for path in [p for p, (owner, _) in self.members.items() if owner == session.id]:
            del self.members[path]
            self._fire(path.rsplit("/", 1)[0], "CHILD")

    def outage(self) -> None:
        self.up = False

    def recover(self, now: float) -> None:
        self.up = True
        for session in self.sessions.values():
            session.last_contact = now

    def drop_watches(self, session_id: int) -> list[str]:
        """The paths this session watched; the watches are gone (fired NONE by the client)."""
        paths = []
        for path, ids in self.watches.items():
            if session_id in ids:
                paths.append(path)
                ids[:] = [i for i in ids if i != session_id]
        return paths

    # --- operations (the session is live) -------------------------------------------------

    def ensure_path(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.persistent.add("/" + "/".join(parts[:i]))

    def create_ephemeral(self, session: Session, path: str) -> int | str:
        """The new node's czxid, or why not: "node-exists" or "no-parent"."""
        parent = path.rsplit("/", 1)[0] or "/"
        if parent not in self.persistent:
            return "no-parent"
        if path in self.nodes or path in self.persistent:
            return "node-exists"
        self.zxid += 1
        self.nodes[path] = Node(czxid=self.zxid, owner=session.id)
        self._fire(path, "CREATED")
        return self.zxid

    def exists(self, session: Session, path: str, watch: bool) -> Node | None:
        if watch:
            watchers = self.watches.setdefault(path, [])
            if session.id not in watchers:
                watchers.append(session.id)
        return self.nodes.get(path)

    def publish_member(self, session: Session, path: str, shows: object) -> None:
        """Create or update the member node `path` for `session` (a node an earlier
        session left is replaced, as the daemon's adapter does)."""
        new = path not in self.members
        self.members[path] = (session.id, shows)
        if new:
            self._fire(path.rsplit("/", 1)[0], "CHILD")

    def members_of(self, session: Session, directory: str) -> list[str]:
        """The member nodes under `directory`, watching the list."""
        self.exists(session, directory, watch=True)
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

    def _fire(self, path: str, kind: str) -> None:
        for session_id in self.watches.pop(path, []):
            session = self.sessions.get(session_id)
            if session is not None:
                session.on_watch(path, kind)
