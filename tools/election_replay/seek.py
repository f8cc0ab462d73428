"""Where the fold of a time window starts in a journal, found without reading the
records before it.

The daemon writes a snapshot of its state into every `SNAPSHOT_EVERY`-th record (by
seq), and into the header of every rotated segment (`election.record_codec`). To start a
window at wall time T in a file:

1. bisect the file by byte offset on wall time: at each step, the line after the next
   newline is decoded for its `wall` (a header's `started_wall`), down to the first line
   at or after T;
2. search backwards from there, byte-wise (`rfind` of the snapshot's key, no decoding),
   for the nearest line a fold can start from: a record carrying a snapshot, or a header;
3. decode that one line, and its run's header, whose byte offset the snapshot holds (as
   it holds its own line number: nothing before it is counted).

Steps 1 and 3 decode a few dozen lines; step 2 reads the bytes of at most
`SNAPSHOT_EVERY` records. A journal written before periodic snapshots offers only its
headers: step 2 goes back to the last header before T (at memory speed, but over all the
bytes between), and the fold from there costs what the run holds up to T.

Wall time is assumed not to step back within a file by more than the window's lead-in;
the records of a run are numbered without gaps (the writer refuses any other), which is
what lets a snapshot's line stand for the lines before it.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator

import attrs
import orjson

from election.record_codec import Checkpoint, checkpoint_from_line
from journal import CodecError, JournalError, JsonObject, is_header

_SNAPSHOT_MARK = b'"snapshot":{'  # a key: inside a string JSON escapes the quotes
_HEADER_MARK = b'{"journal":'  # the writer puts "journal" first in every header


@attrs.frozen(kw_only=True)
class StartPoint:
    """Where to read a file from, and what is known there.

    `after` is the record whose snapshot the fold starts from (then `offset` is the line
    after it), or None when the fold starts at the header at `offset` (its run's first,
    or a rotated segment's), which gives the state itself.
    """

    offset: int
    line: int  # the number of the line at `offset`
    after: Checkpoint | None
    record: JsonObject | None  # the record carrying `after`
    header: JsonObject  # the header of the run the start lies in
    wall: float  # the wall time of the start: that record's, or the header's start

    @property
    def usable(self) -> bool:
        """False for a rotated segment's header without a snapshot (written before the
        daemon's loop existed): only the segment before it can give its state."""
        if self.after is not None:
            return True
        return not self.header.get("segment") or "snapshot" in self.header


def first_wall(path: str | os.PathLike[str]) -> float | None:
    """The wall time of the file's first record (its header's start if it has none)."""
    with _mapped(path) as mm:
        if mm is None:
            return None
        end = mm.find(b"\n")
        if end < 0:
            return None
        return _wall_from(mm, end + 1) or _wall_of(decode_line_at(mm, 0))


def find_start(path: str | os.PathLike[str], since: float) -> StartPoint | None:
    """The nearest start point before the first line of `path` at or after `since`
    (`float("inf")`: the file's last), None for an empty file."""
    with _mapped(path) as mm:
        if mm is None:
            return None
        target = _first_at_or_after(mm, since)
        return _start_before(os.fspath(path), mm, target, since)


class _Mapped:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 (closed in __exit__)
        size = os.fstat(self._file.fileno()).st_size
        self.map = None if size == 0 else mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)

    def __enter__(self) -> mmap.mmap | None:
        return self.map

    def __exit__(self, *_: object) -> None:
        if self.map is not None:
            self.map.close()
        self._file.close()


def _mapped(path: str | os.PathLike[str]) -> _Mapped:
    try:
        return _Mapped(path)
    except OSError as exc:
        raise JournalError(path, 0, f"cannot open: {exc.strerror or exc}") from None


def _line_start_at_or_after(mm: mmap.mmap, offset: int) -> int:
    if offset <= 0:
        return 0
    newline = mm.find(b"\n", offset - 1)
    return len(mm) if newline < 0 else newline + 1


def decode_line_at(mm: mmap.mmap, start: int) -> JsonObject | None:
    """The object on the line at `start`, None if it is not one (a torn line)."""
    end = mm.find(b"\n", start)
    if end < 0:
        return None
    try:
        obj = orjson.loads(mm[start:end])
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _wall_of(obj: JsonObject | None) -> float | None:
    if obj is None:
        return None
    wall = obj.get("started_wall") if is_header(obj) else obj.get("wall")
    return float(wall) if isinstance(wall, int | float) and type(wall) is not bool else None


def _lines(mm: mmap.mmap, start: int) -> Iterator[tuple[int, JsonObject | None]]:
    while start < len(mm):
        yield start, decode_line_at(mm, start)
        newline = mm.find(b"\n", start)
        if newline < 0:
            return
        start = newline + 1


def _wall_from(mm: mmap.mmap, start: int) -> float | None:
    """The wall time of the first decodable line at or after `start`."""
    for _, obj in _lines(mm, start):
        wall = _wall_of(obj)
        if wall is not None:
            return wall
    return None


