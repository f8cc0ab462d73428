"""The keeper's decisions with scripted inputs, no process: `election.keeper.machine`.

The daemon alive or gone, the job's group alive or gone, the session known or not, its
close answered, failed or unreachable; and, over random histories, the promises: the
session is closed only after the daemon's process exited and its job's group is gone,
and no job outlives its lease.
"""

from __future__ import annotations

import math
import os
import signal

from hypothesis import given, settings
from hypothesis import strategies as st

from election.keeper import machine as m

SESSION = m.Session(0x1234, b"secret-password!", 10.0)
SPEC = m.JobSpec(request=1, token=7, command=("job",), grace=1.0, lock="/l", start_by=100.0)
KILLED = 9  # a wait status: killed by SIGKILL
EXITED_0 = 0


class Script:
    """Feeds events at scripted times and keeps every action."""

    def __init__(self) -> None:
        self.state = m.State()
        self.actions: list[m.Action] = []

    def feed(self, event: m.Event) -> list[m.Action]:
        self.state, actions = m.step(self.state, event)
        self.actions += actions
        return actions

    def running(self, at: float = 0.0, lease: float = 50.0) -> int:
        """Start the job (lock taken, a lease granted, spawned as pid 100)."""
        self.feed(m.SessionTold(at, SESSION))
        assert self.feed(m.StartAsked(at, SPEC)) == [m.TryLock("/l")]
        assert self.feed(m.LockTried(at, True)) == []  # no lease yet: wait
        assert self.feed(m.LeaseGranted(at, 7, lease)) == [m.Spawn(SPEC)]
        actions = self.feed(m.Spawned(at, 100, 1000.0))
        assert actions == [m.Report({"type": "started", "request": 1, "pid": 100, "wall": 1000.0})]
        return 100

    def of(self, kind: type[m.Action]) -> list[m.Action]:
        return [a for a in self.actions if isinstance(a, kind)]


def signals(actions: list[m.Action]) -> list[str]:
    return [a.signal for a in actions if isinstance(a, m.SignalGroup)]


def records(actions: list[m.Action]) -> list[str]:
    return [str(a.fields["type"]) for a in actions if isinstance(a, m.Record)]


def test_a_job_starts_with_the_lock_and_a_lease_that_leaves_room_for_the_grace() -> None:
    s = Script()
    assert s.feed(m.StartAsked(0.0, SPEC)) == [m.TryLock("/l")]
    assert s.feed(m.LockTried(0.0, False)) == []  # an earlier job still holds it
    assert s.feed(m.Tick(0.01)) == []  # not again before LOCK_POLL
    assert s.feed(m.Tick(0.06)) == [m.TryLock("/l")]
    s.feed(m.LockTried(0.06, True))
    assert s.feed(m.LeaseGranted(0.1, 7, 1.05)) == []  # 0.95 s left: less than the grace
    assert s.feed(m.LeaseGranted(0.1, 8, 9.0)) == []  # another term's proof is not ours
    assert s.feed(m.LeaseGranted(0.1, 7, 9.0)) == [m.Spawn(SPEC)]
    assert s.state.phase is m.Phase.STARTING and s.feed(m.Tick(0.2)) == []  # spawning


def test_a_start_that_gets_no_lease_in_time_fails_and_frees_the_lock() -> None:
    s = Script()
    s.feed(m.StartAsked(0.0, SPEC))
    s.feed(m.Tick(0.0))
    s.feed(m.LockTried(0.0, True))
    actions = s.feed(m.Tick(100.0))
    assert actions == [
        m.Report({"type": "failed", "request": 1, "reason": "no lease from the daemon in time"}),
        m.ReleaseLock(),
    ]
    assert s.state.phase is m.Phase.IDLE


def test_a_second_start_while_a_job_runs_is_refused() -> None:
    s = Script()
    s.running()
    other = m.JobSpec(request=2, token=8, command=("job",))
    actions = s.feed(m.StartAsked(1.0, other))
    assert [a.fields["type"] for a in actions if isinstance(a, m.Report)] == ["failed"]
    assert s.state.job is not None and s.state.job.spec == SPEC


