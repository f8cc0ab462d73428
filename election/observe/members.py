"""Member nodes: what a replica publishes about itself, and how `election top` reads it.

Pure: no ZooKeeper, no clock (times come in as arguments). A member node's data is
written by our daemons but lives in a shared ZooKeeper, so reading it trusts nothing:
any bytes become a `MemberRow`, at worst an unreadable one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from election.core.reducer import members_path as members_path  # where they live

MAX_MEMBER_BYTES: Final = 16 * 1024  # our documents are ~250 bytes; more is not ours
FLASH_SECONDS: Final = 2.0  # a row whose state changed this recently is highlighted
LEFT_SECONDS: Final = 5.0  # a replica that left stays in `top` this long, saying how
STOPPED: Final = "stopped"  # it went through Stopping: a graceful stop
SESSION_LOST: Final = "session lost"  # its node went from another state: crash, expiry
KNOWN_STATES: Final = ("Init", "Attempter", "Leader", "Failover", "Stopping")
_MAX_TEXT: Final = 128


def member_document(
    *,
    replica: str,
    state: str,
    since: float,
    token: int | None,
    metrics: str | None,
    host: str,
    pid: int,
    version: str,
    priority: int = 1,
    started: int | None = None,
) -> bytes:
    """The JSON a replica keeps in its member node (`since`: Unix seconds it entered
    `state`; `token` only while Leader; `priority` as `--priority` set it; `started`: when
    its process started, in clock ticks since boot, which tells its run from a later one
    in the same pid: `election.runtime.incarnation`)."""
    doc = {
        "replica": replica,
        "state": state,
        "since": round(since, 3),
        "token": token,
        "metrics": metrics,
        "host": host,
        "pid": pid,
        "version": version,
        "priority": priority,
        "started": started,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@attrs.frozen(kw_only=True)
class MemberRow:
    """One replica as `election top` shows it; `problem` set means unreadable."""

    name: str  # the member node's name (the replica id it claims to be)
    state: str = ""
    since: float | None = None  # Unix seconds
    token: int | None = None
    host: str = ""
    pid: int | None = None
    started: int | None = None  # its process's start (clock ticks since boot)
    metrics: str = ""
    version: str = ""
    priority: int = 1  # a node written before priorities: every replica was 1
    problem: str = ""
    flash: bool = False  # the state changed within FLASH_SECONDS (as top observed it)
    session: int | None = None  # the session that holds the member node (ephemeralOwner)
    # Why its data cannot be believed, though its node lives (`judge`): '' when it can.
    stale: str = ""
    # How it left, for a row `election top` keeps a few seconds after its node went
    # (`Departures`): STOPPED or SESSION_LOST; '' for a live member.
    left: str = ""
    left_at: float | None = None  # when top saw it gone (monotonic)

    @property
    def readable(self) -> bool:
        return not self.problem

    @property
    def leader(self) -> bool:
        """It says Leader, and the head of the queue agrees."""
        return self.readable and self.state == "Leader" and not self.stale

    def in_state(self, now: float) -> float | None:
        """Seconds in the current state at wall time `now` (never negative)."""
        return None if self.since is None else max(0.0, now - self.since)


def _text(doc: Mapping[str, Any], key: str, required: bool = False) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text")
    if len(value) > _MAX_TEXT or not value.isprintable():
        raise ValueError(f"{key} is not a short printable text")
    return value


def _int(doc: Mapping[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError(f"{key} is not a non-negative 64-bit integer")
    return value


def _priority(doc: Mapping[str, Any]) -> int:
    value = _int(doc, "priority")
    return 1 if value is None else value


def parse_member(name: str, data: bytes | None) -> MemberRow:
    """A row from a member node's name and data; never raises."""
    shown = name if name.isprintable() and len(name) <= _MAX_TEXT else repr(name)[:_MAX_TEXT]
    if data is None:
        return MemberRow(name=shown, problem="no data")
    if len(data) > MAX_MEMBER_BYTES:
        return MemberRow(name=shown, problem=f"too large ({len(data)} bytes)")
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        state = _text(doc, "state", required=True)
        if state not in KNOWN_STATES:
            raise ValueError("unknown state")
        since = doc.get("since")
        if since is not None and (
            isinstance(since, bool)
            or not isinstance(since, int | float)
            or not math.isfinite(since)
        ):
            raise ValueError("since is not a number")
        return MemberRow(
            name=shown,
            state=state,
            since=None if since is None else float(since),
            token=_int(doc, "token"),
            host=_text(doc, "host"),
            pid=_int(doc, "pid"),
            started=_int(doc, "started"),
            metrics=_text(doc, "metrics"),
            version=_text(doc, "version"),
            priority=_priority(doc),
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        reason = str(exc).splitlines()[0][:60] if str(exc) else type(exc).__name__
        return MemberRow(name=shown, problem=f"unreadable: {reason}")


class FlashTracker:
    """Remembers when top saw each replica's state change, to highlight hand-overs.

    A replica seen for the first time does not flash (top just started); one whose state
    differs from the last snapshot does, for FLASH_SECONDS of `now` (monotonic)."""

    def __init__(self, seconds: float = FLASH_SECONDS) -> None:
        self._seconds = seconds
        self._last: dict[str, str] = {}
        self._changed_at: dict[str, float] = {}

    def mark(self, rows: list[MemberRow], now: float) -> list[MemberRow]:
        seen = set()
        out = []
        for row in rows:
            seen.add(row.name)
            key = row.state if row.readable else "?"
            previous = self._last.get(row.name)
            if previous is not None and previous != key:
                self._changed_at[row.name] = now
            self._last[row.name] = key
            changed = self._changed_at.get(row.name)
            flash = changed is not None and now - changed < self._seconds
            out.append(attrs.evolve(row, flash=flash))
        for gone in set(self._last) - seen:  # forget replicas that left
            self._last.pop(gone, None)
            self._changed_at.pop(gone, None)
        return out


class Departures:
    """Remembers the replicas whose member node went, and how they left, for `top` to
    show a few seconds (`LEFT_SECONDS`) instead of a row vanishing without a trace.

    How is told by the node's last word: a replica that stops shows Stopping just before
    its session closes, so one last seen in Stopping, or whose node changed after our
    last read (`changed`: its watch fired; the change is too close to the close to be
    read), stopped; one whose node went from another state lost its session — a crash
    (its keeper closed the session), or a replica cut off until its session expired."""

    def __init__(self, seconds: float = LEFT_SECONDS) -> None:
        self._seconds = seconds
        self._last: dict[str, MemberRow] = {}
        self._left: dict[str, MemberRow] = {}

    def mark(
        self, rows: Iterable[MemberRow], now: float, changed: Iterable[str] = ()
    ) -> list[MemberRow]:
        """The rows of those that left within `seconds` of `now` (monotonic), given
        this read's `rows` and the names whose node changed since the last read."""
        current = {row.name: row for row in rows}
        moved = set(changed)
        for name, last in self._last.items():
            if name not in current and name not in self._left:
                said_stop = last.state == "Stopping" or name in moved
                how = STOPPED if said_stop else SESSION_LOST
                self._left[name] = attrs.evolve(last, left=how, left_at=now, flash=False)
        self._last = current
        for name, gone in list(self._left.items()):
            at = gone.left_at if gone.left_at is not None else now
            if name in current or now - at >= self._seconds:
                del self._left[name]  # back again, or long enough
        return sorted(self._left.values(), key=lambda row: row.name)


def build_rows(members: Mapping[str, bytes | None]) -> list[MemberRow]:
    """Rows for every member node, sorted: the leader first, then by name."""
    return ordered(parse_member(name, data) for name, data in members.items())


def ordered(rows: Iterable[MemberRow]) -> list[MemberRow]:
    """The leader first, then by name."""
    return sorted(rows, key=lambda r: (not r.leader, r.name))


def judge(
    rows: Iterable[MemberRow],
    sessions: Mapping[str, int],
    *,
    holder: str | None,
    holder_session: int | None,
    holder_token: int | None,
) -> list[MemberRow]:
    """The rows with their sessions (member name -> ephemeralOwner), and those that say
    Leader against the queue marked stale: a replica that stopped answering keeps its
    member node until its session expires, and its last word may be Leader. Only the head
    of the queue says who leads: a node of the member's own session, of the token the
    member names. `holder*` describe it (None: nobody queues)."""
    judged = []
    for row in rows:
        session = sessions.get(row.name)
        stale = ""
        if row.readable and row.state == "Leader":
            if holder_session is None:
                stale = "says Leader, but no replica leads the queue"
            elif session != holder_session:
                stale = f"says Leader, but another session leads the queue ({holder})"
            elif row.token is not None and row.token != holder_token:
                stale = f"says Leader of token {row.token}, the queue's head's is {holder_token}"
        judged.append(attrs.evolve(row, session=session, stale=stale))
    return ordered(judged)


def format_duration(seconds: float | None) -> str:
    """`4.2s`, `3m05s`, `2h03m`: short and stable in width."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
