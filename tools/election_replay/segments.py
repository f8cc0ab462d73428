"""Rotated journals: which of the given files are segments of one journal, in which order.

The daemon rotates its journal by size (`--journal-max-bytes`): the live file keeps its
name, `<name>.1` is the newest rotated segment. A segment that continues a run starts
with a header holding `segment` (1, 2, ... within the run) and a `snapshot` of the state
after the last record of the segment before it. Files are ordered by what they hold, not
by their names (they may have been renamed when copied off the machine): per replica, by
the start of the run their first header belongs to, then by segment. A file that starts
with a continuation joins the journal whose last run is that same run; any other file is
a journal of its own (as before rotation existed).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from journal import JournalError, JournalFile, JsonObject, read_headers

__all__ = ["Segment", "chain_journals", "run_key", "segment_index"]

Segment = tuple[str, JournalFile]
"""One file as given on the command line, and what it holds."""


def run_key(header: JsonObject) -> tuple[Any, ...]:
    """What every header of one daemon run shares (a rotated segment copies the run's)."""
    return (
        header.get("replica"),
        header.get("started_wall"),
        header.get("host"),
        header.get("pid"),
    )


def segment_index(header: JsonObject) -> int:
    """0 for a run's first header, n for the header of its n-th rotated segment."""
    segment = header.get("segment", 0)
    return segment if type(segment) is int else 0


def chain_journals(
    paths: Sequence[str | os.PathLike[str]],
    *,
    read: Callable[[str | os.PathLike[str]], JournalFile] = read_headers,
    strict: bool = True,
) -> list[list[Segment]]:
    """Read every file's headers and group the files into journals, each a list of files
    in fold order (their records are read as they are folded).

    Journals come in the order of their first file on the command line. Raises
    `JournalError` for an unreadable file, or for two files holding the same segment.
    `read` may give only each file's first header (`journal.read_first_header`, for a
    window, which reads nothing else before it): not `strict`, a continuation then joins
    its replica's journal if its run did not start before that journal's.
    """
    loaded: list[Segment] = []
    for path in paths:
        loaded.append((os.fspath(path), read(path)))

    def order(item: tuple[int, Segment]) -> tuple[str, float, int, int]:
        _, (_, journal) = item
        first = journal.runs[0].header
        wall = first.get("started_wall")
        return (
            str(first.get("replica")),
            float(wall) if isinstance(wall, int | float) else 0.0,
            segment_index(first),
            item[0],
        )

    chains: list[list[Segment]] = []
    given: list[int] = []  # per chain: the first position of its files on the command line
    current: dict[str, int] = {}  # per replica: the chain a continuation may join
    seen: dict[tuple[tuple[Any, ...], int], str] = {}
    for position, (name, journal) in sorted(enumerate(loaded), key=order):
        for run in journal.runs:
            segment = segment_index(run.header)
            key = (run_key(run.header), segment)
            if segment and key in seen:
                raise JournalError(
                    name,
                    run.first_line,
                    f"segment {segment} of this run is also in {seen[key]}: give it once",
                )
            seen[key] = name
        first = journal.runs[0].header
        replica = str(first.get("replica"))
        index = current.get(replica)
        if (
            index is not None
            and segment_index(first) > 0
            and (
                run_key(chains[index][-1][1].runs[-1].header) == run_key(first)
                or (
                    not strict
                    and order((0, chains[index][-1]))[1] <= order((0, (name, journal)))[1]
                )
            )
        ):
            chains[index].append((name, journal))
            given[index] = min(given[index], position)
        else:
            current[replica] = len(chains)
            chains.append([(name, journal)])
            given.append(position)
    return [chains[i] for i in sorted(range(len(chains)), key=given.__getitem__)]


def _started(journal: JournalFile) -> float:
    """When the run of the file's first header started."""
    wall = journal.runs[0].header.get("started_wall")
    return float(wall) if isinstance(wall, int | float) else 0.0
