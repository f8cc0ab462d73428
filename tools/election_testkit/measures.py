"""Measures of a run from its journals, for the soak's summary and the benchmarks.

Leader files written (`journal_writes`), leadership terms (`leader_terms`) and the gaps
between consecutive files (`leaderless_gaps`: the work's view of "no leader", a liveness
figure). They are measurements, not a verdict: safety is judged by `election-replay`
alone (`election_testkit.verdict`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from election.core.leaderfiles import parse_leader_file_name
from journal import JournalError, read_journal


@dataclass(frozen=True)
class Write:
    """One leader file written: by whom, with which token, and when (Unix seconds)."""

    token: int
    seq: int
    replica: str
    at: float  # when the write was asked for (the record with its WriteLeaderFile effect)
    done: float  # when its success was journaled (the FileWritten ok record)


def journal_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(replica, record) for every record of every run ([] for a missing journal)."""
    try:
        journal = read_journal(path)
    except JournalError:
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for run in journal.runs:
        replica = str(run.header.get("replica", path.stem))
        out.extend((replica, record) for record in run.records)
    return out


def journal_writes(paths: Iterable[Path]) -> list[Write]:
    """Every successful `FileWritten` of every journal, with the time it was asked for."""
    out = []
    for path in paths:
        asked: dict[int, float] = {}  # request id -> wall of the record that asked
        for replica, record in journal_records(path):
            for effect in record.get("effects", []):
                if effect.get("type") == "WriteLeaderFile":
                    asked[effect["request"]] = record["wall"]
            event = record["event"]
            if event["type"] == "Started":
                asked.clear()  # request ids start again with each run
            if event["type"] != "FileWritten" or event["outcome"] != "ok":
                continue
            parsed = parse_leader_file_name(str(event.get("name", "")))
            if parsed is None:
                continue
            at = asked.get(event["request"], record["wall"])
            out.append(Write(parsed[0], parsed[1], replica, at, record["wall"]))
    return out


def leaderless_gaps(writes: Sequence[Write]) -> list[tuple[float, float]]:
    """(start, length) of the pauses between consecutive successful writes of any
    replica (the work's view of "no leader"), longest first."""
    times = sorted(w.done for w in writes)
    gaps = [(a, b - a) for a, b in itertools.pairwise(times)]
    return sorted(gaps, key=lambda g: -g[1])


def leader_terms(journals: Iterable[Path]) -> list[tuple[str, float, float | None]]:
    """(replica, start, end) of each recorded Leader term (end None: still leading or the
    journal ended while leading), in start order."""
    terms: list[tuple[str, float, float | None]] = []
    for path in journals:
        start: float | None = None
        replica = ""
        for replica, record in journal_records(path):
            if record["event"]["type"] == "Started" and start is not None:
                terms.append((replica, start, None))  # crashed while leading
                start = None
            if record["state"] == "Leader" and start is None:
                start = record["wall"]
            elif record["state"] != "Leader" and start is not None:
                terms.append((replica, start, record["wall"]))
                start = None
        if start is not None:
            terms.append((replica, start, None))
    return sorted(terms, key=lambda t: t[1])
