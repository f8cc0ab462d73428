"""One journal folded again: each record's event (stamped with the record's `at`) through
today's reducer, compared with the recorded state, token and effects, and shown to the
observers (terms, invariants, the leader's work, freezes).

Every run starts from `initial_state` of the configuration its header records; a rotated
segment that continues a run, from the folded state (checked against the snapshot in its
header, see `segments.py`); a window, from the snapshot nearest before it (`seek.py`).
A run of the single-node protocol (a header without `protocol`: before the candidates'
queue) is not folded again, since today's reducer speaks the queue: a note says so, and
what it recorded is still read for its terms, its tokens and the invariants.
The first mismatch of a journal is its divergence; the fold goes on (so the counts are
whole) but compares no further, since after a divergence the recomputed and the recorded
histories are different stories.

Anything that makes a journal untrustworthy is a `ReplayError` naming file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from election.core import effects as fx
from election.core.events import EVENT_TYPES, Event
from election.core.reducer import reduce
from election.core.state import State, initial_state
from election.flags import core_config_from_header, not_foldable
from election.record_codec import (
    CODEC,
    checkpoint_from_line,
    snapshot_from_header,
    state_from_json,
    state_to_json,
)
from election_replay.freezes import FreezeDetector
from election_replay.invariants import ReplicaChecks
from election_replay.model import Divergence, JournalSummary, Snapshot, Where
from election_replay.seek import StartPoint
from election_replay.segments import Segment, run_key, segment_index
from election_replay.terms import History
from election_replay.work import WorkLog
from journal import CodecError, JsonObject, Run, iter_lines

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


class Folder:
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
        self.until_wall = float("inf")  # stop before the first record later than this
        self.stopped_at_wall = False
        self.stopped_on: tuple[int, JsonObject] | None = None  # the first record beyond it
        self.start: StartPoint | None = None  # a window's start, when it is not the journal's
        self._start_path = journal  # the file it lies in
        self._old_noted = False  # a run of the single-node protocol was noted

    @property
    def run(self) -> tuple[Any, ...] | None:
        """The run the fold is in (`segments.run_key` of its header)."""
        return self._run

    def start_at(self, start: StartPoint, path: str) -> None:
        """The fold of a window starts at `start` in the file `path` (the summary says)."""
        self.start, self._start_path = start, path

    def resume(self, start: StartPoint) -> None:
        """Begin mid-run, from the snapshot a record carries (a window's start): the
        state after it, and where the state it is in began (a term's true start)."""
        checkpoint, record = start.after, start.record
        assert checkpoint is not None and record is not None
        self.runs += 1
        self._headers += 1
        state = self._in_run(checkpoint.state, Run(header=start.header, records=[], first_line=0))
        recorded, leading = str(record["state"]), record.get("token")
        at = Where(self.replica, self.path, start.line - 1, checkpoint.seq, start.wall)
        entered = None
        if checkpoint.entered is not None:
            seq, wall = checkpoint.entered
            line = at.line - (checkpoint.seq - seq)  # records of a run: one line each
            entered = Where(self.replica, self.path, line if line > 1 else 0, seq, wall)
        self.history.begin_run(_run_started(start.header))
        self.history.resume(at, recorded, leading if type(leading) is int else None, entered)
        self.checks.begin_run()
        self.checks.resume(state.connected, recorded)
        self.work.begin_run(_run_started(start.header))
        flat = state_to_json(state)  # the snapshot's wire form, not the state's records
        if type(flat.get("child_pid")) is int:
            token = flat.get("child_token")
            self.work.resume(flat["child_pid"], token if type(token) is int else None, start.wall)
        timeout = _session_timeout(Run(header=start.header, records=[], first_line=0))
        self.freezes.begin_run(timeout, mid_run=True)
        self._run, self._segment = run_key(start.header), segment_index(start.header)
        self._state, self._last_seq = state, checkpoint.seq
        self._last = (state, checkpoint.seq, start.wall)
        if not self._foldable(start.header):
            self._state = self._last = None

    def fold_file(
        self,
        path: str,
        until: int | None,
        notes: list[str],
        lines: Iterator[tuple[int, JsonObject, bool]] | None = None,
    ) -> bool:
        """Fold one file, every run in it, as it is read (or the `lines` of it given:
        a window's, from its start point); False when `until` (a seq) or `until_wall`
        was passed and the journal should stop. Torn lines go to `notes`.

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
        until_wall = self.until_wall
        for number, line, is_header in iter_lines(path, notes) if lines is None else lines:
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
            wall: float = line["wall"]
            if wall > until_wall:
                self._count(events, first_wall, last, last_wall, last_seq)
                self._state, self.stopped_at_wall = state, True
                self.stopped_on = (number, line)
                return False
            at: float = line["at"]
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
                    if comparing and "snapshot" in line:  # one record in SNAPSHOT_EVERY
                        comparing = self._checkpoint_agrees(where, line, state)
            if effects is None:
                effects = self._effects(line, number)
            events += 1
            if first_wall is None:
                first_wall = wall
            last_wall, last_seq = wall, seq
            history.observe(where, recorded, token, data, line.get("why", ""))
            checks.observe(where, event, recorded, effects)
            work.observe(where, event, effects)
            freezes.observe(where, at, event, recorded, effects)
        self._count(events, first_wall, last, last_wall, last_seq)
        self._state = state
        return True

    def watch_freezes(self, lines: Iterable[tuple[int, JsonObject, bool]]) -> None:
        """Show the freeze detector records past the fold's end (a window's), as far as
        `lines` go and no further than the run: a replica frozen before the window's end
        records nothing until it wakes, and the late timer that tells the freeze comes
        among the first records after it."""
        for number, line, is_header in lines:
            if is_header:
                return
            data = line["event"]
            decode = _EVENT_DECODERS.get(data["type"])
            if decode is None:
                return
            try:
                event = decode(data, {"at": line["at"]})
            except CodecError:
                return
            where = Where(self.replica, self.path, number, line["seq"], line["wall"])
            effects = self._effects(line, number)
            self.freezes.observe(where, line["at"], event, line["state"], effects)

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
        if not self._foldable(run.header):
            self._initial(run)  # a header must be readable all the same
            self._unfolded(run, segment, key)
            return None
        if segment == 0:
            self.history.begin_run(_run_started(run.header))
            self.checks.begin_run()
            self.work.begin_run(_run_started(run.header), _exec_grace(run))
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
                state = self._in_run(recorded, run) if self._state is None else self._state
                if (
                    self._state is not None
                    and _differs(self._state, recorded)
                    and not self.divergence
                ):
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
                state = self._in_run(recorded, run)
                self.checks.resume(recorded.connected, recorded.name.value)
            else:
                self.history.begin_run(_run_started(run.header))
                self._resume_history(run, seq, recorded)
                self.freezes.begin_run(_session_timeout(run), mid_run=True)
                self.checks.begin_run()
                self.checks.resume(recorded.connected, recorded.name.value)
                if self.start is None:  # a window says where it started on its own
                    self.notes.append(
                        f"{self.path}: starts at segment {segment} of its run (the earlier "
                        f"segments were not given): replayed from the snapshot after seq {seq}"
                    )
                state = self._in_run(recorded, run)
            self._last_seq = seq
        self._run, self._segment = key, segment
        return state

    def _foldable(self, header: JsonObject) -> bool:
        """Whether today's reducer folds the run of `header` (`flags.not_foldable`)."""
        config = header.get("config")
        why = not_foldable(config) if isinstance(config, dict) else "no configuration"
        if why is None:
            return True
        if not self._old_noted:
            self._old_noted = True
            program = header.get("program") or "an older election"
            self.notes.append(
                f"written by {program} with {why}: not folded again (this "
                "election-replay folds the candidates' queue as today's build runs it); "
                "its terms, tokens and invariants are read from what it recorded"
            )
        return False

    def _unfolded(self, run: Run, segment: int, key: tuple[Any, ...]) -> None:
        """Start (or continue) a run that is not folded: only what it recorded is read."""
        if segment == 0 or key != self._run:
            self.history.begin_run()
            self.checks.begin_run()
            started = run.header.get("started_wall")
            self.work.begin_run(
                float(started) if isinstance(started, int | float) else None, _exec_grace(run)
            )
            self.freezes.begin_run(_session_timeout(run), mid_run=segment != 0)
        self._run, self._segment, self._last_seq = key, segment, None
        self._last = None

    def _resume_history(self, run: Run, seq: int, state: State) -> None:
        """A segment folded without the one before: where the state it starts in began,
        if its snapshot says (a term open across the rotation keeps its true start)."""
        checkpoint = checkpoint_from_line(run.header)  # decoded once already: no error
        if checkpoint is None or checkpoint.entered is None:
            return
        entered_seq, wall = checkpoint.entered
        entered = Where(self.replica, self.path, 0, entered_seq, wall)  # in an earlier file
        at = Where(self.replica, self.path, run.first_line, seq, wall)
        self.history.resume(at, state.name.value, state.token, entered)

    def _snapshot(self, run: Run) -> tuple[int, State] | None:
        try:
            return snapshot_from_header(run.header)
        except CodecError as exc:
            raise ReplayError(self.path, run.first_line, f"header {exc}") from None

    def _snapshot_diverged(self, run: Run, seq: int, folded: State, recorded: State) -> None:
        """The state today's reducer folded to differs from the one the daemon recorded
        when it rotated: report the fields that differ."""
        where = Where(
            replica=self.replica,
            journal=self.path,
            line=run.first_line,
            seq=seq,
            wall=self.last_wall if self.last_wall is not None else 0.0,
        )
        self._state_diverged(where, {"type": "segment snapshot"}, folded, recorded)

    def _checkpoint_agrees(self, where: Where, line: JsonObject, folded: State) -> bool:
        """A record's periodic snapshot: the state the daemon recorded after it must be
        the one today's reducer folded to (else a divergence on `snapshot`)."""
        try:
            checkpoint = checkpoint_from_line(line)
        except CodecError as exc:
            raise ReplayError(self.path, where.line, f"record {exc}") from None
        if checkpoint is None or not _differs(checkpoint.state, folded):
            return True
        self._state_diverged(where, line["event"], folded, checkpoint.state)
        return False

    def _state_diverged(
        self, where: Where, event: JsonObject, folded: State, recorded: State
    ) -> None:
        today, journaled = state_to_json(folded), state_to_json(recorded)
        keys = _differs(folded, recorded)
        self.divergence = Divergence(
            where=where,
            event=event,
            fields=("snapshot",),
            expected={"snapshot": {k: today.get(k) for k in keys}},
            recorded={"snapshot": {k: journaled.get(k) for k in keys}},
        )

    def _in_run(self, state: State, run: Run) -> State:
        """A snapshot's state under the configuration today's reducer reads from its run's
        header: a snapshot of an older daemon lacks what today's configuration has grown
        (read as defaults), while the fold takes the run's own, as `_initial` does."""
        config = state_to_json(self._initial(run))["config"]  # the snapshot's own form
        return state_from_json({**state_to_json(state), "config": config})

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
            start=None if self.start is None else _start_json(self.start, self._start_path),
        )


