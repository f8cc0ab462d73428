"""The job (`--exec`) in the pure core: started for a term, stopped when it ends."""

from __future__ import annotations

import attrs
import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.snapshot import snapshot_of, state_of
from election.core.state import ExecExit, Repair, StateName, initial_state
from tests.unit.core_script import (
    CONFIG,
    SESSION,
    TOKEN,
    Script,
    join,
    lead,
    lose_node,
    queue_read,
    release_done,
    settle,
    to_attempter,
)

INIT, LEADER = StateName.INIT, StateName.LEADER
FAILOVER, STOPPING = StateName.FAILOVER, StateName.STOPPING
JOB = ("backup", "--now")


def leader_with_job(policy: ExecExit = ExecExit.RELEASE, files: bool = False) -> Script:
    config = attrs.evolve(
        CONFIG, exec_command=JOB, exec_exit=policy, write_files=files, exec_grace=3.0
    )
    return lead(to_attempter(Script(initial_state(config))))


def running(s: Script, pid: int = 500) -> Script:
    s.answer(s.last(fx.StartChild), ev.ChildStarted, outcome=Outcome.OK, pid=pid)
    assert s.state.child_pid == pid
    return s


def test_a_new_leader_starts_the_job_for_its_term() -> None:
    s = leader_with_job()
    start = s.one(fx.StartChild)
    assert (start.token, start.command) == (TOKEN, JOB)
    s.none(fx.WriteLeaderFile)  # with a job and no file work, no files


def test_file_work_and_job_can_run_together() -> None:
    s = leader_with_job(files=True)
    s.one(fx.StartChild)
    s.one(fx.WriteLeaderFile)


def test_losing_the_session_stops_the_job_at_once() -> None:
    s = running(leader_with_job())
    effects = s.send(ev.SessionSuspended())
    assert s.name is FAILOVER
    assert fx.StopChild(pid=500, grace=3.0) in effects
    assert s.state.child_stopping


def test_a_new_term_waits_until_the_old_job_has_gone() -> None:
    s = running(leader_with_job())
    lose_node(s)  # to Attempter, queueing again
    lead(s, TOKEN + 5)
    s.none(fx.StartChild)  # the old job still runs (in its grace period)
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=1.0))
    assert s.one(fx.StartChild).token == TOKEN + 5


def test_failover_waits_for_the_old_job_before_it_goes_to_init() -> None:
    s = running(leader_with_job())
    s.send(ev.SessionSuspended())
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is FAILOVER  # repaired, but the old job is in its grace period
    s.fire(s.last_timer("retry"))
    assert s.name is FAILOVER and s.effects == ()  # no tick left to wait for: its exit
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=1.0))
    assert s.name is INIT and s.state.cause == "the last term's job exited"
    s.none(fx.CheckFileDir)  # no file work: file-dir is not checked
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    # The same session came back: our node still leads the queue, the term resumes.
    mark = len(s.history)
    queue_read(s, s.state.place.name)
    settle(s)  # the controls read again since the reconnect, the priorities at the head
    assert s.name is LEADER
    (start,) = s.every(fx.StartChild, since=mark)
    assert start.token == TOKEN  # at once: no job of ours runs


def test_failover_waits_for_a_start_in_flight_to_answer() -> None:
    s = leader_with_job()
    start = s.one(fx.StartChild)
    s.send(ev.SessionSuspended())
    s.send(ev.SessionConnected(session_id=SESSION))
    assert s.name is FAILOVER
    s.answer(start, ev.ChildStarted, outcome=Outcome.OK, pid=600)
    assert s.name is FAILOVER
    assert fx.StopChild(pid=600, grace=3.0) in s.effects  # started too late: stopped
    s.send(ev.ChildExited(pid=600, code=143, signal="SIGTERM", ran_for=0.1))
    assert s.name is INIT


def test_stopping_lets_the_node_go_only_after_the_job_has_gone() -> None:
    s = running(leader_with_job())
    s.send(ev.StopRequested(signal="SIGTERM"))
    assert s.name is STOPPING
    s.one(fx.StopChild)
    s.none(fx.ReleaseNode)  # the node goes only once the job has
    s.none(fx.CloseSession)  # (and closing the session would take it too)
    s.send(ev.ChildExited(pid=500, code=0, ran_for=2.0))
    s.answer(s.one(fx.ReleaseNode), ev.NodeReleased, outcome=Outcome.OK)
    s.one(fx.CloseSession)


def test_no_job_is_left_running_when_its_start_answers_during_shutdown() -> None:
    s = leader_with_job()
    s.send(ev.StopRequested(signal="SIGTERM"))
    s.none(fx.CloseSession)  # a start is in flight: wait for its answer
    s.answer(s.last(fx.StartChild), ev.ChildStarted, outcome=Outcome.OK, pid=77)
    assert fx.StopChild(pid=77, grace=3.0) in s.effects
    s.send(ev.ChildExited(pid=77, code=143, signal="SIGTERM"))
    s.answer(s.one(fx.ReleaseNode), ev.NodeReleased, outcome=Outcome.OK)
    s.one(fx.CloseSession)


