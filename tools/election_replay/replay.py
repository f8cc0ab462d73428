"""Fold journals again through today's reducer (`fold.py`), each in a process of its own
when they are big, then check the invariants across them and gather what the report
needs. A window (`--since`, `--until` as times) folds each journal from the snapshot
nearest before it (`window.py`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from election_replay.deaths import (
    end_crashed_terms,
    is_keeper_file,
    keeper_files,
    read_deaths,
    settle_jobs,
)
from election_replay.fold import Folder, ReplayError
from election_replay.freezes import clip_frozen_terms
from election_replay.invariants import DEFAULT_SKEW, LeaderWork, check_terms
from election_replay.model import Analysis, JournalSummary
from election_replay.parallel import can_fork, run_forked
from election_replay.segments import Segment, chain_journals
from election_replay.terms import asked_notes, by_start, close_crashed, handovers
from election_replay.window import Window, replay_window
from election_replay.work import check_file_order, job_overlap_notes
from journal import JournalError, read_first_header, read_headers

__all__ = ["ReplayError", "Window", "analyse", "replay_journal", "replay_segments"]


def analyse(
    paths: Sequence[str | os.PathLike[str]],
    *,
    until: int | None = None,
    skew: float = DEFAULT_SKEW,
    processes: int | None = None,
    window: Window | None = None,
) -> Analysis:
    """Replay every journal, then check the invariants across them.

    Journals fold in up to `processes` processes at once (None: twice as many as there
    are CPUs, for journals big enough to be worth it; 1: all in this one). The result is
    the same either way. With a `window`, each journal folds only around it. A keeper's
    record file (`FILE.keeper`) is read beside its journal, or where it is given.
    """
    given_records = [os.fspath(p) for p in paths if is_keeper_file(p)]
    unique, repeated = _distinct([p for p in paths if os.fspath(p) not in given_records])
    try:
        if window is not None and window.since is not None:
            # Only each file's first line: what lies before the window is not read.
            chains = chain_journals(unique, read=read_first_header, strict=False)
        else:
            chains = chain_journals(unique)  # rotated segments of one journal go together
    except JournalError as exc:
        raise ReplayError(exc.path, exc.line, exc.message) from None
    journals = _replay_all(chains, until, _processes(processes, chains, window), window)
    deaths = read_deaths(keeper_files([chain[-1][0] for chain in chains], given_records))
    freezes = [f for j in journals for f in j.freezes]
    died, death_notes = end_crashed_terms(by_start(t for j in journals for t in j.terms), deaths)
    ended, crash_notes = close_crashed(by_start(died), journals)
    crash_notes = death_notes + crash_notes
    clipped, freeze_notes = clip_frozen_terms(ended, freezes)
    terms = by_start(clipped)
    if window is not None:  # a term cut short by a freeze may now end before the window
        terms = tuple(t for t in terms if window.overlaps(t.start, t.until))
    jobs = settle_jobs(sorted((r for j in journals for r in j.jobs), key=lambda r: r.start), deaths)
    work = LeaderWork.of(journals, jobs)
    cross, cross_notes = check_terms(terms, skew, work)
    cross_notes = crash_notes + asked_notes(terms) + freeze_notes + cross_notes
    stale, stale_notes = check_file_order([w for j in journals for w in j.writes], skew)
    cross += stale
    cross_notes += stale_notes + job_overlap_notes(jobs)
    local = [v for j in journals for v in j.violations]  # a window's: clipped already
    if window is not None:
        cross = [v for v in cross if window.keeps(v)]
    violations = sorted(local + cross, key=lambda v: min(w.wall for w in v.records))
    notes = [f"{j.journal}: {note}" for j in journals for note in j.notes] + cross_notes
    notes += [f"{os.fspath(p)}: the same file as an earlier journal: read once" for p in repeated]
    return Analysis(
        journals=journals,
        terms=terms,
        handovers=handovers(terms),
        violations=tuple(violations),
        notes=tuple(notes),
        until=until,
        jobs=jobs,
        window=window,
    )


# Below this much journal in all, starting processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
# A window of fewer journals folds faster in this one process than forks would make it.
WINDOW_PARALLEL_MIN = 8


def _processes(
    processes: int | None, chains: list[list[Segment]], window: Window | None = None
) -> int:
    """How many processes to fold `chains` in."""
    if processes is None and window is not None and window.since is not None:
        # A window folds a few thousand records a journal, whatever the files' size.
        processes = (os.cpu_count() or 1) if len(chains) >= WINDOW_PARALLEL_MIN else 1
    if processes is None:
        size = sum(_size(name) for chain in chains for name, _ in chain)
        # Twice the CPUs: journals differ in length (the leader's is the longest), and
        # with a process each the system shares the CPUs among them, rather than one CPU
        # idling while another folds the longest journal after a shorter one.
        processes = 2 * (os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 1
    return max(1, min(processes, len(chains)))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _replay_all(
    chains: list[list[Segment]], until: int | None, processes: int, window: Window | None
) -> tuple[JournalSummary, ...]:
    """Each journal's summary, in the order of `chains`; with several processes, each
    journal folds in a forked process of its own (`parallel.run_forked`)."""

    def replay(chain: list[Segment]) -> JournalSummary:
        if window is None:
            return replay_segments(chain, until=until)
        return replay_window(chain, window, until)

    if processes <= 1 or not can_fork():
        return tuple(replay(chain) for chain in chains)
    if window is not None:
        # A window's fold of a journal is short and about the same for every journal:
        # a process per journal would cost more in forks than it saves; one per share.
        shares = [list(range(i, len(chains), processes)) for i in range(processes)]
        folded = run_forked(
            lambda share: [replay(chains[i]) for i in share],
            shares,
            processes,
            name=lambda share: chains[share[0]][-1][0],
        )
        by_index = {
            i: summary
            for share, done in zip(shares, folded, strict=True)
            for i, summary in zip(share, done, strict=True)
        }
        return tuple(by_index[i] for i in range(len(chains)))
    results = run_forked(
        replay,
        chains,
        processes,
        name=lambda chain: chain[-1][0],
    )
    return tuple(results)


def _distinct(
    paths: Sequence[str | os.PathLike[str]],
) -> tuple[list[str | os.PathLike[str]], list[str | os.PathLike[str]]]:
    """The paths naming distinct files (a file given twice, say via a symlink, counts once)."""
    seen: set[tuple[int, int]] = set()
    unique: list[str | os.PathLike[str]] = []
    repeated: list[str | os.PathLike[str]] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            unique.append(path)  # the reader reports what is wrong with it
            continue
        key = (info.st_dev, info.st_ino)
        (repeated if key in seen else unique).append(path)
        seen.add(key)
    return unique, repeated


def replay_journal(path: str | os.PathLike[str], *, until: int | None = None) -> JournalSummary:
    """Fold one journal file (all its runs) and compare; stop after seq `until` if given."""
    try:
        journal = read_headers(path)
    except JournalError as exc:
        raise ReplayError(exc.path, exc.line, exc.message) from None
    return replay_segments([(os.fspath(path), journal)], until=until)


def replay_segments(files: list[Segment], *, until: int | None = None) -> JournalSummary:
    """Fold one journal given as its files in order (rotated segments, then the live file).

    Each file is read as it is folded (`journal.iter_lines`), so memory does not grow
    with the journal; `files` need only hold the headers (`journal.read_headers`). The
    summary is labelled with the last file (the live one, under the configured name).
    """
    replica = str(files[0][1].runs[0].header.get("replica", "?"))
    folder = Folder(files[-1][0], replica)
    notes: list[str] = []
    for name, _ in files:
        folder.path = name
        prefix = f"{os.path.basename(name)}: " if len(files) > 1 else ""
        file_notes: list[str] = []
        try:
            going_on = folder.fold_file(name, until, file_notes)
        except JournalError as exc:
            raise ReplayError(exc.path, exc.line, exc.message) from None
        finally:
            notes += [prefix + note for note in file_notes]
        if not going_on:
            break
    return folder.summary(notes, files)
