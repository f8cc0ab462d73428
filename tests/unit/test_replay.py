"""election-replay: folding journals again, and the invariants across replicas.

Journals here are genuine: records come from driving today's reducer (the `Script`
driver) and are written with the journal package. Violating journals are made by hand
from such records, the way a misbehaving daemon (or an editor at 3 a.m.) would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.record import Record
from election.core.reducer import reduce
from election.core.state import StateName, initial_state
from election.flags import core_config_from_header
from election.record_codec import record_to_json
from election_replay import ReplayError, analyse
from election_replay.model import Analysis
from election_replay.timeline import build
from journal import JournalWriter
from tests.unit.core_script import Script, join, queue_read, settle, to_attempter

T0 = 1_800_000_000.0  # wall time of the first record


def header_config(replica: str) -> dict[str, Any]:
    """A journal header's configuration, as `Settings.as_header_config()` writes it."""
    return {
        "zk_servers": ["127.0.0.1:2181"],
        "leader_timeout": 1.0,
        "attempter_timeout": 10.0,
        "file_dir": "/tmp/election",
        "storage_capacity": 3,
        "election_path": "/election/leader",
        "replica_id": replica,
        "session_timeout": 4.0,
        "journal": f"/tmp/{replica}.jsonl",
        "metrics_address": None,
        "log_level": "info",
        "log_format": "text",
        "stop_deadline": 2.0,
        "protocol": "queue",
    }


class Replica(Script):
    """A `Script` that also stamps each reduction as the daemon's loop would journal it."""

    def __init__(self, name: str, start: float = T0, step: float = 0.01) -> None:
        super().__init__(initial_state(core_config_from_header(header_config(name))))
        self.name_ = name
        self.wall = start
        self.step = step
        self.records: list[Record] = []

    def _next_at(self) -> float:
        """The monotonic stamp of the next record (the loop stamps each event with it)."""
        return 100.0 + (self.wall + self.step) - T0

    def send(self, event: ev.Event) -> tuple[fx.Effect, ...]:
        at = self._next_at()
        self.wall += self.step
        event = attrs.evolve(event, at=at)  # as the daemon's loop stamps it
        t = reduce(self.state, event)
        self.records.append(
            Record(
                seq=len(self.records) + 1,
                at=at,
                wall=self.wall,
                event=event,
                state=t.state.name.value,
                effects=t.effects,
                previous=t.previous.value if t.previous else "",
                cause=t.cause,
                token=t.state.token,
            )
        )
        self.state, self.effects = t.state, t.effects
        self.history.append((event, t.effects))
        return t.effects

    def answer(
        self, effect: Any, event_type: type[ev.Event], **fields: Any
    ) -> tuple[fx.Effect, ...]:
        """As `Script.answer`, the answer stamped (and, unless told, asked) just now."""
        fields.setdefault("at", self._next_at())
        return super().answer(effect, event_type, **fields)

    def at(self, wall: float) -> Replica:
        """Let time pass: the next record is stamped just after `wall`."""
        self.wall = wall
        return self

    # --- whole episodes -----------------------------------------------------------

    def lead(self, token: int) -> Replica:
        """Init -> Attempter -> Leader with `token` (the czxid of its queue node, alone in
        the queue), the first file written."""
        if self.state.name is StateName.INIT:
            to_attempter(self)
        join(self, token)  # answered only now: the one that led before has gone
        queue_read(self, self.state.place.name)
        settle(self)  # the priorities read at the head
        assert self.state.name is StateName.LEADER
        return self.write_ok()

    def write_ok(self) -> Replica:
        """Answer the pending leader-file write (and its prune) as done."""
        write = self.last(fx.WriteLeaderFile)
        name = f"election-{write.token:012d}-{write.seq:08d}.json"
        self.answer(self.last(fx.PruneFiles), ev.FilesPruned, outcome=Outcome.OK)
        self.answer(write, ev.FileWritten, outcome=Outcome.OK, name=name)
        return self

    def tick(self) -> Replica:
        """The write timer fires: one more leader file."""
        self.fire(self.last_timer("write"))
        return self.write_ok()

    def stop(self) -> Replica:
        """SIGTERM: release the node (if leader), close the session, exit."""
        effects = self.send(ev.StopRequested(signal="SIGTERM"))
        release = [e for e in effects if isinstance(e, fx.ReleaseNode)]
        if release:
            self.answer(release[0], ev.NodeReleased, outcome=Outcome.OK)
        self.answer(self.last(fx.CloseSession), ev.SessionClosed, outcome=Outcome.OK)
        assert self.state.exited
        return self

    def wait(self) -> Replica:
        """Init -> Attempter, queueing (its create's answer comes when it leads)."""
        to_attempter(self)
        assert self.state.name is StateName.ATTEMPTER
        return self

    # --- the journal --------------------------------------------------------------

    def lines(self) -> list[dict[str, Any]]:
        return [record_to_json(r) for r in self.records]

    def write(self, directory: Path, lines: list[dict[str, Any]] | None = None) -> Path:
        path = directory / f"{self.name_}.jsonl"
        write_run(path, self.name_, self.lines() if lines is None else lines)
        return path