def test_exec_exit_release_gives_up_leadership() -> None:
    s = running(leader_with_job(ExecExit.RELEASE))
    s.send(ev.ChildExited(pid=500, code=3, ran_for=5.0))
    assert s.name is FAILOVER
    assert s.state.cause == "job exited with code 3 after 5.0s; competing again in 0.5s"
    assert s.one(fx.ReleaseNode).token == TOKEN  # the job has gone: release at once


def test_exec_exit_restart_restarts_in_place_with_growing_back_off() -> None:
    s = running(leader_with_job(ExecExit.RESTART))
    delays = []
    # Short runs grow the back-off; a run of job_healthy_after (10 s) resets it, as it
    # resets the wait before competing again under `release`.
    for pid, ran_for in ((501, 0.1), (502, 9.9), (503, 0.1), (504, 10.0), (505, 0.1)):
        s.send(ev.ChildExited(pid=s.state.child_pid or 0, code=1, ran_for=ran_for))
        assert s.name is LEADER
        restart = s.timer("child-restart")
        delays.append(restart.delay)
        s.fire(restart)
        running(s, pid)
    assert delays == [0.5, 1.0, 2.0, 0.5, 1.0]


def test_exec_exit_restart_counts_a_failed_start_as_a_short_run() -> None:
    s = running(leader_with_job(ExecExit.RESTART))
    s.send(ev.ChildExited(pid=500, code=1, ran_for=0.1))
    s.fire(s.timer("child-restart"))
    s.answer(s.one(fx.StartChild), ev.ChildStarted, outcome=Outcome.FAILED, reason="ENOENT")
    assert s.name is LEADER and s.timer("child-restart").delay == 1.0


def test_exec_exit_stop_stops_the_daemon_with_the_job_exit_code() -> None:
    s = running(leader_with_job(ExecExit.STOP))
    s.send(ev.ChildExited(pid=500, code=4, ran_for=1.0))
    assert s.name is STOPPING
    s.answer(s.one(fx.ReleaseNode), ev.NodeReleased, outcome=Outcome.OK)
    s.answer(s.one(fx.CloseSession), ev.SessionClosed, outcome=Outcome.OK)
    assert s.one(fx.Exit).code == 4


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.UNKNOWN])
def test_a_job_that_cannot_start_counts_as_exited(outcome: Outcome) -> None:
    s = leader_with_job(ExecExit.RELEASE)
    s.answer(s.last(fx.StartChild), ev.ChildStarted, outcome=outcome, reason="ENOENT")
    assert s.name is FAILOVER and "did not start" in s.state.cause


def test_an_exit_of_an_unknown_pid_is_ignored() -> None:
    s = running(leader_with_job())
    s.send(ev.ChildExited(pid=999, code=0))
    assert s.name is LEADER and s.state.child_pid == 500


