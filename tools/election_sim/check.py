"""Check a simulation: its journals with `election-replay`, its file-dir with the truth.

`election-replay`'s fold and invariants run over the journals exactly as an engineer
would run them. It notes (without a violation) an overlap of two terms in which the
earlier leader did no work, as its journal tells. One finding is judged again with the
simulation's ground truth:

- `overlapping-leaders` (the earlier leader's journal shows work in the overlap) where
  the earlier leader was *frozen* (a pause) when the later term began. It is accepted
  only if the frozen replica wrote no leader file of its term after the later term began
  (file-dir's ground truth: a journal may miss a file that landed just before a crash),
  else it is a problem like any other.

Ground truth on file-dir: no file of an older token lands after the first file of a
newer one. With jobs (`SimConfig.jobs`): at every job's start, no job of another term is
alive (`election_sim.jobs`). On the server: no session ever holds two queue nodes at once.
"""

from __future__ import annotations

import attrs

from election_replay.model import Violation
from election_replay.replay import analyse
from election_sim.filedir import Written
from election_sim.replica import WALL_ZERO
from election_sim.world import Fault, SimResult


@attrs.frozen
class Verdict:
    problems: tuple[str, ...]  # anything wrong: divergences, violations, ground truth
    excused: tuple[str, ...]  # overlaps explained by a frozen leader that did no work
    events: int

    @property
    def ok(self) -> bool:
        return not self.problems


def check(result: SimResult) -> Verdict:
    analysis = analyse(result.journals)
    problems = [f"divergence: {d.as_json()}" for d in analysis.divergences]
    excused: list[str] = []
    for violation in analysis.violations:
        text = f"violation {violation.kind}: {violation.message}"
        if violation.kind == "overlapping-leaders" and _frozen_and_idle(result, violation):
            excused.append(text)
        else:
            problems.append(text)
    problems += _file_order(result.written)
    problems += result.job_problems
    problems += result.queue_problems
    return Verdict(tuple(problems), tuple(excused), analysis.events)


def _frozen_and_idle(result: SimResult, violation: Violation) -> bool:
    """The earlier of two overlapping leaders was paused when the later term began, and
    wrote no file from then until its own term's end."""
    # `check_terms` names the earlier term's start, the later term's start, then (if it
    # ended) the earlier term's end.
    earlier, later, *ended = violation.records
    if earlier.replica == later.replica:
        return False
    start = later.wall - WALL_ZERO  # simulated time
    end = ended[0].wall - WALL_ZERO if ended else float("inf")
    paused = any(
        f.kind is Fault.PAUSE and f.target == earlier.replica and f.start <= start < f.end
        for f in result.faults
    )
    wrote = any(
        w.replica == earlier.replica and start <= w.time <= end
        for w in result.written
        if isinstance(w, Written)
    )
    return paused and not wrote


def _file_order(written: tuple[object, ...]) -> list[str]:
    problems = []
    highest: Written | None = None
    for w in written:
        assert isinstance(w, Written)
        if highest is not None and w.token < highest.token:
            problems.append(
                f"file of token {w.token} ({w.replica}, seq {w.seq}) written at "
                f"{w.time:.3f}s after token {highest.token}'s first file ({highest.replica})"
            )
        if highest is None or w.token > highest.token:
            highest = w
    return problems