def test_the_lease_ends_the_job_sigterm_at_lease_less_grace_sigkill_at_lease() -> None:
    s = Script()
    s.running(lease=10.0)
    assert m.next_wake(s.state, 5.0) == 6.0  # at most IDLE_WAKE ahead
    assert m.next_wake(s.state, 8.5) == 9.0  # lease - grace
    actions = s.feed(m.Tick(9.0))
    assert signals(actions) == ["SIGTERM"]
    assert actions[0] == m.Report(
        {"type": "lease-expired", "pid": 100, "reason": "not extended for 9.00s"}
    )
    assert signals(s.feed(m.Tick(9.5))) == []
    assert signals(s.feed(m.Tick(10.0))) == ["SIGKILL"]
    assert signals(s.feed(m.Tick(10.01))) == []  # stragglers: again after KILL_REPEAT
    assert signals(s.feed(m.Tick(10.06))) == ["SIGKILL"]


def test_a_stop_terms_the_group_then_kills_after_the_grace_never_after_the_lease() -> None:
    s = Script()
    s.running(lease=3.5)
    s.feed(m.StopAsked(3.0))
    assert s.state.job is not None and s.state.job.kill_at == 3.5  # the lease, before 3 + 1
    assert signals(s.actions) == ["SIGTERM"]
    assert signals(s.feed(m.Tick(3.5))) == ["SIGKILL"]


def test_a_kill_asked_kills_at_once() -> None:
    s = Script()
    s.running()
    assert signals(s.feed(m.KillAsked(1.0))) == ["SIGTERM", "SIGKILL"]


def test_a_job_that_exited_waits_for_its_group_then_frees_the_lock_and_says_so() -> None:
    s = Script()
    s.running()
    actions = s.feed(m.JobReaped(2.0, EXITED_0))
    assert signals(actions) == ["SIGTERM"]  # stragglers of its group get the stop
    actions = s.feed(m.GroupGone(2.5))
    assert actions == [
        m.ReleaseLock(),
        m.Report({"type": "exited", "pid": 100, "code": 0, "signal": "", "ran_for": 2.5}),
    ]
    assert s.state.phase is m.Phase.IDLE and s.state.lease == -math.inf


def test_a_daemon_that_dies_while_idle_has_its_session_closed_and_its_death_recorded() -> None:
    s = Script()
    s.feed(m.SessionTold(0.0, SESSION))
    assert s.feed(m.PipeClosed(1.0)) == []  # not certainly dead: nothing is released yet
    actions = s.feed(m.DaemonExited(1.001, KILLED))
    assert records(actions) == ["died"]
    died = actions[0]
    assert isinstance(died, m.Record) and died.at == 1.0  # dated by the first sign
    assert died.fields["code"] == 137 and died.fields["signal"] == "SIGKILL"
    assert actions[1:] == [m.CloseSession(SESSION)]
    actions = s.feed(m.SessionCloseDone(1.01, "closed"))
    assert records(actions) == ["session-closed"] and actions[-1] == m.Exit(0)


def test_a_dead_leaders_job_is_stopped_first_and_its_session_closed_only_once_it_is_gone() -> None:
    s = Script()
    s.running(lease=20.0)
    actions = s.feed(m.PipeClosed(5.0))
    assert signals(actions) == ["SIGTERM"] and records(actions) == ["job-term"]
    assert s.state.job is not None and s.state.job.kill_at == 6.0  # now + grace
    actions = s.feed(m.DaemonExited(5.001, KILLED))
    assert records(actions) == ["died"] and not s.of(m.CloseSession)  # the job first
    assert signals(s.feed(m.Tick(6.0))) == ["SIGKILL"]
    assert records(s.actions)[-1] == "job-kill"
    s.feed(m.JobReaped(6.01, signal.SIGKILL))
    actions = s.feed(m.GroupGone(6.02))
    assert records(actions) == ["job-gone"]
    assert m.CloseSession(SESSION) in actions  # now, and only now
    assert not any(isinstance(a, m.Report) for a in actions)  # nobody to tell


