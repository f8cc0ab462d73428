"""The loop's journal: each record appended as one fsynced line (`election.record_codec`
gives its JSON form), and each rotated segment headed by a snapshot of the state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from election.core.record import Record
from election.core.state import State
from election.record_codec import record_to_json, snapshot_header
from journal import JournalWriter

__all__ = ["JournalSink"]


class JournalSink:
    """The loop's journal: one fsynced line per record. Rotation runs inside the append
    of a record, after the loop took the state that record led to: the new segment
    starts with that state (`follow` says where to read it)."""

    def __init__(
        self,
        path: Path,
        header: dict[str, Any],
        *,
        max_bytes: int | None = None,
        keep: int = 5,
        fsync: bool = True,
    ) -> None:
        self._state: Callable[[], State] | None = None
        self.writer = JournalWriter(
            path,
            header,
            fsync=fsync,
            max_bytes=max_bytes,
            keep=keep,
            segment_header=self._segment_header,
        )

    def follow(self, state: Callable[[], State]) -> None:
        """Snapshots of rotated segments read the state from `state` (the loop's)."""
        self._state = state

    def _segment_header(self, seq: int) -> dict[str, Any]:
        if self._state is None:  # no loop yet: a segment that replays from its predecessor
            return {}
        return snapshot_header(seq, self._state())

    def __call__(self, record: Record) -> None:
        self.writer.append(record_to_json(record))

    def close(self) -> None:
        self.writer.close()
