"""Leadership terms of real replicas, from their journals: when each led, and whether
two terms of different replicas overlapped in wall time."""

from __future__ import annotations

import time
from collections.abc import Iterable

from election_testkit.replica import Replica


def leadership_intervals(replica: Replica, now: float | None = None) -> list[tuple[float, float]]:
    """(start, end) wall intervals during which ``replica`` was Leader, from its journal.

    A term starts at the first record in Leader and ends at the next record in another
    state. A term still open at the journal's end ends at the SIGKILL time if the
    process was killed, else at ``now`` (default: time.time())."""
    intervals: list[tuple[float, float]] = []
    start: float | None = None
    for record in replica.records():
        if record["state"] == "Leader":
            if start is None:
                start = record["wall"]
        elif start is not None:
            intervals.append((start, record["wall"]))
            start = None
    if start is not None:
        if replica.killed_wall is not None and replica.killed_wall >= start:
            end = replica.killed_wall
        else:
            end = time.time() if now is None else now
        intervals.append((start, end))
    return intervals


def overlaps(replicas: Iterable[Replica]) -> list[str]:
    """Descriptions of every pair of leadership terms of different replicas that
    overlap in wall time (empty when leadership was exclusive)."""
    now = time.time()
    terms = [(r.id, s, e) for r in replicas for s, e in leadership_intervals(r, now)]
    found = []
    for i, (id_a, s_a, e_a) in enumerate(terms):
        for id_b, s_b, e_b in terms[i + 1 :]:
            if id_a != id_b and s_a < e_b and s_b < e_a:
                found.append(
                    f"{id_a} [{s_a:.3f}, {e_a:.3f}] overlaps {id_b} [{s_b:.3f}, {e_b:.3f}]"
                )
    return found
