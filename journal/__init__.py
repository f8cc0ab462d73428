"""Append-only JSONL journal: codec, writer and reader (torn-tail tolerant).

Generic on purpose: it never imports `election`; callers hand the codec the attrs
classes (events, effects) it encodes. See `journal.format` for the line format.
"""

from journal.codec import TYPE_KEY, Codec, CodecError
from journal.format import (
    FORMAT_VERSION,
    JOURNAL_NAME,
    JsonObject,
    dumps_line,
    header_problem,
    is_header,
    make_header,
    record_problem,
)
from journal.lock import JournalInUse, JournalLock, lock_path
from journal.reader import (
    Cursor,
    JournalError,
    JournalFile,
    Run,
    iter_lines,
    iter_lines_from,
    iter_records,
    read_first_header,
    read_headers,
    read_journal,
)
from journal.writer import (
    JournalWriter,
    SegmentHeader,
    journal_segments,
    rotated_path,
    rotated_segments,
)

__all__ = [
    "FORMAT_VERSION",
    "JOURNAL_NAME",
    "TYPE_KEY",
    "Codec",
    "CodecError",
    "Cursor",
    "JournalError",
    "JournalFile",
    "JournalInUse",
    "JournalLock",
    "JournalWriter",
    "JsonObject",
    "Run",
    "SegmentHeader",
    "dumps_line",
    "header_problem",
    "is_header",
    "iter_lines",
    "iter_lines_from",
    "iter_records",
    "journal_segments",
    "lock_path",
    "make_header",
    "read_first_header",
    "read_headers",
    "read_journal",
    "record_problem",
    "rotated_path",
    "rotated_segments",
]
