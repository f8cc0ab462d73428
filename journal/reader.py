"""Reading a journal: runs of records under their headers, torn tails tolerated.

A crash mid-append leaves at most one torn line at the end of a run: the last line of
the file, or (after a restart, which ends the torn line and appends a new header) the
line just before a header. Such a line is dropped and reported in `notes`. Anything
else that is wrong is a `JournalError` naming the file and line: a journal is evidence,
and guessing around damage would make a post-mortem lie. The input is never modified.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import orjson
from orjson import loads

from journal.format import JsonObject, header_problem, is_header, record_ok, record_problem

__all__ = [
    "Cursor",
    "JournalError",
    "JournalFile",
    "Run",
    "iter_lines",
    "iter_lines_from",
    "iter_records",
    "read_first_header",
    "read_headers",
    "read_journal",
]


class JournalError(Exception):
    """The journal cannot be read. `str()` is one line: `<path>:<line>: <message>`.

    `line` is 1-based; 0 means the file as a whole (missing, unreadable, ...).
    """

    def __init__(self, path: str | os.PathLike[str], line: int, message: str) -> None:
        super().__init__(path, line, message)
        self.path = os.fspath(path)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@attrs.frozen
class Run:
    """One run of the daemon: its header and its records, in file order.

    `first_line` is the header's line number (1-based).
    """

    header: JsonObject
    records: list[JsonObject]
    first_line: int


@attrs.frozen
class JournalFile:
    """A whole journal: its runs in order, and notes on tolerated damage."""

    path: Path
    runs: list[Run]
    notes: list[str]


def _torn_note(line: int, where: str) -> str:
    return f"line {line}: torn final line{where} ignored (crash mid-append?)"


def _open(path: Path) -> BinaryIO:
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise JournalError(path, 0, "no such file") from None
    except IsADirectoryError:
        raise JournalError(path, 0, "is a directory, not a journal file") from None
    except OSError as exc:
        raise JournalError(path, 0, f"cannot open: {exc.strerror or exc}") from None
    # A FIFO or device would block or never end; a journal is a regular file.
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise JournalError(path, 0, "not a regular file")
    return f


def _decode(raw: bytes) -> tuple[Any, str | None]:
    """The decoded JSON value, or None and why the line is not JSON."""
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "invalid UTF-8"
        return None, f"invalid JSON: {exc}" if raw.strip() else "blank line"


class _Scanner:
    """Checks a journal line by line, in file order: `usual` first (the common line: one
    `orjson.loads` and one `record_ok`), and `careful` for any line it declines."""

    def __init__(self, path: Path, notes: list[str]) -> None:
        self.path = path
        self.notes = notes
        self.in_run = False
        self.last_seq = -1  # of the current run; seqs start at 1
        # An undecodable line is held back until we know what follows it: a header (or
        # the end of the file) makes it a torn tail, anything else makes it corruption.
        self.pending: tuple[int, str] | None = None
        self.ended = False  # an unterminated (torn) last line was seen

    def usual(self, raw: bytes) -> JsonObject | None:
        """The record on a usual line (a well-formed record of the current run, after
        its seq, newline-terminated), checked in one `record_ok`; None for any other
        line, which then goes through `careful`."""
        if self.pending is None and raw[-1:] == b"\n":
            try:
                obj = loads(raw)  # a trailing newline is whitespace to JSON
            except orjson.JSONDecodeError:
                return None
            if type(obj) is dict and "journal" not in obj and self.in_run:
                seq = obj.get("seq")
                if type(seq) is int and seq > self.last_seq and record_ok(obj):
                    self.last_seq = seq
                    return obj
        return None

    def careful(self, number: int, raw: bytes) -> tuple[JsonObject, bool] | None:
        terminated = raw.endswith(b"\n")
        value, problem = _decode(raw[:-1] if terminated else raw)
        if self.pending is not None:
            if problem is None and terminated and is_header(value):
                self.notes.append(_torn_note(self.pending[0], " of a run"))
                self.pending = None
            else:
                raise JournalError(self.path, *self.pending)
        if not terminated:  # only the last line can lack its newline
            self.notes.append(_torn_note(number, ""))
            self.ended = True
            return None
        if problem is not None:
            self.pending = (number, problem)
            return None
        if not isinstance(value, dict):
            raise JournalError(
                self.path, number, f"expected a JSON object, got {type(value).__name__}"
            )
        if is_header(value):
            problem = header_problem(value)
            if problem is not None:
                raise JournalError(self.path, number, problem)
            self.in_run, self.last_seq = True, -1
            return value, True
        if not self.in_run:
            raise JournalError(self.path, number, "record before any header")
        problem = record_problem(value)
        if problem is not None:
            raise JournalError(self.path, number, problem)
        seq: int = value["seq"]
        if seq <= self.last_seq:
            raise JournalError(self.path, number, f"seq {seq} does not follow seq {self.last_seq}")
        self.last_seq = seq
        return value, False

    def finish(self, lines: int) -> None:
        if self.pending is not None:
            self.notes.append(_torn_note(self.pending[0], ""))
        if lines == 0:
            raise JournalError(self.path, 1, "empty file: expected a journal header")
        if not self.in_run:
            raise JournalError(self.path, 1, "no complete header line (only a torn line)")


def iter_lines(
    path: str | os.PathLike[str], notes: list[str]
) -> Iterator[tuple[int, JsonObject, bool]]:
    """(line number, object, is it a header) for every intact line, checked as
    `read_journal` checks, but lazily: a `JournalError` may come after some lines were
    yielded. Torn lines are appended to `notes`. Memory stays flat however long the file.
    """
    return _scan(Path(path), notes)


def _scan(path: Path, notes: list[str]) -> Iterator[tuple[int, JsonObject, bool]]:
    # `_scan_from`'s loop without its cursor: a whole fold reads this way, and the
    # cursor's bookkeeping made a full fold 1-1.5 % slower when the two were one.
    scanner = _Scanner(path, notes)
    number = 0
    with _open(path) as f:
        try:
            for number, raw in enumerate(f, 1):
                obj = scanner.usual(raw)
                checked = (obj, False) if obj is not None else scanner.careful(number, raw)
                if checked is not None:
                    yield number, *checked
                elif scanner.ended:
                    break
        except OSError as exc:
            raise JournalError(path, number + 1, f"read failed: {exc.strerror or exc}") from None
    scanner.finish(number)


@attrs.define
class Cursor:
    """Where `iter_lines_from` is: the byte offsets of the start and the end of the line
    it read last, and its number."""

    start: int = 0
    end: int = 0
    line: int = 0


def iter_lines_from(
    path: str | os.PathLike[str],
    notes: list[str],
    cursor: Cursor,
    *,
    offset: int,
    line: int,
    after_seq: int | None = None,
) -> Iterator[tuple[int, JsonObject, bool]]:
    """`iter_lines` from byte `offset` on (the start of line number `line`), keeping
    `cursor` at the line it yielded last. With `after_seq`, the reading starts inside a
    run whose record `after_seq` came just before; else `offset` must start a header.
    """
    return _scan_from(Path(path), notes, cursor, offset, line, after_seq)


def _scan_from(
    path: Path, notes: list[str], cursor: Cursor, offset: int, line: int, after_seq: int | None
) -> Iterator[tuple[int, JsonObject, bool]]:
    scanner = _Scanner(path, notes)
    if after_seq is not None:
        scanner.in_run, scanner.last_seq = True, after_seq
    number = line - 1
    with _open(path) as f:
        f.seek(offset)
        end = offset
        try:
            for number, raw in enumerate(f, line):
                cursor.start, end = end, end + len(raw)
                cursor.end, cursor.line = end, number
                obj = scanner.usual(raw)
                checked = (obj, False) if obj is not None else scanner.careful(number, raw)
                if checked is not None:
                    yield number, *checked
                elif scanner.ended:
                    break
        except OSError as exc:
            raise JournalError(path, number + 1, f"read failed: {exc.strerror or exc}") from None
    if after_seq is None:
        scanner.finish(number)
    elif scanner.pending is not None:  # the file ends in a torn line
        notes.append(_torn_note(scanner.pending[0], ""))


def read_first_header(path: str | os.PathLike[str]) -> JournalFile:
    """The journal's first run with its header only, read from the file's first line:
    what to know of a file to put it in order among its segments, in constant time."""
    path = Path(path)
    with _open(path) as f:
        try:
            raw = f.readline()
        except OSError as exc:
            raise JournalError(path, 1, f"read failed: {exc.strerror or exc}") from None
    try:
        obj = loads(raw) if raw.endswith(b"\n") else None
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict) or not is_header(obj):
        read_journal(path)  # the whole check names what is wrong, and where
        raise JournalError(path, 1, "no journal header on the first line")
    problem = header_problem(obj)
    if problem is not None:
        raise JournalError(path, 1, problem)
    return JournalFile(path=path, runs=[Run(header=obj, records=[], first_line=1)], notes=[])


def read_journal(path: str | os.PathLike[str]) -> JournalFile:
    """Read and check a whole journal. Raises `JournalError` if it cannot be trusted."""
    path = Path(path)
    notes: list[str] = []
    runs: list[Run] = []
    records: list[JsonObject] = []
    append = records.append
    scanner = _Scanner(path, notes)
    usual = scanner.usual
    number = 0
    # `_scan`'s loop, without a generator's resumption per line: reading is a fair share
    # of a replay.
    with _open(path) as f:
        try:
            for number, raw in enumerate(f, 1):
                obj = usual(raw)
                if obj is not None:
                    append(obj)
                    continue
                checked = scanner.careful(number, raw)
                if checked is None:
                    if scanner.ended:
                        break
                elif checked[1]:
                    records = []
                    append = records.append
                    runs.append(Run(header=checked[0], records=records, first_line=number))
                else:
                    append(checked[0])
        except OSError as exc:
            raise JournalError(path, number + 1, f"read failed: {exc.strerror or exc}") from None
    scanner.finish(number)
    return JournalFile(path=path, runs=runs, notes=notes)


# A header line holds the key "journal" (`is_header`), written either as these bytes or
# with \u escapes (no other JSON escape can stand for its letters). A record line holds
# the bytes only inside a string of its own, where JSON escapes the quotes.
_HEADER_MARK = b'"journal"'
_ESCAPE = b"\\u"


def read_headers(path: str | os.PathLike[str]) -> JournalFile:
    """The runs of a journal with their headers only (every `records` list is empty),
    without decoding its records: what to know of a file before streaming it with
    `iter_lines`. Checks the file and every header as `read_journal` does; records are
    checked when they are read.
    """
    path = Path(path)
    runs: list[Run] = []
    number = 0
    with _open(path) as f:
        try:
            for number, raw in enumerate(f, 1):
                if (_HEADER_MARK not in raw and _ESCAPE not in raw) or raw[-1:] != b"\n":
                    continue  # a record, or a torn line: `iter_lines` judges those
                try:
                    obj = loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if is_header(obj):
                    problem = header_problem(obj)
                    if problem is not None:
                        raise JournalError(path, number, problem)
                    runs.append(Run(header=obj, records=[], first_line=number))
        except OSError as exc:
            raise JournalError(path, number + 1, f"read failed: {exc.strerror or exc}") from None
    if not runs:  # not a journal: the whole check names what is wrong, and where
        read_journal(path)
        raise JournalError(path, 1, "no journal header")
    return JournalFile(path=path, runs=runs, notes=[])


def iter_records(
    path: str | os.PathLike[str], notes: list[str] | None = None
) -> Iterator[tuple[JsonObject, JsonObject]]:
    """Stream `(header, record)` pairs without holding the journal in memory.

    Checks as `read_journal` does, but lazily: a `JournalError` may come after some
    pairs were yielded. Notes on torn lines are appended to `notes` if given.
    """
    notes = [] if notes is None else notes
    header: JsonObject = {}
    for _, obj, is_header_line in _scan(Path(path), notes):
        if is_header_line:
            header = obj
        else:
            yield header, obj
