"""A window of a long history (`--since TIME --until TIME`): each journal folded from
the snapshot nearest before the window's start, to its end, and what of the fold the
report keeps.

Each journal's fold starts at the nearest start point before `since` (`seek.py`: a
record carrying a snapshot, or a header), at most `SNAPSHOT_EVERY` records before it in
a journal written with periodic snapshots; the records from there to `since` are folded
and compared like any other (the lead-in) and warm the observers up. It stops before the
first record after `until`. A term still open there is followed to its end beyond the
window without folding (`beyond.py`), and a term open at the start knows its true start
from the snapshot (`entered`). The report keeps what overlaps the window: the terms, the
state segments (cut to it), the job runs, and the violations whose records span a moment
of it; the cross-replica checks run on the terms that overlap it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os

import attrs

from election_replay.beyond import term_end
from election_replay.fold import Folder, ReplayError
from election_replay.model import JobRun, JournalSummary, Segment, Term, Violation
from election_replay.seek import StartPoint, find_start, first_wall, records_before
from election_replay.segments import Segment as File
from journal import Cursor, JournalError, iter_lines_from

# Records read around a window for the freezes at its edges (`Folder.watch_freezes`): before
# its start, for the timers then live; past its end, for a freeze that began in it.
FREEZE_WATCH = 128


@attrs.frozen(kw_only=True)
class Window:
    """From `since` to `until` (Unix seconds; None: the journal's start, its end)."""

    since: float | None = None
    until: float | None = None

    @property
    def start(self) -> float:
        return -math.inf if self.since is None else self.since

    @property
    def end(self) -> float:
        return math.inf if self.until is None else self.until

    def overlaps(self, start: float, end: float | None) -> bool:
        return start <= self.end and (end is None or end >= self.start)

    def keeps(self, violation: Violation) -> bool:
        """A violation whose records span a moment of the window."""
        walls = [w.wall for w in violation.records]
        return self.overlaps(min(walls), max(walls))

    def as_json(self) -> dict[str, float | None]:
        return {"since": self.since, "until": self.until}


def replay_window(files: list[File], window: Window, until: int | None) -> JournalSummary:
    """Fold one journal (its files in order) over `window` (and to seq `until`)."""
    names = [name for name, _ in files]
    replica = str(files[0][1].runs[0].header.get("replica", "?"))
    folder = Folder(names[-1], replica)
    folder.until_wall = window.end
    index, start = _start_of(names, window.since)
    cursor = Cursor()
    notes: list[str] = []
    position, going_on = index, True
    for position in range(index, len(names)):
        name = folder.path = names[position]
        prefix = f"{os.path.basename(name)}: " if len(names) > 1 else ""
        file_notes: list[str] = []
        try:
            if position == index and start is not None:
                if start.after is not None:
                    folder.resume(start)
                folder.start_at(start, name)
                # The timers live at the start, from the records just before it: a freeze
                # that began there is told by the late fire of one of them.
                lead_in = records_before(name, start.offset, start.line, FREEZE_WATCH)
                folder.watch_freezes((number, obj, False) for number, obj in lead_in)
                after = None if start.after is None else start.after.seq
                lines = iter_lines_from(
                    name, file_notes, cursor, offset=start.offset, line=start.line, after_seq=after
                )
            else:
                lines = iter_lines_from(name, file_notes, cursor, offset=0, line=1)
            going_on = folder.fold_file(name, until, file_notes, lines)
        except JournalError as exc:
            raise ReplayError(exc.path, exc.line, exc.message) from None
        finally:
            notes += [prefix + note for note in file_notes]
        if not going_on:
            break
    last = folder.history.last
    if not going_on and folder.stopped_at_wall:
        if folder.history.leading and last is not None and folder.run is not None:
            ending = term_end(names, position, cursor.start, cursor.line, folder.run, last)
            folder.history.end_beyond(ending.record, ending.event, ending.run_ended, ending.why)
        if folder.stopped_on is not None:
            number, line = folder.stopped_on
            beyond = itertools.islice(lines, FREEZE_WATCH - 1)
            with contextlib.suppress(JournalError):  # damage past the window is not its own
                folder.watch_freezes(itertools.chain([(number, line, False)], beyond))
    return clip(window, folder.summary(notes, files))


def _start_of(names: list[str], since: float | None) -> tuple[int, StartPoint | None]:
    """The file to start in and where: the last file beginning before `since`, else an
    earlier one whose last start point is usable; (0, None): the journal's start."""
    if since is None:
        return 0, None
    index = 0
    for position, name in enumerate(names):
        wall = first_wall(name)
        if wall is not None and wall <= since:
            index = position
    for position in range(index, -1, -1):
        start = find_start(names[position], since if position == index else math.inf)
        if start is not None and start.usable:
            return position, start
    return 0, None


def clip(window: Window, journal: JournalSummary) -> JournalSummary:
    """What of one journal's fold lies in the window: its state segments cut to it, and
    the terms, job runs and its own violations that overlap it."""
    segments = tuple(
        Segment(state=s.state, start=max(s.start, window.start), end=min(s.end, window.end))
        for s in journal.segments
        if window.overlaps(s.start, s.end)
    )
    first, last = journal.first_wall, journal.last_wall
    if first is not None and last is not None and window.overlaps(first, last):
        first, last = max(first, window.start), min(last, window.end)
    else:
        first = last = None
    return attrs.evolve(
        journal,
        segments=segments,
        terms=tuple(t for t in journal.terms if _term_overlaps(window, t)),
        violations=tuple(v for v in journal.violations if window.keeps(v)),
        jobs=tuple(r for r in journal.jobs if _job_overlaps(window, r)),
        first_wall=first,
        last_wall=last,
    )


def _term_overlaps(window: Window, term: Term) -> bool:
    return window.overlaps(term.start, term.until)


def _job_overlaps(window: Window, run: JobRun) -> bool:
    return window.overlaps(run.start, run.end)