def test_a_daemon_whose_pipe_closed_but_still_runs_never_has_its_session_closed() -> None:
    s = Script()
    s.running()
    s.feed(m.PipeClosed(1.0))
    s.feed(m.JobReaped(1.5, EXITED_0))
    s.feed(m.GroupGone(1.6))
    for t in range(2, 100):
        s.feed(m.Tick(float(t)))
    assert not s.of(m.CloseSession) and not s.of(m.Exit)


def test_a_frozen_daemon_loses_its_job_at_the_lease_and_keeps_its_session() -> None:
    s = Script()
    s.running(lease=10.0)
    s.feed(m.Tick(9.0))
    s.feed(m.Tick(10.0))
    s.feed(m.JobReaped(10.01, signal.SIGKILL))
    s.feed(m.GroupGone(10.02))
    assert signals(s.actions) == ["SIGTERM", "SIGKILL"]
    assert not s.of(m.CloseSession) and not s.of(m.Record)  # alive, merely silent


def test_an_unreachable_zookeeper_leaves_the_session_to_expire_as_before() -> None:
    s = Script()
    s.feed(m.SessionTold(0.0, SESSION))
    s.feed(m.DaemonExited(1.0, KILLED))
    actions = s.feed(m.SessionCloseDone(6.0, "failed: 127.0.0.1:2181: refused"))
    assert actions[-1] == m.Exit(0)
    last = [a for a in actions if isinstance(a, m.Record)][-1]
    assert last.fields["outcome"].startswith("failed")


def test_without_a_session_the_death_is_recorded_and_nothing_is_closed() -> None:
    s = Script()
    actions = s.feed(m.DaemonExited(1.0, None))
    assert records(actions) == ["died"] and actions[-1] == m.Exit(0)
    died = actions[0]
    assert isinstance(died, m.Record) and died.fields["code"] is None  # collected first


def test_an_internal_error_is_recorded_with_the_code_the_daemon_said() -> None:
    s = Script()
    s.feed(m.SessionTold(0.0, SESSION))
    s.feed(m.ExitSaid(1.0, 3, graceful=False))
    s.feed(m.PipeClosed(1.0))
    actions = s.feed(m.DaemonExited(1.1, None))  # its parent collected it first
    died = actions[0]
    assert isinstance(died, m.Record) and (died.fields["code"], died.fields["said"]) == (3, True)
    assert m.CloseSession(SESSION) in actions


def test_a_graceful_stop_records_nothing_unless_the_close_closed_something() -> None:
    s = Script()
    s.feed(m.SessionTold(0.0, SESSION))
    s.feed(m.ExitSaid(1.0, 0, graceful=True))
    s.feed(m.PipeClosed(1.0))
    actions = s.feed(m.DaemonExited(1.1, EXITED_0))
    assert actions == [m.CloseSession(SESSION)]  # its own close may not have landed
    assert s.feed(m.SessionCloseDone(1.2, "expired")) == [m.Exit(0)]


def test_a_graceful_stop_before_any_session_exits_at_once() -> None:
    s = Script()
    s.feed(m.ExitSaid(1.0, 0, graceful=True))
    assert s.feed(m.PipeClosed(1.0)) == [m.Exit(0)]


def test_a_death_while_starting_fails_the_start_and_frees_the_lock() -> None:
    s = Script()
    s.feed(m.StartAsked(0.0, SPEC))
    s.feed(m.Tick(0.0))
    s.feed(m.LockTried(0.0, True))
    actions = s.feed(m.PipeClosed(0.5))
    assert m.ReleaseLock() in actions and not s.of(m.Spawn)
    assert s.state.phase is m.Phase.IDLE


def test_the_death_record_names_the_job_running_and_the_last_one_that_ended() -> None:
    s = Script()
    s.running()
    s.feed(m.JobReaped(1.0, EXITED_0))
    s.feed(m.GroupGone(1.0))
    s.feed(m.StartAsked(2.0, m.JobSpec(request=2, token=9, command=("j",), lock=None)))
    s.feed(m.LeaseGranted(2.0, 9, 30.0))
    s.feed(m.Spawned(2.0, 200, 1002.0))
    s.feed(m.DaemonExited(3.0, KILLED))
    died = next(a for a in s.actions if isinstance(a, m.Record) and a.fields["type"] == "died")
    assert died.fields["job"] == {"pid": 200, "token": 9, "started": 1002.0}
    assert died.fields["last_exit"]["pid"] == 100


