"""Fold journals again through today's reducer, and gather what the report needs.

Every run of a journal starts from `initial_state` of the configuration its header
records; each record's event (stamped with the record's `at`) is reduced and the result
compared with the recorded state, token and effects. The first mismatch of a journal is
its divergence; the fold goes on (so the counts are whole) but compares no further, since
after a divergence the recomputed and the recorded histories are different stories.

Anything that makes a journal untrustworthy is a `ReplayError` naming file and line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from election.core import effects as fx
from election.core.events import EVENT_TYPES
from election.core.record import Record
from election.core.reducer import reduce
from election.core.state import State, initial_state
from election.runtime.journaling import CODEC, core_config_from_header, record_from_json
from election_replay.invariants import DEFAULT_SKEW, ReplicaChecks, check_terms
from election_replay.model import Analysis, Divergence, JournalSummary, Snapshot, Where
from election_replay.terms import History, by_start, handovers
from journal import CodecError, JournalError, Run, read_journal

_EVENT_NAMES = frozenset(cls.__name__ for cls in EVENT_TYPES)
_EFFECT_NAMES = frozenset(cls.__name__ for cls in fx.EFFECT_TYPES)


class ReplayError(Exception):
    """A journal cannot be replayed. `str()` is `<path>:<line>: <message>`."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(path, line, message)
        self.path, self.line, self.message = path, line, message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def analyse(
    paths: Sequence[str | os.PathLike[str]], *, until: int | None = None, skew: float = DEFAULT_SKEW
) -> Analysis:
    """Replay every journal, then check the invariants across them."""
    unique, repeated = _distinct(paths)
    journals = tuple(replay_journal(path, until=until) for path in unique)
    terms = by_start(t for j in journals for t in j.terms)
    cross, cross_notes = check_terms(terms, skew)
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
    )


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
    """Fold one journal (all its runs) and compare; stop after seq `until` if given."""
    name = os.fspath(path)
    try:
        journal = read_journal(path)
    except JournalError as exc:
        raise ReplayError(exc.path, exc.line, exc.message) from None
    replica = str(journal.runs[0].header.get("replica", "?"))
    folder = _Folder(name, replica)
    for run in journal.runs:
        if not folder.fold_run(run, until):
            break
    return folder.summary(len(journal.runs), journal.notes)


class _Folder:
    """The state of one journal's replay."""

    def __init__(self, journal: str, replica: str) -> None:
        self.journal = journal
        self.replica = replica
        self.history = History(replica)
        self.checks = ReplicaChecks(replica)
        self.events = 0
        self.divergence: Divergence | None = None
        self._last: tuple[State, Record] | None = None  # the latest folded state
        self.first_wall: float | None = None
        self.last_wall: float | None = None

    def fold_run(self, run: Run, until: int | None) -> bool:
        """Fold one run; False when `until` was passed and the journal should stop."""
        state: State | None = self._initial(run)
        self.history.begin_run()
        self.checks.begin_run()
        comparing = self.divergence is None
        for index, line in enumerate(run.records):
            number = run.first_line + 1 + index
            if until is not None and line["seq"] > until:
                return False
            record = self._decode(line, number)
            where = Where(
                replica=self.replica,
                journal=self.journal,
                line=number,
                seq=record.seq,
                wall=record.wall,
            )
            self.events += 1
            self.first_wall = record.wall if self.first_wall is None else self.first_wall
            self.last_wall = record.wall
            self.history.observe(where, record.state, record.token)
            self.checks.observe(where, record.event, record.state, record.effects)
            if state is None:
                continue  # the reducer failed earlier in this run: nothing left to fold
            try:
                transition = reduce(state, record.event)
            except Exception as exc:  # a reducer bug (or a history it cannot follow)
                if comparing:
                    self._diverged(where, line, record, None, f"{type(exc).__name__}: {exc}")
                    comparing = False
                state = None
                continue
            state = transition.state
            self._last = (state, record)
            if comparing and _differs(state, transition.effects, record, line):
                self._diverged(where, line, record, (state, transition.effects), "")
                comparing = False
        return True

    def _initial(self, run: Run) -> State:
        config = run.header.get("config")
        try:
            assert isinstance(config, dict)
            return initial_state(core_config_from_header(config))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc) or "not an object"
            raise ReplayError(self.journal, run.first_line, f"header config: {detail}") from None

    def _decode(self, line: dict[str, Any], number: int) -> Record:
        # `record_from_json` would take an effect for an event (it asserts) and drop
        # events among the effects: refuse both here, with the line.
        tag = line["event"].get("type")
        if tag not in _EVENT_NAMES:
            raise ReplayError(self.journal, number, f"unknown event type {tag!r}")
        for item in line.get("effects", []):
            if item.get("type") not in _EFFECT_NAMES:
                raise ReplayError(self.journal, number, f"unknown effect type {item.get('type')!r}")
        try:
            return record_from_json(line)
        except CodecError as exc:
            raise ReplayError(self.journal, number, f"cannot decode record: {exc}") from None

    def _diverged(
        self,
        where: Where,
        line: dict[str, Any],
        record: Record,
        computed: tuple[State, tuple[fx.Effect, ...]] | None,
        failure: str,
    ) -> None:
        recorded = {
            "state": record.state,
            "token": record.token,
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

    def summary(self, runs: int, notes: list[str]) -> JournalSummary:
        self.history.finish()
        return JournalSummary(
            journal=self.journal,
            replica=self.replica,
            runs=runs,
            events=self.events,
            first_wall=self.first_wall,
            last_wall=self.last_wall,
            segments=tuple(self.history.segments),
            terms=tuple(self.history.terms),
            divergence=self.divergence,
            violations=tuple(self.checks.violations),
            notes=tuple(notes + self.history.notes),
            snapshot=None if self._last is None else _snapshot(*self._last),
        )


def _differs(
    state: State, effects: tuple[fx.Effect, ...], record: Record, line: dict[str, Any]
) -> bool:
    if state.name.value != record.state or state.token != record.token:
        return True
    # Effects are compared only where the journal kept them.
    return "effects" in line and effects != record.effects


def _field_differs(key: str, expected: dict[str, Any], recorded: dict[str, Any]) -> bool:
    if key == "effects" and recorded["effects"] is None:
        return False
    return bool(expected[key] != recorded[key])


def _snapshot(state: State, record: Record) -> Snapshot:
    return Snapshot(
        seq=record.seq,
        wall=record.wall,
        name=state.name.value,
        token=state.token,
        connected=state.connected,
        session_id=state.session_id,
        timers=tuple((timer.value, timer_id) for timer, timer_id in state.timers),
        pending=state.pending,
    )
