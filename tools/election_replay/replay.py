"""Fold journals again through today's reducer, and gather what the report needs.

Every run of a journal starts from `initial_state` of the configuration its header
records (a rotated segment that continues a run: from the state it was rotated in, the
snapshot in its header, see `segments.py`); each record's event (stamped with the
record's `at`) is reduced and the result compared with the recorded state, token and
effects. The first mismatch of a journal is its divergence; the fold goes on (so the
counts are whole) but compares no further, since
after a divergence the recomputed and the recorded histories are different stories.

Anything that makes a journal untrustworthy is a `ReplayError` naming file and line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, cast

from election.core import effects as fx
from election.core.events import EVENT_TYPES, Event
from election.core.reducer import reduce
from election.core.state import State, initial_state
from election.flags import core_config_from_header
from election.record_codec import CODEC, snapshot_from_header, state_to_json
from election_replay.freezes import FreezeDetector, clip_frozen_terms
from election_replay.invariants import DEFAULT_SKEW, LeaderWork, ReplicaChecks, check_terms
from election_replay.model import Analysis, Divergence, JournalSummary, Snapshot, Where
from election_replay.parallel import can_fork, run_forked
from election_replay.segments import Segment, chain_journals, run_key, segment_index
from election_replay.terms import History, by_start, close_crashed, handovers
from election_replay.work import WorkLog, check_file_order, job_overlap_notes
from journal import CodecError, JournalError, Run, iter_lines, read_headers

_EVENT_NAMES = frozenset(cls.__name__ for cls in EVENT_TYPES)
# Each decodes to the event its name names (the codec's classes are the events'), so
# typed as such once here rather than checked per record.
_EVENT_DECODERS = cast(
    dict[str, Callable[[dict[str, Any], dict[str, Any]], Event]],
    {name: CODEC.decoder(name) for name in _EVENT_NAMES},
)
_EFFECT_NAMES = frozenset(cls.__name__ for cls in fx.EFFECT_TYPES)


class ReplayError(Exception):
    """A journal cannot be replayed. `str()` is `<path>:<line>: <message>`."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(path, line, message)
        self.path, self.line, self.message = path, line, message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def analyse(
    paths: Sequence[str | os.PathLike[str]],
    *,
    until: int | None = None,
    skew: float = DEFAULT_SKEW,
    processes: int | None = None,
) -> Analysis:
    """Replay every journal, then check the invariants across them.

    Journals fold in up to `processes` processes at once (None: twice as many as there
    are CPUs, for journals big enough to be worth it; 1: all in this one). The result is
    the same either way.
    """
    unique, repeated = _distinct(paths)
    try:
        chains = chain_journals(unique)  # rotated segments of one journal go together
    except JournalError as exc:
        raise ReplayError(exc.path, exc.line, exc.message) from None
    journals = _replay_all(chains, until, _processes(processes, chains))
    freezes = [f for j in journals for f in j.freezes]
    ended, crash_notes = close_crashed(by_start(t for j in journals for t in j.terms), journals)
    clipped, freeze_notes = clip_frozen_terms(ended, freezes)
    terms = by_start(clipped)
    jobs = tuple(sorted((r for j in journals for r in j.jobs), key=lambda r: r.start))
    work = LeaderWork.of(journals, jobs)
    cross, cross_notes = check_terms(terms, skew, work)
    cross_notes = crash_notes + freeze_notes + cross_notes
    stale, stale_notes = check_file_order([w for j in journals for w in j.writes], skew)
    cross += stale
    cross_notes += stale_notes + job_overlap_notes(jobs)
    local = [v for j in journals for v in j.violations]
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
    )


# Below this much journal in all, starting processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024