def _start_json(start: StartPoint, path: str) -> dict[str, Any]:
    """Where a window's fold of a journal began: the record whose snapshot it started
    from, or a header."""
    if start.after is None:
        return {"from": "header", "journal": path, "line": start.line, "seq": 0, "wall": start.wall}
    return {
        "from": "snapshot",
        "journal": path,
        "line": start.line - 1,
        "seq": start.after.seq,
        "wall": start.wall,
    }


def _differs(folded: State, recorded: State) -> list[str]:
    """The fields of the snapshot's form in which two states differ, but the configuration:
    that is the run's header's, which a snapshot only repeats (an older daemon's lacks
    what today's configuration has grown)."""
    today, journaled = state_to_json(folded), state_to_json(recorded)
    return sorted(
        k
        for k in today.keys() | journaled.keys()
        if k != "config" and today.get(k) != journaled.get(k)
    )


def _run_started(header: dict[str, Any]) -> float | None:
    """A run's name: its header's `started_wall` (a keeper's records point to it)."""
    started = header.get("started_wall")
    return float(started) if isinstance(started, int | float) else None


def _exec_grace(run: Run) -> float:
    """The run's --exec-grace, as its header records it (0 where it does not)."""
    return _configured(run, "exec_grace", 0.0)


def _session_timeout(run: Run) -> float:
    return _configured(run, "session_timeout", 10.0)


def _configured(run: Run, key: str, default: float) -> float:
    """A number from the run's header's configuration, `default` where it is missing."""
    config = run.header.get("config") or {}
    value = config.get(key, default) if isinstance(config, dict) else default
    return float(value) if isinstance(value, int | float) else default


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