def write_run(path: Path, replica: str, lines: list[dict[str, Any]]) -> Path:
    """Append one run (a header, then `lines`) to the journal at `path`."""
    header = {
        "replica": replica,
        "program": "election 0.2.0",
        "started_wall": T0,
        "config": header_config(replica),
    }
    with JournalWriter(path, header, fsync=False) as writer:
        for line in lines:
            writer.append(line)
    return path


def handover(tmp_path: Path) -> list[Path]:
    """a leads with token 10, writes three files and stops; b takes over with token 12."""
    a = Replica("a").lead(10).tick().tick()
    b = Replica("b", start=T0 + 0.005).wait()
    a.at(T0 + 3.0).stop()
    b.at(a.wall + 0.01).lead(12).at(b.wall + 1.0).tick()
    return [a.write(tmp_path), b.write(tmp_path)]


def kinds(analysis: Analysis) -> list[str]:
    return [v.kind for v in analysis.violations]


# --- replay -------------------------------------------------------------------------------


def test_a_clean_handover_replays_with_no_divergence_and_no_violation(tmp_path: Path) -> None:
    analysis = analyse(handover(tmp_path))
    assert analysis.ok, (analysis.divergences, analysis.violations)
    assert analysis.events == sum(j.events for j in analysis.journals) > 20
    assert [(t.replica, t.token) for t in analysis.terms] == [("a", 10), ("b", 12)]
    a_term, b_term = analysis.terms
    assert a_term.end is not None and a_term.end < b_term.start
    assert b_term.end is None  # still leader when b's journal ends
    (gap,) = analysis.handovers
    assert gap.gap == pytest.approx(b_term.start - a_term.end)
    assert gap.gap is not None and 0 < gap.gap < 0.1


def test_a_hand_edited_state_is_the_first_divergence(tmp_path: Path) -> None:
    a = Replica("a").lead(10).tick()
    lines = a.lines()
    lines[3]["state"] = "Leader"  # was Init
    lines[5]["state"] = "Failover"  # a later edit is not reported: only the first
    path = a.write(tmp_path, lines)

    analysis = analyse([path])
    (div,) = analysis.divergences
    assert (div.where.line, div.where.seq) == (5, 4)  # the header is line 1
    assert div.fields == ("state",)
    assert div.expected["state"] == "Init" and div.recorded["state"] == "Leader"
    assert div.event == lines[3]["event"]
    assert not analysis.ok