def test_stepping_down_releases_the_node_only_after_the_file_in_flight_lands() -> None:
    s = running(leader_with_job(ExecExit.RELEASE, files=True))  # its first file in flight
    s.send(ev.ChildExited(pid=500, code=1, ran_for=1.0))
    assert s.name is FAILOVER
    s.none(fx.ReleaseNode)
    s.answer(s.last(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.OK)
    assert s.one(fx.ReleaseNode).token == TOKEN


def test_a_lease_run_out_ends_the_term_without_a_second_stop() -> None:
    s = running(leader_with_job())
    effects = s.send(ev.ChildLeaseExpired(pid=500, reason="no answer from ZooKeeper for 1.5s"))
    assert s.name is FAILOVER
    assert "job lease expired" in s.state.cause
    assert not [e for e in effects if type(e) is fx.StopChild]  # the supervisor stops it
    assert s.state.child_stopping


def test_a_lease_run_out_of_another_job_changes_nothing() -> None:
    s = running(leader_with_job())
    s.send(ev.ChildLeaseExpired(pid=77, reason="stale"))
    assert s.name is LEADER and not s.state.child_stopping


def test_stepping_down_releases_the_node_only_after_the_job_has_gone() -> None:
    """Our node stays ours while our job finishes its grace: releasing it sooner would
    let another machine's job start while ours still runs."""
    s = running(leader_with_job(ExecExit.RELEASE, files=True))
    s.answer(s.last(fx.WriteLeaderFile), ev.FileWritten, outcome=Outcome.FAILED, newer_token=1)
    assert s.name is FAILOVER
    s.one(fx.StopChild)
    s.none(fx.ReleaseNode)
    s.fire(s.last_timer("retry"))  # the back-off is over, the job is not
    assert s.name is FAILOVER
    s.none(fx.ReleaseNode)
    s.send(ev.ChildExited(pid=500, code=143, signal="SIGTERM", ran_for=0.4))
    assert s.one(fx.ReleaseNode).token == TOKEN
    assert s.name is INIT  # released, repaired, waited: compete again


def test_a_lease_run_out_releases_the_node_once_the_job_has_gone() -> None:
    s = running(leader_with_job())
    s.send(ev.ChildLeaseExpired(pid=500, reason="no answer from ZooKeeper for 1.5s"))
    assert s.name is FAILOVER and s.state.repair == (Repair.BACKOFF,)
    s.none(fx.ReleaseNode)
    s.send(ev.ChildExited(pid=500, code=137, signal="SIGKILL", ran_for=3.0))
    assert s.one(fx.ReleaseNode).token == TOKEN
    assert s.name is FAILOVER  # the back-off still runs
    s.fire(s.last_timer("retry"))
    assert s.name is INIT


def test_a_new_term_never_releases_the_node_it_leads_with() -> None:
    s = to_attempter(Script(initial_state(attrs.evolve(CONFIG, exec_command=JOB))))
    # A release left over from an earlier step-down, in a snapshot journaled by an older
    # build: it means nothing outside Failover, and is dropped on the way in.
    s.state = state_of(attrs.evolve(snapshot_of(s.state), release_token=TOKEN - 1))
    name = join(s)
    queue_read(s, name)  # the stale release is dropped: the queue is read again
    queue_read(s, name)
    settle(s)  # the priorities read at the head
    assert s.name is LEADER and s.state.release_token is None
    assert s.every(fx.ReleaseNode) == []


# --- crash-looping jobs back off ------------------------------------------------------


def compete_again(s: Script, token: int) -> Script:
    """From Failover after a job failure: the node is released, wait out the retry, pass
    Init and queue again (a new node: a new term)."""
    assert s.name is FAILOVER
    release_done(s)
    s.fire(s.last_timer("retry"))
    assert s.name is INIT
    s.answer(s.one(fx.EnsurePath), ev.PathEnsured, outcome=Outcome.OK)
    return lead(s, token)


def test_a_job_that_keeps_failing_waits_longer_each_term_up_to_the_cap() -> None:
    s = running(leader_with_job())
    waits = []
    for term in range(1, 10):
        s.send(ev.ChildExited(pid=s.state.child_pid or 0, code=1, ran_for=0.0))
        assert s.name is FAILOVER and s.state.repair == (Repair.BACKOFF,)
        waits.append(s.timer("retry").delay)
        assert s.state.cause == (
            f"job exited with code 1 after 0.0s; competing again in {waits[-1]:g}s"
        )
        running(compete_again(s, TOKEN + term), pid=500 + term)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert s.state.job_failures == 9  # kept through Init and Attempter


def test_a_job_that_ran_long_resets_the_job_back_off() -> None:
    s = running(leader_with_job())
    for term in range(1, 4):
        s.send(ev.ChildExited(pid=s.state.child_pid or 0, code=1, ran_for=0.5))
        running(compete_again(s, TOKEN + term), pid=500 + term)
    assert s.state.job_failures == 3
    s.send(ev.ChildExited(pid=503, code=0, ran_for=10.0))  # healthy, then done
    assert s.state.job_failures == 0
    assert s.timer("retry").delay == 0.2  # the usual back-off only
    assert s.state.cause == "job exited with code 0 after 10.0s; competing again in 0.2s"
    running(compete_again(s, TOKEN + 4), pid=504)
    s.send(ev.ChildExited(pid=504, code=1, ran_for=0.0))
    assert s.timer("retry").delay == 0.5  # counting from the start again


def test_a_job_stopped_after_a_long_run_resets_the_job_back_off_too() -> None:
    s = running(leader_with_job())
    s.send(ev.ChildExited(pid=500, code=1, ran_for=0.0))
    running(compete_again(s, TOKEN + 1), pid=501)
    s.send(ev.SessionSuspended())  # not the job's fault: no job failure
    assert s.state.job_failures == 1
    s.send(ev.ChildExited(pid=501, code=143, signal="SIGTERM", ran_for=60.0))
    assert s.state.job_failures == 0


def test_a_job_that_cannot_start_is_a_job_failure() -> None:
    s = leader_with_job()
    waits = []
    for term in range(1, 4):
        start = s.last(fx.StartChild)
        s.answer(start, ev.ChildStarted, outcome=Outcome.FAILED, reason="ENOENT")
        waits.append(s.timer("retry").delay)
        assert s.state.cause.startswith("job did not start: failed: ENOENT; competing again")
        compete_again(s, TOKEN + term)
    assert waits == [0.5, 1.0, 2.0]


def test_the_job_back_off_is_only_the_longer_of_the_two_waits() -> None:
    """A job back-off shorter than the usual Failover back-off does not shorten it."""
    config = attrs.evolve(CONFIG, exec_command=JOB, write_files=False, child_backoff_initial=0.05)
    s = running(lead(to_attempter(Script(initial_state(config)))))
    s.send(ev.ChildExited(pid=500, code=1, ran_for=0.0))
    assert s.timer("retry").delay == 0.2
