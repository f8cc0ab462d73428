"""The deterministic simulator (`election_sim`): seeded property runs and scenarios.

Every run drives the real reducer through the real loop against a simulated ZooKeeper,
file-dir and clock, writes genuine journals, and is then judged by `election-replay`
(every journal replays with no divergence; no invariant is broken) and by the
simulation's ground truth (file-dir). A failing seed is named in the assertion, with
the command that reproduces it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from election.core import effects as fx
from election.core import events as ev
from election.core.record import Record
from election.core.state import StateName
from election_replay.replay import analyse
from election_sim import Fault, SimConfig, Simulation, simulate
from election_sim.check import check
from election_sim.replica import Replica
from journal import read_journal

# Short runs with frequent faults: every fault kind hits most runs.
SEEDS = int(os.environ.get("ELECTION_SIM_SEEDS", "1000"))
FIRST_SEED = int(os.environ.get("ELECTION_SIM_FIRST_SEED", "0"))
SHORT = {
    "duration": 4.0,
    "session_timeout": 0.8,
    "leader_timeout": 0.2,
    "attempter_timeout": 0.8,
    "stop_deadline": 0.4,
    "fault_rate": 0.8,
}


def _reproduce(seed: int) -> str:
    return (
        f".venv/bin/python -m election_sim --seed {seed} --duration {SHORT['duration']} "
        f"--session-timeout {SHORT['session_timeout']} --leader-timeout "
        f"{SHORT['leader_timeout']} --attempter-timeout {SHORT['attempter_timeout']} "
        f"--stop-deadline {SHORT['stop_deadline']} --fault-rate {SHORT['fault_rate']} "
        f"--faults {','.join(sorted(Fault))} --journals /tmp/sim-{seed}"
    )


@pytest.fixture
def journals_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory in memory when there is one: the writer fsyncs every header."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    directory = Path(tempfile.mkdtemp(prefix="election-sim-test-", dir=shm))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.long
def test_seeded_runs_replay_cleanly_and_keep_every_invariant(journals_dir: Path) -> None:
    failures = []
    faults_seen: set[Fault] = set()
    events = 0
    for seed in range(FIRST_SEED, FIRST_SEED + SEEDS):
        directory = journals_dir / f"s{seed}"
        result = simulate(SimConfig(seed=seed, **SHORT), directory)  # type: ignore[arg-type]
        verdict = check(result)
        events += verdict.events
        faults_seen |= {f.kind for f in result.faults}
        if not verdict.ok:
            failures.append(f"seed {seed}: {verdict.problems}\n  reproduce: {_reproduce(seed)}")
        shutil.rmtree(directory)
    assert not failures, f"{len(failures)} of {SEEDS} seeds failed:\n" + "\n".join(failures[:5])
    assert faults_seen == set(Fault)  # the runs did meet every kind of fault
    assert events > SEEDS * 20  # and did something


class OneLeader:
    """A watcher of every record: at no moment do two replicas lead that are both awake,
    in touch with ZooKeeper and of a live session (a frozen or cut-off leader, or one
    whose session expired unheard, believes it leads until it hears otherwise; the
    replay judges whether it worked meanwhile)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.problems: list[str] = []
        sim.watchers.append(self.observe)

    def observe(self, replica: Replica, record: Record) -> None:
        if record.state != "Leader" or not self._in_office(replica):
            return
        for other in self.sim.replicas:
            run = other.run
            if other is not replica and self._in_office(other):
                assert run is not None
                self.problems.append(
                    f"{replica.id} (token {record.token}) and {other.id} (token "
                    f"{run.loop.state.token}) both Leader at {self.sim.clock.now:.3f}s"
                )

    @staticmethod
    def _in_office(replica: Replica) -> bool:
        """Leader, awake, in touch, and of a session the server still has."""
        run = replica.run
        if run is None or not run.alive or run.paused:
            return False
        session = run.client.session
        alive = session is not None and not session.expired
        return run.loop.state.name is StateName.LEADER and alive and run.client.in_contact()