def test_a_changed_effect_is_a_divergence(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    lines = a.lines()
    first_start = next(i for i, line in enumerate(lines) if line["effects"])
    lines[first_start]["effects"][0]["delay"] = 99.0
    (div,) = analyse([a.write(tmp_path, lines)]).divergences
    assert div.fields == ("effects",)
    assert div.expected["effects"] != div.recorded["effects"]


def test_a_record_without_effects_is_compared_on_state_only(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    lines = [{k: v for k, v in line.items() if k != "effects"} for line in a.lines()]
    assert analyse([a.write(tmp_path, lines)]).ok


def test_until_stops_each_journal_and_gives_the_state_at_that_moment(tmp_path: Path) -> None:
    a = Replica("a").lead(10).tick()
    leader_seq = next(r.seq for r in a.records if r.state == "Leader")
    analysis = analyse([a.write(tmp_path)], until=leader_seq)
    assert analysis.events == leader_seq
    (journal,) = analysis.journals
    snap = journal.snapshot
    assert snap is not None
    assert (snap.seq, snap.name, snap.token, snap.connected) == (leader_seq, "Leader", 10, True)
    assert [name for name, _ in snap.timers] == ["write"]
    assert {kind for _, kind in snap.pending} == {  # every request awaited, of any lifetime
        "PruneFiles",
        "WriteLeaderFile",
        "MarkNode",
        "ReadNode",
        "PublishMember",  # the member node shows Leader: it spans states
    }
    assert analysis.terms[0].end is None


def test_each_run_starts_from_its_own_header(tmp_path: Path) -> None:
    first = Replica("a").lead(10)  # crashes as leader: no Stopping
    second = Replica("a", start=first.wall + 5).lead(14).stop()
    path = first.write(tmp_path)
    write_run(path, "a", second.lines())

    analysis = analyse([path])
    assert not analysis.divergences and not analysis.violations
    assert analysis.journals[0].runs == 2
    crashed, restarted = analysis.terms
    assert crashed.end == pytest.approx(first.wall) and crashed.token == 10
    assert restarted.token == 14 and restarted.end is not None
    assert any("crash as leader" in note for note in analysis.notes)


# --- invariants -------------------------------------------------------------------------


def test_two_replicas_leading_with_the_same_token_is_a_violation(tmp_path: Path) -> None:
    a = Replica("a").lead(10).stop()
    b = Replica("b", start=a.wall + 1).lead(10)
    analysis = analyse([a.write(tmp_path), b.write(tmp_path)])
    assert "two-leaders-same-token" in kinds(analysis)
    (v,) = [v for v in analysis.violations if v.kind == "two-leaders-same-token"]
    assert v.replicas == ["a", "b"]
    assert {w.replica for w in v.records} == {"a", "b"} and all(w.line > 1 for w in v.records)


def test_overlapping_leaders_doing_the_work_are_a_violation(tmp_path: Path) -> None:
    a = Replica("a").lead(10).tick()  # leads from about T0+0.1 to its end
    b = Replica("b", start=T0 + 0.5).lead(12)
    a.at(T0 + 1.0).tick()  # a leader file of a's lands while b leads
    b.at(T0 + 1.5).tick()
    a.at(T0 + 2.0).stop()
    analysis = analyse([a.write(tmp_path), b.write(tmp_path)])
    assert kinds(analysis) == ["overlapping-leaders"]
    (v,) = analysis.violations
    assert "both Leader for" in v.message and v.replicas == ["a", "b"]
    assert "a did work meanwhile: a leader file landed at" in v.message


def test_an_earlier_leader_that_did_no_work_in_the_overlap_is_a_note(tmp_path: Path) -> None:
    """Cut off or paused, a leader believes it leads until it hears otherwise; what must
    not happen is two leaders doing the work."""
    a = Replica("a").lead(10).tick()  # its last file lands at about T0+0.1
    b = Replica("b", start=T0 + 0.5).lead(12)
    b.at(T0 + 1.5).tick()
    a.at(T0 + 2.0).stop()  # Leader in its journal until here, but idle
    analysis = analyse([a.write(tmp_path), b.write(tmp_path)])
    assert analysis.ok and kinds(analysis) == []
    (note,) = [n for n in analysis.notes if "both Leader for" in n]
    assert "a did no work meanwhile" in note


def test_an_overlap_within_the_clock_skew_is_only_a_note(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    a.at(T0 + 1.0).tick()  # a file lands just before it stops: work within the overlap
    a.stop()
    a_end = next(r.wall for r in a.records if r.state == "Stopping")
    b = Replica("b", start=T0 + 0.5).wait()
    # Four answers 10 ms apart (its create, the queue, its member node, the priorities):
    # it leads 20 ms before a's term ended.
    b.at(a_end - 0.02 - 0.04).lead(12)
    assert next(r.wall for r in b.records if r.state == "Leader") < a_end - 0.015
    paths = [a.write(tmp_path), b.write(tmp_path)]
    analysis = analyse(paths)
    assert analysis.ok
    assert any("clock-skew" in note for note in analysis.notes)
    assert kinds(analyse(paths, skew=0.01)) == ["overlapping-leaders"]


def test_a_smaller_token_after_a_larger_one_is_a_violation(tmp_path: Path) -> None:
    a = Replica("a").lead(20).stop()
    b = Replica("b", start=a.wall + 1).lead(15)
    analysis = analyse([a.write(tmp_path), b.write(tmp_path)])
    assert kinds(analysis) == ["token-decreased"]
    assert "15" in analysis.violations[0].message and "20" in analysis.violations[0].message


def test_a_file_written_outside_leader_is_a_violation(tmp_path: Path) -> None:
    a = Replica("a").wait()
    a.send(ev.FileWritten(request=999, outcome=Outcome.OK, name="election-x.json"))
    analysis = analyse([a.write(tmp_path)])
    assert not analysis.divergences  # today's reducer ignores it too
    (v,) = analysis.violations
    assert v.kind == "file-written-outside-leader" and "Attempter" in v.message
    assert v.records[0].seq == a.records[-1].seq


def test_a_write_asked_for_outside_leader_is_a_violation(tmp_path: Path) -> None:
    a = Replica("a").wait()
    lines = a.lines()
    lines[-1]["effects"].append(
        {"type": "WriteLeaderFile", "request": 50, "token": 3, "seq": 1, "replica": "a"}
    )
    analysis = analyse([a.write(tmp_path, lines)])
    assert "write-outside-leader" in kinds(analysis)
    assert analysis.divergences  # and today's reducer would not have asked for it


def test_leader_without_a_connected_session_is_a_violation(tmp_path: Path) -> None:
    a = Replica("a").lead(10).tick()
    lines = [line for line in a.lines() if line["event"]["type"] != "SessionConnected"]
    for seq, line in enumerate(lines, 1):
        line["seq"] = seq
    analysis = analyse([a.write(tmp_path, lines)])
    assert kinds(analysis).count("leader-while-disconnected") == 1  # once per episode


def test_a_replica_that_suspends_leaves_leader_and_nothing_is_flagged(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    a.send(ev.SessionSuspended())
    assert a.state.name is StateName.FAILOVER
    analysis = analyse([a.write(tmp_path)])
    assert analysis.ok
    assert analysis.terms[0].end == pytest.approx(a.records[-1].wall)


# --- input ----------------------------------------------------------------------------


def test_an_unknown_event_type_names_its_line(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    lines = a.lines()
    lines[2]["event"] = {"type": "Teleported"}
    with pytest.raises(ReplayError) as caught:
        analyse([a.write(tmp_path, lines)])
    assert (caught.value.line, "Teleported" in str(caught.value)) == (4, True)


def test_a_record_that_does_not_decode_names_its_line(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    lines = a.lines()
    lines[1]["event"]["outcome"] = "maybe"
    with pytest.raises(ReplayError) as caught:
        analyse([a.write(tmp_path, lines)])
    assert str(caught.value).startswith(f"{tmp_path / 'a.jsonl'}:3: cannot decode record")


def test_an_effect_in_place_of_an_event_is_refused(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    lines = a.lines()
    lines[0]["event"] = {"type": "Connect", "request": 1}
    with pytest.raises(ReplayError, match="unknown event type 'Connect'"):
        analyse([a.write(tmp_path, lines)])


def test_a_header_without_the_config_the_reducer_needs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    header = {"replica": "a", "program": "x", "started_wall": T0, "config": {}}
    with JournalWriter(path, header, fsync=False) as writer:
        writer.append(Replica("a").wait().lines()[0])
    with pytest.raises(ReplayError, match=r"a.jsonl:1: header config: missing"):
        analyse([path])


def test_a_torn_tail_is_a_note(tmp_path: Path) -> None:
    path = Replica("a").lead(10).write(tmp_path)
    with path.open("ab") as f:
        f.write(orjson.dumps({"seq": 99, "at": 1.0})[:-3])
    analysis = analyse([path])
    assert analysis.ok
    assert any("torn final line" in note for note in analysis.notes)


def test_a_journal_given_twice_is_read_once(tmp_path: Path) -> None:
    path = Replica("a").lead(10).write(tmp_path)
    (tmp_path / "link.jsonl").symlink_to(path)
    analysis = analyse([path, tmp_path / "link.jsonl"])
    assert analysis.ok and len(analysis.journals) == 1 and len(analysis.terms) == 1
    assert any("the same file" in note for note in analysis.notes)


# --- the timeline ---------------------------------------------------------------------


def test_the_timeline_aligns_replicas_on_wall_time(tmp_path: Path) -> None:
    analysis = analyse(handover(tmp_path))
    timeline = build(analysis.journals, width=30)
    assert timeline is not None
    a_row, b_row = (row.states for row in timeline.rows)
    assert len(a_row) == len(b_row) == 30
    a_led = [i for i, s in enumerate(a_row) if s == "Leader"]
    b_led = [i for i, s in enumerate(b_row) if s == "Leader"]
    assert a_led and b_led and max(a_led) <= min(b_led)
    assert a_row[-1] is None  # a's journal ended before b's
    assert "Stopping" in a_row


def test_a_replica_with_two_journal_files_gets_two_labelled_rows(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    first = Replica("a").lead(10).stop().write(tmp_path / "old")
    second = Replica("a", start=T0 + 10).lead(11).write(tmp_path)
    timeline = build(analyse([first, second]).journals, width=20)
    assert timeline is not None
    assert [row.label for row in timeline.rows] == ["a #1", "a #2"]


# --- journals of the single-node protocol (before the candidates' queue) ---------------

SINGLE_NODE = Path(__file__).parent / "journals" / "single-node"


def test_journals_of_the_single_node_protocol_are_told_apart_and_still_checked() -> None:
    """Two replicas of release 0.1.0 (simulated: a hand-over, a crash), whose header has
    no `protocol`: today's reducer does not fold them again, says so, and reads their
    terms and invariants from what they recorded."""
    paths = sorted(SINGLE_NODE.glob("*.jsonl"))
    analysis = analyse(paths)
    assert analysis.ok and not analysis.divergences
    assert analysis.events > 100
    told = [n for n in analysis.notes if "single-node protocol: not folded again" in n]
    assert len(told) == 2 and "election 0.1.0" in told[0]
    assert [(t.replica, t.token, t.end_cause) for t in analysis.terms] == [
        ("r0", 2, "handover"),
        ("r1", 5, "write-failed"),
        ("r1", 7, "stop"),
        ("r0", 10, None),
    ]


def test_an_overlap_in_journals_of_the_single_node_protocol_is_still_found(
    tmp_path: Path,
) -> None:
    lines = [orjson.loads(line) for line in (SINGLE_NODE / "r1.jsonl").read_bytes().splitlines()]
    header, records = lines[0], lines[1:]
    stolen = [{**r, "state": "Leader", "token": 2} if r.get("state") == "Attempter" else r
              for r in records]  # fmt: skip
    forged = tmp_path / "r1.jsonl"
    forged.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in [header, *stolen]))
    analysis = analyse([SINGLE_NODE / "r0.jsonl", forged])
    assert not analysis.divergences  # not folded: nothing to compare
    assert {v.kind for v in analysis.violations} & {"two-leaders-same-token", "overlapping-leaders"}


def test_a_create_asked_while_a_node_of_the_session_stands_is_a_violation(tmp_path: Path) -> None:
    """Never two queue nodes of one session: a journal that asks for a create while its
    records say a node of its session stands (created, not released, not gone) is flagged."""
    a = Replica("a").lead(10).tick()
    lines = a.lines()
    held = next(line for line in lines if line["event"]["type"] == "NodeCreated")["event"]
    forged = dict(lines[-1])
    forged["seq"] = lines[-1]["seq"] + 1
    forged["effects"] = [
        {"type": "CreateNode", "request": 999, "path": held["path"][:-10], "replica": "a"}
    ]
    path = a.write(tmp_path, [*lines, forged])
    analysis = analyse([path])
    assert [v.kind for v in analysis.violations] == ["second-queue-node"]
    assert held["path"].rsplit("/", 1)[-1] in analysis.violations[0].message
    # The records as the reducer made them: none.
    assert analyse([Replica("b").lead(10).tick().stop().write(tmp_path)]).ok