def _first_at_or_after(mm: mmap.mmap, since: float) -> int:
    """The start of the first record whose wall time is `since` or later (the file's
    length if none is): a bisection on byte offsets, then a few lines read in order."""
    lo, hi = 0, len(mm)  # lo: a line start before `since` (or 0); hi: one at/after it
    while True:
        mid = _line_start_at_or_after(mm, (lo + hi) // 2)
        if mid <= lo or mid >= hi:
            break
        wall = _wall_from(mm, mid)
        if wall is not None and wall < since:
            lo = mid
        else:
            hi = mid
    for start, obj in _lines(mm, lo):
        if start >= hi:
            break
        wall = _wall_of(obj)
        if wall is not None and wall >= since and not is_header(obj):  # a record's
            return start
    return hi


def _candidates(mm: mmap.mmap, before: int) -> Iterator[int]:
    """Starts of the lines before offset `before` that may be start points, nearest
    first: those holding a snapshot's key, and headers."""
    pos = before
    while pos > 0:
        snapshot = mm.rfind(_SNAPSHOT_MARK, 0, pos)
        header = mm.rfind(b"\n" + _HEADER_MARK, 0, pos)
        found = max(
            mm.rfind(b"\n", 0, snapshot) + 1 if snapshot >= 0 else -1,
            header + 1 if header >= 0 else -1,
            0 if mm[: len(_HEADER_MARK)] == _HEADER_MARK else -1,
        )
        if found < 0:
            return
        yield found
        pos = found


def _start_before(path: str, mm: mmap.mmap, target: int, since: float) -> StartPoint | None:
    for start in _candidates(mm, target):
        obj = decode_line_at(mm, start)
        if obj is None:
            continue
        if is_header(obj):
            wall = _wall_of(obj) or 0.0
            if wall > since and start > 0:
                # A run that began after `since`: the state then is the run before's.
                continue
            line = _line_number(path, mm, start)
            return StartPoint(
                offset=start, line=line, after=None, record=None, header=obj, wall=wall
            )
        checkpoint = _checkpoint(path, mm, start, obj)
        if checkpoint is None:
            continue  # the key inside something else: not a snapshot of the state
        line = checkpoint.line if checkpoint.line is not None else _line_number(path, mm, start)
        header = _run_header(mm, start, checkpoint.header)
        if header is None:
            raise JournalError(path, line, "snapshot: no header of its run before it")
        return StartPoint(
            offset=_line_start_at_or_after(mm, start + 1),
            line=line + 1,
            after=checkpoint,
            record=obj,
            header=header,
            wall=float(obj["wall"]),
        )
    return None


def _checkpoint(path: str, mm: mmap.mmap, start: int, obj: JsonObject) -> Checkpoint | None:
    if not isinstance(obj.get("snapshot"), dict) or type(obj.get("seq")) is not int:
        return None
    try:
        checkpoint = checkpoint_from_line(obj)
    except CodecError as exc:
        raise JournalError(path, _line_number(path, mm, start), str(exc)) from None
    if (
        checkpoint is None
        or checkpoint.seq != obj["seq"]
        or type(obj.get("wall")) not in (int, float)
    ):
        return None
    return checkpoint


def _run_header(mm: mmap.mmap, start: int, offset: int | None) -> JsonObject | None:
    """The header of the run the record at `start` belongs to: at `offset` (as its
    snapshot says), else the last header before it."""
    if offset is not None and 0 <= offset < start:
        obj = decode_line_at(mm, offset)
        if obj is not None and is_header(obj):
            return obj
    header = mm.rfind(b"\n" + _HEADER_MARK, 0, start)
    found = decode_line_at(mm, header + 1 if header >= 0 else 0)
    return found if found is not None and is_header(found) else None


def _line_number(path: str, mm: mmap.mmap, start: int) -> int:
    """The number of the line at `start`: counted from the nearest snapshot before it
    that knows its own line (the file's start if none does)."""
    anchor, number = 0, 1
    for candidate in _candidates(mm, start):
        obj = decode_line_at(mm, candidate)
        snapshot = None if obj is None else obj.get("snapshot")
        if isinstance(snapshot, dict) and type(snapshot.get("line")) is int:
            anchor, number = candidate, snapshot["line"]
            break
    return number + mm[anchor:start].count(b"\n")


def records_before(
    path: str | os.PathLike[str], offset: int, line: int, count: int
) -> list[tuple[int, JsonObject]]:
    """Up to `count` records of the run just before byte `offset` (line number `line`),
    in order, with their line numbers; only those that start or fire timers are decoded
    (`b"Timer"` in the line), the others only counted. What a window's freeze detector
    needs to know of the timers live at its start."""
    with _mapped(path) as mm:
        if mm is None or offset <= 0:
            return []
        begin = offset
        for _ in range(count):
            if begin <= 0:
                break
            begin = mm.rfind(b"\n", 0, begin - 1) + 1
        chunk = mm[begin:offset].splitlines()
    found: list[tuple[int, JsonObject]] = []
    first = line - len(chunk)
    for index, raw in enumerate(chunk):
        if raw.startswith(_HEADER_MARK):
            found = []  # an earlier run's records: its timers died with it
            continue
        if b"Timer" not in raw:
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "seq" in obj and "wall" in obj:
            found.append((first + index, obj))
    return found