def _processes(processes: int | None, chains: list[list[Segment]]) -> int:
    """How many processes to fold `chains` in."""
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
    chains: list[list[Segment]], until: int | None, processes: int
) -> tuple[JournalSummary, ...]:
    """Each journal's summary, in the order of `chains`; with several processes, each
    journal folds in a forked process of its own (`parallel.run_forked`)."""
    if processes <= 1 or not can_fork():
        return tuple(replay_segments(chain, until=until) for chain in chains)
    results = run_forked(
        lambda chain: replay_segments(chain, until=until),
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
    folder = _Folder(files[-1][0], replica)
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


class _Folder:
    """The state of one journal's replay."""

    def __init__(self, journal: str, replica: str) -> None:
        self.journal = journal
        self.path = journal  # the file being folded (a rotated journal has several)
        self.replica = replica
        self.notes: list[str] = []
        # Where the fold is within a run, to join its rotated segments up.
        self._run: tuple[Any, ...] | None = None
        self._segment = 0
        self._state: State | None = None  # the folded state at the end of the last part
        self._last_seq: int | None = None  # seq of the run's last record (or snapshot)
        self.history = History(replica)
        self.checks = ReplicaChecks(replica)
        self.work = WorkLog(replica)
        self.freezes = FreezeDetector(replica)
        self.events = 0
        self.runs = 0
        self._headers = 0  # headers folded so far
        self.divergence: Divergence | None = None
        self._last: tuple[State, int, float] | None = None  # the latest folded state
        self.first_wall: float | None = None
        self.last_wall: float | None = None

    def fold_file(self, path: str, until: int | None, notes: list[str]) -> bool:
        """Fold one file, every run in it, as it is read; False when `until` was passed
        and the journal should stop. Torn lines go to `notes`.

        The hot loop of `election-replay`: a record is compared as the journal holds
        it (decoded JSON), and its effects are decoded into objects only when they do
        not match the recomputed ones (see `Codec.matches_many`): then the observers
        get the recorded effects, otherwise the recomputed ones, which are equal.
        """
        state: State | None = self._state
        expect: int | None = None  # the seq the next record must have, after a join
        comparing = self.divergence is None
        replica = self.replica
        history, checks, work, freezes = self.history, self.checks, self.work, self.freezes
        matches = CODEC.matches_many
        decoders = _EVENT_DECODERS
        # Kept in local variables while the loop runs (`_count` stores them).
        events, first_wall, last = 0, self.first_wall, self._last
        last_wall, last_seq = self.last_wall, self._last_seq
        for number, line, is_header in iter_lines(path, notes):
            if is_header:  # a new run, or a rotated segment continuing one
                self._count(events, first_wall, last, last_wall, last_seq)
                state = self._start(Run(header=line, records=[], first_line=number))
                events, first_wall, last = 0, self.first_wall, self._last
                last_wall, last_seq = self.last_wall, self._last_seq
                comparing = self.divergence is None
                expect = None if self._last_seq is None else self._last_seq + 1
                continue
            seq: int = line["seq"]
            if expect is not None:
                if seq != expect:
                    raise ReplayError(
                        path,
                        number,
                        f"seq {seq} does not continue seq {expect - 1} of the segment before",
                    )
                expect = None
            if until is not None and seq > until:
                self._count(events, first_wall, last, last_wall, last_seq)
                self._state = state
                return False
            at: float = line["at"]
            wall: float = line["wall"]
            recorded: str = line["state"]
            token: int | None = line.get("token")
            data = line["event"]
            decode = decoders.get(data["type"])  # events only: the codec knows effects too
            if decode is None:
                raise ReplayError(path, number, f"unknown event type {data['type']!r}")
            try:
                event = decode(data, {"at": at})
            except CodecError as exc:
                raise ReplayError(path, number, f"cannot decode record: event: {exc}") from None
            where = Where(replica, path, number, seq, wall)
            effects: tuple[fx.Effect, ...] | None = None  # the recorded ones, once known
            if state is not None:
                try:
                    transition = reduce(state, event)
                except Exception as exc:  # a reducer bug (or a history it cannot follow)
                    if comparing:
                        effects = self._effects(line, number)
                        self._diverged(where, line, None, f"{type(exc).__name__}: {exc}")
                        comparing = False
                    state = None
                else:
                    state = transition.state
                    last = (state, seq, wall)
                    if comparing:
                        kept = line.get("effects")
                        if (
                            state.name == recorded  # a StrEnum: no `.value` needed
                            and state.token == token
                            and (kept is None or matches(transition.effects, kept))
                        ):
                            effects = transition.effects if kept is not None else ()
                        else:
                            effects = self._effects(line, number)
                            self._diverged(where, line, (state, transition.effects), "")
                            comparing = False
            if effects is None:
                effects = self._effects(line, number)
            events += 1
            if first_wall is None:
                first_wall = wall
            last_wall, last_seq = wall, seq
            history.observe(where, recorded, token, data)
            checks.observe(where, event, recorded, effects)
            work.observe(where, event, effects)
            freezes.observe(where, at, event, recorded, effects)
        self._count(events, first_wall, last, last_wall, last_seq)
        self._state = state
        return True

    def _count(
        self,
        events: int,
        first_wall: float | None,
        last: tuple[State, int, float] | None,
        last_wall: float | None,
        last_seq: int | None,
    ) -> None:
        """Store what `fold_file` kept in local variables while it ran."""
        self.events += events
        self.first_wall, self.last_wall = first_wall, last_wall
        self._last, self._last_seq = last, last_seq

    def _start(self, run: Run) -> State | None:
        """The state a run (or a rotated segment of one) starts folding from.

        A run's first header: `initial_state`. A segment that continues the run folded
        just before: the folded state (checked against the segment's snapshot, and its
        seq against the records before). A segment whose predecessor is missing (a middle
        segment not given, or the chain starts mid-run): its snapshot, with a note.
        """
        segment, key = segment_index(run.header), run_key(run.header)
        # Runs: each first header, and the run the journal starts in the middle of, if so.
        if segment == 0 or not self._headers:
            self.runs += 1
        self._headers += 1
        if segment == 0:
            self.history.begin_run()
            self.checks.begin_run()
            self.work.begin_run()
            self.freezes.begin_run(_session_timeout(run))
            self._run, self._segment, self._last_seq = key, 0, None
            return self._initial(run)
        snapshot = self._snapshot(run)
        same_run = key == self._run
        adjacent = same_run and segment == self._segment + 1
        state: State | None
        if snapshot is None:
            if not adjacent:
                raise ReplayError(
                    self.path,
                    run.first_line,
                    f"segment {segment} has no snapshot and segment {segment - 1} "
                    "of its run was not given: cannot replay it on its own",
                )
            state = self._state
        else:
            seq, recorded = snapshot
            last = self._last_seq
            if adjacent:
                if last is not None and last != seq:
                    raise ReplayError(
                        self.path,
                        run.first_line,
                        f"segment {segment} continues after seq {seq}, but segment "
                        f"{segment - 1} of its run ends at seq {last}",
                    )
                state = recorded if self._state is None else self._state
                if self._state is not None and self._state != recorded and self.divergence is None:
                    self._snapshot_diverged(run, seq, self._state, recorded)
            elif same_run:
                if last is not None and seq <= last:
                    raise ReplayError(
                        self.path,
                        run.first_line,
                        f"segment {segment} continues after seq {seq}, but an earlier "
                        f"segment of its run already reached seq {last}",
                    )
                self.notes.append(
                    f"{self.path}: segment(s) {self._segment + 1}..{segment - 1} of the run "
                    f"are missing (seq {'?' if last is None else last + 1}..{seq} not "
                    f"replayed): resumed from the snapshot after seq {seq}"
                )
                state = recorded
                self.checks.resume(recorded.connected, recorded.name.value)
            else:
                self.history.begin_run()
                self.checks.begin_run()
                self.checks.resume(recorded.connected, recorded.name.value)
                self.notes.append(
                    f"{self.path}: starts at segment {segment} of its run (the earlier "
                    f"segments were not given): replayed from the snapshot after seq {seq}"
                )
                state = recorded
            self._last_seq = seq
        self._run, self._segment = key, segment
        return state

    def _snapshot(self, run: Run) -> tuple[int, State] | None:
        try:
            return snapshot_from_header(run.header)
        except CodecError as exc:
            raise ReplayError(self.path, run.first_line, f"header {exc}") from None

    def _snapshot_diverged(self, run: Run, seq: int, folded: State, recorded: State) -> None:
        """The state today's reducer folded to differs from the one the daemon recorded
        when it rotated: report the fields that differ."""
        today, journaled = state_to_json(folded), state_to_json(recorded)
        keys = sorted(
            k for k in today.keys() | journaled.keys() if today.get(k) != journaled.get(k)
        )
        self.divergence = Divergence(
            where=Where(
                replica=self.replica,
                journal=self.path,
                line=run.first_line,
                seq=seq,
                wall=self.last_wall if self.last_wall is not None else 0.0,
            ),
            event={"type": "segment snapshot"},
            fields=("snapshot",),
            expected={"snapshot": {k: today.get(k) for k in keys}},
            recorded={"snapshot": {k: journaled.get(k) for k in keys}},
        )

    def _initial(self, run: Run) -> State:
        config = run.header.get("config")
        try:
            assert isinstance(config, dict)
            return initial_state(core_config_from_header(config))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc) or "not an object"
            raise ReplayError(self.path, run.first_line, f"header config: {detail}") from None

    def _effects(self, line: dict[str, Any], number: int) -> tuple[fx.Effect, ...]:
        """The record's effects as recorded (none if the journal did not keep them)."""
        data = line.get("effects", [])
        for item in data:
            if item.get("type") not in _EFFECT_NAMES:
                raise ReplayError(self.path, number, f"unknown effect type {item.get('type')!r}")
        try:
            decoded = CODEC.decode_many(data)
        except CodecError as exc:
            raise ReplayError(self.path, number, f"cannot decode record: effects: {exc}") from None
        return tuple(e for e in decoded if isinstance(e, fx.Effect))  # all are: names checked

    def _diverged(
        self,
        where: Where,
        line: dict[str, Any],
        computed: tuple[State, tuple[fx.Effect, ...]] | None,
        failure: str,
    ) -> None:
        recorded = {
            "state": line["state"],
            "token": line.get("token"),
            "effects": line.get("effects"),
        }
        if computed is None:
            fields: tuple[str, ...] = ("reducer",)
            expected: dict[str, Any] = {"error": failure}
        else:
            state, effects = computed
            expected = {
                "state": state.name.value,
                "token": state.token,
                "effects": CODEC.encode_many(effects),
            }
            fields = tuple(
                k for k in ("state", "token", "effects") if _field_differs(k, expected, recorded)
            )
        self.divergence = Divergence(
            where=where, event=line["event"], fields=fields, expected=expected, recorded=recorded
        )

    def summary(self, notes: list[str], files: list[Segment] | None = None) -> JournalSummary:
        self.history.finish()
        return JournalSummary(
            journal=self.journal,
            replica=self.replica,
            runs=self.runs,
            events=self.events,
            first_wall=self.first_wall,
            last_wall=self.last_wall,
            segments=tuple(self.history.segments),
            terms=tuple(self.history.terms),
            divergence=self.divergence,
            violations=tuple(self.checks.violations),
            notes=tuple(notes + self.notes + self.history.notes),
            files=tuple(name for name, _ in files or ()),
            jobs=self.work.finish(),
            writes=tuple(self.work.writes),
            landed=tuple(self.work.landed),
            asked=tuple(self.work.asked),
            freezes=tuple(self.freezes.freezes),
            snapshot=None if self._last is None else _snapshot(*self._last),
        )


def _session_timeout(run: Run) -> float:
    config = run.header.get("config") or {}
    value = config.get("session_timeout", 10.0) if isinstance(config, dict) else 10.0
    return float(value) if isinstance(value, int | float) else 10.0


def _field_differs(key: str, expected: dict[str, Any], recorded: dict[str, Any]) -> bool:
    if key == "effects" and recorded["effects"] is None:
        return False
    return bool(expected[key] != recorded[key])


def _snapshot(state: State, seq: int, wall: float) -> Snapshot:
    return Snapshot(
        seq=seq,
        wall=wall,
        name=state.name.value,
        token=state.token,
        connected=state.connected,
        session_id=state.session_id,
        timers=tuple((timer.value, timer_id) for timer, timer_id in state.timers),
        pending=tuple((request, kind.__name__) for request, kind in state.pending),
    )