def test_exit_codes_read_as_a_shell_reports_them() -> None:
    assert m.exit_code(os.waitstatus_to_exitcode(0) or 0) == (0, "")
    assert m.exit_code(3 << 8) == (3, "")
    assert m.exit_code(signal.SIGKILL) == (137, "SIGKILL")


# --- random histories -------------------------------------------------------------------

# Weighted towards the job's path: a daemon's death ends a history, so it comes rarely.
EVENTS = st.sampled_from(
    ["start", "lock", "lease", "spawned", "tick", "tick", "reaped", "group-gone", "closed"] * 4
    + ["session", "lease-other", "stop", "kill", "busy", "spawn-failed"] * 2
    + ["said", "pipe", "exited"]
)


def _event(kind: str, at: float, state: m.State) -> m.Event | None:
    job = state.job
    if kind == "session":
        return m.SessionTold(at, SESSION)
    if kind == "start":
        return m.StartAsked(at, m.JobSpec(request=1, token=7, command=("j",), grace=0.5, lock="/l"))
    if kind in ("lease", "lease-other"):
        return m.LeaseGranted(at, 7 if kind == "lease" else 6, at + 5.0)
    if kind == "stop":
        return m.StopAsked(at)
    if kind == "kill":
        return m.KillAsked(at)
    if kind == "said":
        return m.ExitSaid(at, 3, graceful=False)
    if kind == "pipe":
        return m.PipeClosed(at)
    if kind == "exited":
        return m.DaemonExited(at, KILLED)
    if kind in ("lock", "busy"):
        return m.LockTried(at, kind == "lock")
    if kind == "spawned":  # only as the answer of a Spawn
        return m.Spawned(at, 100, at) if job is not None and job.spawning else None
    if kind == "spawn-failed":
        return m.SpawnFailed(at, "no") if job is not None and job.spawning else None
    if kind == "reaped":
        return m.JobReaped(at, KILLED) if job is not None and job.pid is not None else None
    if kind == "group-gone":
        return m.GroupGone(at) if job is not None and job.status is not None else None
    if kind == "closed":
        return m.SessionCloseDone(at, "closed") if state.closing is m.Closing.ASKED else None
    return m.Tick(at)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(EVENTS, st.floats(0.0, 2.0)), max_size=60))
def test_random_histories_keep_the_keepers_promises(history: list[tuple[str, float]]) -> None:
    state = m.State()
    now = 0.0
    exited_seen = False  # the daemon's process was seen to have exited
    for kind, dt in history:
        now += dt
        event = _event(kind, now, state)
        if event is None:
            continue
        before = state
        exited_seen = exited_seen or isinstance(event, m.DaemonExited)
        state, actions = m.step(state, event)
        for action in actions:
            if isinstance(action, m.CloseSession):
                # Only a dead daemon's session, and only once no process of its job is left.
                assert exited_seen and state.job is None, (before, event)
            if isinstance(action, m.Spawn):
                assert before.daemon is m.Daemon.ALIVE and not before.stop_asked
                assert now < state.lease - action.spec.grace  # room for the grace
            if isinstance(action, m.Report):
                assert before.daemon is m.Daemon.ALIVE  # nobody reads a dead daemon's pipe
        job = state.job
        if job is not None and job.pid is not None:
            # SIGKILL is due no later than the lease: the keeper wakes by then, and once
            # the lease is over a SIGKILL went within the last round.
            if now < state.lease:
                assert m.next_wake(state, now) <= state.lease
            else:
                assert state.phase is m.Phase.STOPPING, (before, event)
                assert now - job.last_kill < m.KILL_REPEAT, (before, event)
            assert m.next_wake(state, now) > now or job.last_kill < now  # no busy loop
        if state.exited:
            assert state.daemon is not m.Daemon.ALIVE and state.job is None
