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

from journal.format import JsonObject, header_problem, is_header, record_problem

__all__ = ["JournalError", "JournalFile", "Run", "iter_records", "read_journal"]


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


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, content without the newline, newline-terminated?) for each line."""
    with _open(path) as f:
        number = 0
        try:
            for number, raw in enumerate(f, 1):
                terminated = raw.endswith(b"\n")
                yield number, raw[:-1] if terminated else raw, terminated
        except OSError as exc:
            raise JournalError(path, number + 1, f"read failed: {exc.strerror or exc}") from None


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


def _objects(path: Path, notes: list[str]) -> Iterator[tuple[int, JsonObject]]:
    """The line number and object of every intact line; torn tails go to `notes`."""
    # An undecodable line is held back until we know what follows it: a header (or
    # the end of the file) makes it a torn tail, anything else makes it corruption.
    pending: tuple[int, str] | None = None
    empty = True
    for number, raw, terminated in _lines(path):
        empty = False
        value, problem = _decode(raw)
        if pending is not None:
            if problem is None and terminated and is_header(value):
                notes.append(_torn_note(pending[0], " of a run"))
                pending = None
            else:
                raise JournalError(path, *pending)
        if not terminated:  # only the last line can lack its newline
            notes.append(_torn_note(number, ""))
            break
        if problem is not None:
            pending = (number, problem)
            continue
        if not isinstance(value, dict):
            raise JournalError(path, number, f"expected a JSON object, got {type(value).__name__}")
        yield number, value
    if pending is not None:
        notes.append(_torn_note(pending[0], ""))
    if empty:
        raise JournalError(path, 1, "empty file: expected a journal header")


def _scan(path: Path, notes: list[str]) -> Iterator[tuple[int, JsonObject, bool]]:
    """(line, object, is it a header) for every line, checked against the format."""
    in_run = False
    last_seq: int | None = None
    for number, obj in _objects(path, notes):
        if is_header(obj):
            problem = header_problem(obj)
            if problem is not None:
                raise JournalError(path, number, problem)
            in_run, last_seq = True, None
            yield number, obj, True
            continue
        if not in_run:
            raise JournalError(path, number, "record before any header")
        problem = record_problem(obj)
        if problem is not None:
            raise JournalError(path, number, problem)
        seq: int = obj["seq"]
        if last_seq is not None and seq <= last_seq:
            raise JournalError(path, number, f"seq {seq} does not follow seq {last_seq}")
        last_seq = seq
        yield number, obj, False
    if not in_run:
        raise JournalError(path, 1, "no complete header line (only a torn line)")


def read_journal(path: str | os.PathLike[str]) -> JournalFile:
    """Read and check a whole journal. Raises `JournalError` if it cannot be trusted."""
    path = Path(path)
    notes: list[str] = []
    runs: list[Run] = []
    for number, obj, header in _scan(path, notes):
        if header:
            runs.append(Run(header=obj, records=[], first_line=number))
        else:
            runs[-1].records.append(obj)
    return JournalFile(path=path, runs=runs, notes=notes)


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
