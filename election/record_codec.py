"""The journal's contents as JSON and back: records, the reducer's state, and the
snapshots of it: the one that heads a rotated segment, and the periodic one a record
carries every `SNAPSHOT_EVERY` records (a `Checkpoint`), from which a replay of a time
window starts without folding the history before it.

Beneath both the daemon (`election.runtime.journaling` writes with it) and
`election-replay` (which reads with it), so it imports only the pure core and the
journal package: never `election.runtime`, kazoo, rich or prometheus_client.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from election.core.effects import EFFECT_TYPES, Effect
from election.core.events import EVENT_TYPES, Event
from election.core.record import Record
from election.core.snapshot import Snapshot, snapshot_of, state_of
from election.core.state import State
from journal import Codec, CodecError

__all__ = [
    "CODEC",
    "SNAPSHOT_EVERY",
    "STATE_CODEC",
    "Checkpoint",
    "checkpoint_from_line",
    "checkpoint_json",
    "record_from_json",
    "record_to_json",
    "snapshot_from_header",
    "snapshot_header",
    "state_from_json",
    "state_to_json",
]

# Events and effects, tagged by their class names.
CODEC: Final = Codec((*EVENT_TYPES, *EFFECT_TYPES))

# The reducer's whole state, for the snapshot that heads each rotated journal segment:
# its flat wire form, tagged "State" as it always was.
STATE_CODEC: Final = Codec((Snapshot,), omit=(), tags={Snapshot: "State"})


def record_to_json(record: Record) -> dict[str, Any]:
    """The contract's record line: seq, at, wall, event, state, then effects and, on a
    state change, where from and why; the token while Leader."""
    line: dict[str, Any] = {
        "seq": record.seq,
        "at": record.at,
        "wall": record.wall,
        "event": CODEC.encode(record.event),
        "state": record.state,
        "effects": CODEC.encode_many(record.effects),
    }
    if record.previous:
        line["previous"] = record.previous
        line["cause"] = record.cause
        if record.why:
            line["why"] = record.why
    if record.token is not None:
        line["token"] = record.token
    return line


def record_from_json(line: dict[str, Any]) -> Record:
    """Rebuild a record from its line (raises `journal.CodecError` on a bad one)."""
    event = CODEC.decode(line["event"], at=line["at"])
    if not isinstance(event, Event):
        raise CodecError(f"event: {type(event).__name__} is not an event")
    effects = CODEC.decode_many(line.get("effects", []))
    for effect in effects:
        if not isinstance(effect, Effect):
            raise CodecError(f"effects: {type(effect).__name__} is not an effect")
    return Record(
        seq=line["seq"],
        at=line["at"],
        wall=line["wall"],
        event=event,
        state=line["state"],
        effects=tuple(e for e in effects if isinstance(e, Effect)),  # all are, checked above
        previous=line.get("previous", ""),
        cause=line.get("cause", ""),
        why=str(line.get("why", "")),
        token=line.get("token"),
    )


# What a snapshot's field holds when it says nothing: left out of the JSON (a reader fills
# it in again), so a snapshot stays about as small as it was before the state grew.
_SNAPSHOT_DEFAULTS: dict[str, Any] = {
    name: STATE_CODEC.converter.unstructure(field.default)
    for name, field in attrs.fields_dict(Snapshot).items()
    if field.default is not attrs.NOTHING
}


def state_to_json(state: State) -> dict[str, Any]:
    """The whole state as JSON-able data (tagged `{"type": "State", ...}`); fields at
    their defaults are left out."""
    data = STATE_CODEC.encode(snapshot_of(state))
    return {
        k: v for k, v in data.items() if k not in _SNAPSHOT_DEFAULTS or v != _SNAPSHOT_DEFAULTS[k]
    }


def state_from_json(data: object) -> State:
    """The state back from `state_to_json`'s data; `journal.CodecError` if it is not one."""
    snapshot = STATE_CODEC.decode(data)
    if not isinstance(snapshot, Snapshot):
        raise CodecError(f"{type(snapshot).__name__} is not a State")
    try:
        return state_of(snapshot)
    except ValueError as exc:
        raise CodecError(str(exc)) from None


# A record carries a snapshot of the state when its seq is a multiple of this: a window
# of a replay then folds at most this many records before its start, at any record rate.
# 1000 records: about 1 KB of snapshot each, 0.4 % of the journal's bytes (docs/replay.md).
SNAPSHOT_EVERY: Final = 1000


@attrs.frozen(kw_only=True)
class Checkpoint:
    """A snapshot of the state in a journal: the state after record `seq`.

    `entered` is (seq, wall) of the record that entered the state it is in (and its
    token: where a term began); `line`, the number of the line carrying the snapshot in
    its file, and `header`, the byte offset of its run's header there, when the writer
    knew them (a periodic snapshot; a segment's header is line 1 and its own header).
    """

    seq: int
    state: State
    entered: tuple[int, float] | None = None
    line: int | None = None
    header: int | None = None


def checkpoint_json(
    seq: int,
    state: State,
    entered: tuple[int, float] | None,
    *,
    line: int | None = None,
    header: int | None = None,
) -> dict[str, Any]:
    """The `snapshot` object of a record or a segment header (see `Checkpoint`)."""
    snapshot: dict[str, Any] = {"seq": seq, "state": state_to_json(state)}
    if entered is not None:
        snapshot["entered"] = {"seq": entered[0], "wall": entered[1]}
    if line is not None:
        snapshot["line"] = line
    if header is not None:
        snapshot["header"] = header
    return snapshot


def snapshot_header(
    seq: int, state: State, entered: tuple[int, float] | None = None
) -> dict[str, Any]:
    """The keys a rotated segment's header gets: the state after record `seq`, so the
    segment replays on its own (`JournalWriter(segment_header=...)` merges them in)."""
    return {"snapshot": checkpoint_json(seq, state, entered)}


def snapshot_from_header(header: dict[str, Any]) -> tuple[int, State] | None:
    """(seq, state) of a segment header's snapshot, None if it has none.

    Raises `journal.CodecError` for a snapshot that is not one.
    """
    checkpoint = checkpoint_from_line(header)
    return None if checkpoint is None else (checkpoint.seq, checkpoint.state)


def checkpoint_from_line(line: dict[str, Any]) -> Checkpoint | None:
    """The snapshot a record or a header carries, None if it has none.

    Raises `journal.CodecError` for a snapshot that is not one.
    """
    snapshot = line.get("snapshot")
    if snapshot is None:
        return None
    if not isinstance(snapshot, dict):
        raise CodecError("snapshot: expected an object")
    seq = snapshot.get("seq")
    if type(seq) is not int or seq < 0:
        raise CodecError(f"snapshot: 'seq' must be an int >= 0, got {seq!r}")
    try:
        state = state_from_json(snapshot.get("state"))
    except CodecError as exc:
        raise CodecError(f"snapshot: {exc}") from None
    entered = snapshot.get("entered")
    where: tuple[int, float] | None = None
    if isinstance(entered, dict):
        entered_seq, wall = entered.get("seq"), entered.get("wall")
        if type(entered_seq) is int and isinstance(wall, int | float) and type(wall) is not bool:
            where = (entered_seq, float(wall))
    return Checkpoint(
        seq=seq,
        state=state,
        entered=where,
        line=_count(snapshot.get("line")),
        header=_count(snapshot.get("header")),
    )


def _count(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None
