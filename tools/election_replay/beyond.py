"""How a term still open at a window's end ended: found in the journal beyond the
window, byte-wise, without folding what lies between.

The record that takes a replica out of Leader is the only one holding
`"previous":"Leader"` (a key and a value: inside a string JSON escapes the quotes), and a
new run starts with a header line. So the end of a term is the first of the two after
the window, in its file or the files after it: a search at memory speed (`mmap.find`),
then one line decoded. Its cost is the bytes of the term's remainder, not the history
before the window, and nothing is decoded but the line found.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Sequence
from typing import Any

import attrs

from election_replay.model import Where
from election_replay.seek import decode_line_at
from election_replay.segments import run_key, segment_index
from journal import JsonObject, is_header

_LEAVES_LEADER = b'"previous":"Leader"'
_HEADER_START = b'\n{"journal":'


@attrs.frozen(kw_only=True)
class Ending:
    """Where the open term ended: `record` (the one leaving Leader, with its `event`),
    or, without an event, the last record of a run that ended while Leader
    (`run_ended`: a later run followed) or of the whole journal."""

    record: Where
    event: JsonObject | None
    run_ended: bool
    why: str = ""  # the kind of the record's state change (journals from before it: "")


def term_end(
    files: Sequence[str],
    index: int,
    offset: int,
    line: int,
    run: tuple[Any, ...],
    last: Where,
) -> Ending:
    """The end of the term open at byte `offset` (line `line`) of `files[index]`, in the
    run `run` whose last record folded is `last`: searched there and in the files after
    it."""
    replica = last.replica
    for position in range(index, len(files)):
        path = files[position]
        start, number = (offset, line) if position == index else (0, 1)
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                continue
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                if position > index:  # a rotated segment: its header continues the run?
                    header = decode_line_at(mm, 0)
                    if header is None or not (segment_index(header) > 0 and run_key(header) == run):
                        return Ending(record=last, event=None, run_ended=True)
                    start = mm.find(b"\n") + 1
                    number = 2
                found = _search(replica, path, mm, start, number, last)
                if isinstance(found, Ending):
                    return found
                last = found
    return Ending(record=last, event=None, run_ended=False)


def _search(
    replica: str, path: str, mm: mmap.mmap, start: int, number: int, last: Where
) -> Ending | Where:
    """The term's end in this file from `start` (line `number`), or the file's last
    record (where the search goes on in the next file) when it holds neither."""
    leaves = mm.find(_LEAVES_LEADER, start)
    header = mm.find(_HEADER_START, max(start - 1, 0))
    if leaves >= 0 and (header < 0 or leaves < header):
        at = mm.rfind(b"\n", 0, leaves) + 1
        record = decode_line_at(mm, at)
        if record is not None and isinstance(record.get("event"), dict):
            where = _where(replica, path, record, number + mm[start:at].count(b"\n"))
            why = str(record.get("why", ""))
            return Ending(record=where, event=record["event"], run_ended=False, why=why)
    if header >= 0:  # a new run began: the term ended with the one before, a crash
        before = _last_record(mm, start, header + 1)
        where = last if before is None else _where(replica, path, before[1], number + before[0])
        return Ending(record=where, event=None, run_ended=True)
    tail = _last_record(mm, start, len(mm))
    return last if tail is None else _where(replica, path, tail[1], number + tail[0])


def _last_record(mm: mmap.mmap, start: int, end: int) -> tuple[int, JsonObject] | None:
    """The last decodable record ending before offset `end` and starting at `start` or
    later, with the count of lines from `start` to it."""
    stop = end - 1  # the newline ending the line before `end`
    while stop > start:
        at = mm.rfind(b"\n", start, stop) + 1
        if at == 0:
            at = start
        record = decode_line_at(mm, at)
        if record is not None and not is_header(record) and "wall" in record:
            return mm[start:at].count(b"\n"), record
        stop = at - 1  # a torn line (a crash mid-append): the one before it
    return None


def _where(replica: str, path: str, record: JsonObject, line: int) -> Where:
    return Where(replica, path, line, int(record.get("seq", 0)), float(record["wall"]))
