"""The loop's journal: each record appended as one fsynced line (`election.record_codec`
gives its JSON form); every `SNAPSHOT_EVERY`-th record, and each rotated segment's
header, carries a snapshot of the state, so that a replay can start near any moment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from election.core.record import Record
from election.core.state import State
from election.record_codec import SNAPSHOT_EVERY, checkpoint_json, record_to_json, snapshot_header
from journal import JournalWriter

__all__ = ["JournalSink"]


class JournalSink:
    """The loop's journal: one fsynced line per record. Rotation runs inside the append
    of a record, after the loop took the state that record led to: the new segment
    starts with that state (`follow` says where to read it). So does the snapshot a
    record carries every `snapshot_every` records (by seq): the state after it, where
    the state it is in began (`entered`: a term's true start), its own line number and
    the offset of its run's header, which a replay seeks by (docs/replay.md)."""

    def __init__(
        self,
        path: Path,
        header: dict[str, Any],
        *,
        max_bytes: int | None = None,
        keep: int = 5,
        fsync: bool = True,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self._state: Callable[[], State] | None = None
        self._every = snapshot_every
        # The recorded (state, token) and the record that entered it: (seq, wall).
        self._current: tuple[str, int | None] | None = None
        self._entered: tuple[int, float] | None = None
        self.writer = JournalWriter(
            path,
            header,
            fsync=fsync,
            max_bytes=max_bytes,
            keep=keep,
            segment_header=self._segment_header,
        )

    def follow(self, state: Callable[[], State]) -> None:
        """Snapshots read the state from `state` (the loop's)."""
        self._state = state

    def _segment_header(self, seq: int) -> dict[str, Any]:
        if self._state is None:  # no loop yet: a segment that replays from its predecessor
            return {}
        return snapshot_header(seq, self._state(), self._entered)

    def __call__(self, record: Record) -> None:
        line = record_to_json(record)
        current = (record.state, record.token)
        if current != self._current:
            self._current, self._entered = current, (record.seq, record.wall)
        if self._state is not None and record.seq % self._every == 0:
            writer = self.writer
            line["snapshot"] = checkpoint_json(
                record.seq,
                self._state(),
                self._entered,
                line=None if writer.line is None else writer.line + 1,
                header=writer.header_offset,
            )
        self.writer.append(line)

    def close(self) -> None:
        self.writer.close()
