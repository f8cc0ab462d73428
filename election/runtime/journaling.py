"""The loop's journal: each record appended as one fsynced line (`election.record_codec`
gives its JSON form)."""

from __future__ import annotations

from election.core.record import Record
from election.record_codec import record_to_json
from journal import JournalWriter

__all__ = ["JournalSink"]


class JournalSink:
    """The loop's journal: one fsynced line per record."""

    def __init__(self, writer: JournalWriter) -> None:
        self.writer = writer

    def __call__(self, record: Record) -> None:
        self.writer.append(record_to_json(record))