@settings(
    max_examples=int(os.environ.get("ELECTION_SIM_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    priorities=st.lists(st.integers(0, 3), min_size=2, max_size=5).filter(any),
    faults=st.sets(st.sampled_from(sorted(Fault)), min_size=1),
)
def test_the_queue_keeps_one_leader_at_a_time_and_tokens_growing_under_any_faults(
    journals_dir: Path, seed: int, priorities: list[int], faults: set[Fault]
) -> None:
    """Crashes, partitions, outages, pauses, operator hand-overs (to one named, or not)
    and pauses, priorities that move candidates to the back, answers lost or late (a
    create in doubt) and reconnects: at most one leader at a time, the replay finds
    nothing wrong, no session ever holds two queue nodes, and every new leader's token
    is higher than every earlier one's (the same token again only for the same node
    resumed: one replica, its term continued)."""
    config = SimConfig(
        seed=seed, replicas=len(priorities), priorities=tuple(priorities),
        faults=frozenset(faults), **SHORT,  # type: ignore[arg-type]
    )  # fmt: skip
    directory = journals_dir / f"h{seed}"
    sim = Simulation(config, directory)
    one = OneLeader(sim)
    result = sim.run()
    verdict = check(result)
    assert not one.problems, one.problems[:3]
    assert verdict.ok, (verdict.problems, f"priorities {priorities}, faults {sorted(faults)}")
    terms = [t for t in analyse(result.journals).terms if t.token is not None]
    for earlier, later in itertools.pairwise(terms):
        assert earlier.token is not None and later.token is not None
        if later.replica != earlier.replica:
            assert later.token > earlier.token, (earlier, later)
        else:
            assert later.token >= earlier.token, (earlier, later)
    shutil.rmtree(directory)


def test_the_same_seed_writes_the_same_journals(tmp_path: Path) -> None:
    config = SimConfig(seed=7, duration=10.0)
    first = simulate(config, tmp_path / "a")
    second = simulate(config, tmp_path / "b")
    for a, b in zip(first.journals, second.journals, strict=True):
        # The header names the journal's own path; everything else is identical.
        assert a.read_bytes().replace(b"/a/", b"/b/") == b.read_bytes()
    assert first.faults == second.faults


def test_journals_are_genuine_runs_with_a_new_header_per_restart(tmp_path: Path) -> None:
    sim = Simulation(SimConfig(seed=3, duration=6.0, faults=frozenset()), tmp_path)
    sim.clock.at(2.0, lambda: sim.inject(Fault.CRASH, sim.replicas[0], 1.0))
    result = sim.run()
    journal = read_journal(result.journals[0])
    assert len(journal.runs) == 2  # the crash, then the restart 1 s later
    assert [r.header["simulation"]["run"] for r in journal.runs] == [1, 2]
    assert journal.runs[1].records[0]["event"] == {"type": "Started"}
    assert check(result).ok


def _leader(sim: Simulation) -> Replica:
    leaders = [
        r
        for r in sim.replicas
        if r.run is not None and r.run.alive and r.run.loop.state.name is StateName.LEADER
    ]
    assert len(leaders) == 1, [r.id for r in leaders]
    return leaders[0]


def _records(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [rec for run in read_journal(path).runs for rec in run.records]


def test_a_paused_leader_whose_timer_fires_first_writes_nothing_after_the_new_term(
    tmp_path: Path,
) -> None:
    config = SimConfig(seed=11, duration=12.0, faults=frozenset(), session_timeout=2.0)
    sim = Simulation(config, tmp_path)
    paused: list[tuple[Replica, int]] = []

    def pause_the_leader() -> None:
        leader = _leader(sim)
        assert leader.run is not None
        paused.append((leader, leader.run.loop.state.token or 0))
        # Far past the session timeout: the session expires, another replica leads, and
        # the write timer is due long before the resume.
        sim.inject(Fault.PAUSE, leader, 3 * config.session_timeout)

    sim.clock.at(3.0, pause_the_leader)
    result = sim.run()
    ((frozen, old_token),) = paused

    new_terms = [w for w in result.written if w.token > old_token]  # type: ignore[attr-defined]
    assert new_terms, "another replica took over while the leader was frozen"
    first_new = new_terms[0].time  # type: ignore[attr-defined]
    assert first_new < 3.0 + 3 * config.session_timeout  # ...before the resume
    stale = [
        w
        for w in (*result.written, *result.refused)
        if w.replica == frozen.id and w.token == old_token and w.time >= first_new  # type: ignore[attr-defined]
    ]
    assert not stale, f"the resumed leader wrote (or tried to) after the new term: {stale}"

    # Its journal: the write timer was handled after the resume, still as Leader, and
    # it asked to confirm with ZooKeeper instead of writing.
    records = _records(frozen.journal)
    resume_wall = records[0]["wall"] - records[0]["at"] + 1000.0 + 3.0 + 3 * 2.0
    after = [r for r in records if r["wall"] >= resume_wall - 1e-9]
    assert after[0]["event"]["type"] == "TimerFired" and after[0]["state"] == "Leader"
    assert [e["type"] for e in after[0]["effects"]][:1] == ["ReadNode"]
    term_end = next(i for i, r in enumerate(after) if r["state"] != "Leader")
    asked = [e for r in after[: term_end + 1] for e in r["effects"]]
    assert not [e for e in asked if e["type"] == "WriteLeaderFile"]
    verdict = check(result)
    assert verdict.ok, verdict.problems
    # The journals show it Leader across the pause; election-replay sees the freeze (its
    # write timer fired seconds late) and counts its term as ended when it froze.
    assert not verdict.excused
    analysis = analyse(sorted(str(p) for p in tmp_path.glob("*.jsonl")))
    assert any("frozen" in note and frozen.id in note for note in analysis.notes)


def test_a_partition_heals_and_leadership_settles_to_exactly_one(tmp_path: Path) -> None:
    config = SimConfig(
        seed=5, duration=20.0, faults=frozenset(), session_timeout=2.0, stop_at_end=False
    )
    sim = Simulation(config, tmp_path)
    cut: list[tuple[Replica, int]] = []

    def partition_the_leader() -> None:
        leader = _leader(sim)
        assert leader.run is not None
        cut.append((leader, leader.run.loop.state.token or 0))
        sim.inject(Fault.PARTITION, leader, 3 * config.session_timeout)

    sim.clock.at(5.0, partition_the_leader)
    sim.clock.at(5.0 + 3 * config.session_timeout + 0.01, lambda: cut.append((_leader(sim), 0)))
    result = sim.run()
    (isolated, old_token), (during, _) = cut
    assert during is not isolated  # another replica led while the leader was cut off
    final = _leader(sim)  # exactly one leader, long after the heal
    assert final.run is not None
    token = final.run.loop.state.token
    assert token is not None and token > old_token
    head = sim.zk.head(config.election_path)  # the lowest queue node is the leader's own
    assert head is not None
    assert head[1].czxid == token and head[1].owner == final.run.loop.state.session_id
    assert isolated.run is not None
    if isolated is not final:
        assert isolated.run.loop.state.name is StateName.ATTEMPTER  # rejoined, not leading
    assert check(result).ok


def test_a_stopping_leader_releases_its_node_only_after_its_write_in_flight(
    tmp_path: Path,
) -> None:
    config = SimConfig(seed=2, duration=8.0, faults=frozenset())
    sim = Simulation(config, tmp_path)
    stopped: list[Replica] = []

    def stop_mid_write(replica: Replica, record: Record) -> None:
        writes = any(isinstance(e, fx.WriteLeaderFile) for e in record.effects)
        if writes and not stopped and sim.clock.now > 2.0 and replica.run is not None:
            stopped.append(replica)
            replica.run.deliver(ev.StopRequested(signal="SIGTERM"))  # before the write lands

    sim.watchers.append(stop_mid_write)
    result = sim.run()
    # The file landed in Stopping, before the release: not a file outside leadership.
    assert check(result).ok, check(result).problems
    records = _records(stopped[0].journal)
    stop = next(i for i, r in enumerate(records) if r["event"]["type"] == "StopRequested")
    written = next(
        i for i, r in enumerate(records) if i > stop and r["event"]["type"] == "FileWritten"
    )
    # Closing the session deletes the node: it comes with (or after) the write's answer.
    release = next(
        i for i, r in enumerate(records) if any(e["type"] == "CloseSession" for e in r["effects"])
    )
    assert release >= written, "the node was let go while the write was in flight"


# --- the job: its keeper and its lease on simulated time (election_sim.jobs) ------------

SHORT_JOBS = {**SHORT, "jobs": True, "exec_grace": 0.2}
JOB_SEEDS = int(os.environ.get("ELECTION_SIM_JOB_SEEDS", "300"))


def test_seeded_runs_with_jobs_keep_the_jobs_promise(journals_dir: Path) -> None:
    """Every replica runs a job through its keeper: at every start no job of another
    term is alive, under crashes, pauses, partitions and outages; and the journals (with
    the keepers' records) replay cleanly."""
    failures, starts, crashed_leaders = [], 0, 0
    for seed in range(FIRST_SEED, FIRST_SEED + JOB_SEEDS):
        directory = journals_dir / f"j{seed}"
        result = simulate(SimConfig(seed=seed, **SHORT_JOBS), directory)  # type: ignore[arg-type]
        verdict = check(result)
        starts += result.job_starts
        crashed_leaders += sum(1 for p in directory.glob("*.keeper") if '"died"' in p.read_text())
        if not verdict.ok:
            failures.append(f"seed {seed}: {verdict.problems[:3]}\n  reproduce: "
                            f"{_reproduce(seed)} --jobs --exec-grace 0.2")  # fmt: skip
        shutil.rmtree(directory)
    assert not failures, f"{len(failures)} of {JOB_SEEDS} seeds failed:\n" + "\n".join(failures[:5])
    assert starts > JOB_SEEDS  # jobs did start, across the hand-overs
    assert crashed_leaders > JOB_SEEDS / 10  # and keepers did outlive their daemons


def test_a_job_that_outlives_its_lease_is_caught(
    journals_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check can fail: jobs that ignore every signal (a keeper that could not stop
    them) overlap the next term's, and the simulation says so."""
    from election_sim import jobs

    monkeypatch.setattr(jobs.SimJob, "signal", lambda self, name: None)
    caught = 0
    for seed in range(20):
        result = simulate(SimConfig(seed=seed, **SHORT_JOBS), journals_dir / f"b{seed}")  # type: ignore[arg-type]
        caught += any("was alive" in p for p in result.job_problems)
    assert caught >= 3, caught  # 6 of these 20 seeds when written
