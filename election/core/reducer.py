"""The reducer: `reduce(state, event) -> (state, effects)`, driven by one table.

Everything that decides a transition lives in this file, and nothing here does I/O.
`TABLE[state][EventType]` is a `Rule`: the handler and the states it may lead to. The
table is total: every state names every event type, if only to `ignore` it (stale
answers of an earlier state, duplicates), so nothing is dropped by accident. The README's
state diagram is drawn from the declared targets (`tools/diagram.py`).

The seed's diagram, with the repairs it implies:

    Init      -> Attempter  checks passed (session, file-dir, election path)
    Init      -> Failover   a check failed or the session was suspended/lost
    Attempter -> Leader     our ephemeral node was created (or found ours)
    Attempter -> Failover   the session was suspended/lost
    Leader    -> Failover   session suspended/lost, the work failed, or superseded
    Leader    -> Attempter  our node vanished while the session lives
    Failover  -> Init       repaired: what failed works again (the session is back,
                            file-dir passes its check, the election path is made; each
                            asked for again on every back-off tick, from Failover), the
                            back-off after a failure of the work (or of the job: longer,
                            growing with each job failure) has elapsed, and the last
                            term's job has exited
    any       -> Stopping   SIGTERM/SIGINT

Failover stays Failover while ZooKeeper is down, however long: one state change into it,
one out, not one pair per back-off step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import attrs

from election.core import effects as fx
from election.core import events as ev
from election.core.effects import Effect
from election.core.events import Event, Outcome
from election.core.state import TIMER_NAMES, ExecExit, Repair, State, StateName, Timer
from election.core.step import Step

INIT = StateName.INIT
ATTEMPTER = StateName.ATTEMPTER
LEADER = StateName.LEADER
FAILOVER = StateName.FAILOVER
STOPPING = StateName.STOPPING

SESSION = Repair.SESSION
FILE_DIR = Repair.FILE_DIR
PATH = Repair.PATH
BACKOFF = Repair.BACKOFF

Handler = Callable[[Step, Any], None]


@attrs.frozen
class Rule:
    handler: Handler
    targets: tuple[StateName, ...] = ()


class Transition(NamedTuple):
    """The result of one reduction (a named tuple: built once per event, and the
    cheapest immutable record Python has)."""

    state: State
    effects: tuple[Effect, ...]
    previous: StateName | None = None  # set when the state changed
    cause: str = ""


def reduce(state: State, event: Event) -> Transition:
    """Fold one event into the state; return the new state and the effects to run."""
    if state.exited:  # Exit was asked for: nothing more may happen
        return Transition(state, ())
    rule = TABLE[state.name][type(event)]
    step = Step(state, rule.targets)
    rule.handler(step, event)
    # tuple.__new__ rather than the named tuple's own (Python-level) __new__: this is
    # once per event, and every field is given.
    return _new_tuple(Transition, (step.state, tuple(step.effects), step.previous, step.cause))


_new_tuple = tuple.__new__


# --- entering states ------------------------------------------------------------------


def _go(step: Step, target: StateName, cause: str) -> None:
    step.goto(target, cause)
    ENTRY[target](step)


def _enter_init(step: Step) -> None:
    # Without file work (a job only), file-dir is none of our business.
    step.set(file_dir_ok=not step.state.config.write_files, path_ok=False)
    step.start_timer(Timer.INIT_DEADLINE, step.state.config.init_deadline)
    if step.state.config.write_files:
        step.request(fx.CheckFileDir)
    if step.state.connected:
        step.request(fx.EnsurePath, path=step.state.config.election_path)
    else:
        step.request(fx.Connect)


def _enter_attempter(step: Step) -> None:
    step.set(failures=0)
    _try_create(step)


def _enter_leader(step: Step) -> None:
    cfg = step.state.config
    if cfg.write_files:
        _write_file(step, step.state)  # at once: the create (or our read) just confirmed us
        step.start_timer(Timer.WRITE, cfg.leader_timeout)
    # Watch our own node: if it is deleted under us, we are no longer leader.
    step.request(fx.ReadNode, path=cfg.election_path)
    _start_child(step)


def _fail_over(step: Step, cause: str, repair: tuple[Repair, ...], wait: float = 0.0) -> None:
    """Enter Failover to repair `repair`; `(BACKOFF,)` when only the work failed. The
    first retry comes after the back-off, or after `wait` if longer (a failed job's)."""
    step.goto(FAILOVER, cause)
    step.set(repair=repair, failures=step.state.failures + 1)
    step.start_timer(Timer.RETRY, max(step.backoff(), wait))


ENTRY: Mapping[StateName, Callable[[Step], None]] = {
    INIT: _enter_init,
    ATTEMPTER: _enter_attempter,
    LEADER: _enter_leader,
}


# --- shared pieces --------------------------------------------------------------------


def _try_create(step: Step) -> None:
    """Attempter: try to create the node now, and again after `attempter-timeout`."""
    cfg = step.state.config
    if not step.state.awaits_kind(fx.CreateNode.__name__):
        step.request(fx.CreateNode, path=cfg.election_path, replica=cfg.replica)
    step.start_timer(Timer.ATTEMPT, cfg.attempter_timeout)


def _write_file(step: Step, s: State) -> None:
    """Leader: prune to make room, then write the next leader file. The file worker runs
    them in order, so file-dir never holds more than `storage-capacity` of our files, not
    even for a moment. `s` is `step.state`, or an earlier one with the same token, seq
    and config (saving a build of the state)."""
    assert s.token is not None
    step.set(seq=s.seq + 1)
    step.request(fx.PruneFiles, keep=s.config.storage_capacity - 1, token=s.token)
    step.request(fx.WriteLeaderFile, token=s.token, seq=s.seq + 1, replica=s.config.replica)


def _start_child(step: Step) -> None:
    """Leader: start the job for this term, unless one is configured not at all, already
    starting, or still running (an earlier term's job must be gone first)."""
    s = step.state
    if not s.config.exec_command or s.child_pid is not None or s.child_request is not None:
        return
    assert s.token is not None
    request = step.new_request()
    step.effects.append(
        fx.StartChild(request=request, token=s.token, command=s.config.exec_command)
    )
    step.set(child_request=request, child_token=s.token)


def _begin_stopping(step: Step, cause: str) -> None:
    """Enter Stopping: the job is stopped and a leader file in flight lands (or fails)
    first; only then does the session close, which deletes our node on the server in the
    same request (one round trip, and the watchers hear of it at once), so nothing of
    this term happens after another replica's term began."""
    writes = _writes_in_flight(step.state)
    step.goto(STOPPING, cause)
    step.set(pending=(*step.state.pending, *writes))
    step.start_timer(Timer.STOP_DEADLINE, step.state.config.stop_deadline)
    _stopping_proceed(step)


def _writes_in_flight(state: State) -> tuple[tuple[int, str], ...]:
    """The leader-file writes still awaited: a state change keeps awaiting them."""
    return tuple(p for p in state.pending if p[1] == fx.WriteLeaderFile.__name__)


def _stopping_proceed(step: Step) -> None:
    s = step.state
    if s.child_pid is not None or s.child_request is not None:
        return  # the job's ChildExited (or ChildStarted) comes first
    if s.awaits_kind(fx.WriteLeaderFile.__name__):
        return  # the file in flight first: its FileWritten (or deadline) comes first
    if not s.awaits_kind(fx.CloseSession.__name__):
        step.request(fx.CloseSession)


def _become_leader(step: Step, token: int, cause: str) -> None:
    s = step.state
    # A new term numbers its files from 1; the same term resumed continues its sequence,
    # so (token, seq) never names two different files.
    seq = s.seq if token == s.last_token else 0
    step.goto(LEADER, cause)
    # We hold the node again: a release still waiting from an earlier step-down would
    # delete the node we now lead with.
    step.set(token=token, last_token=token, seq=seq, release_token=None)
    _enter_leader(step)


def _accept(step: Step, event: Any) -> bool:
    """True when `event` answers a request of this state; it is no longer awaited."""
    return step.answered(event.request)


def _fired(step: Step, event: ev.TimerFired, name: Timer) -> bool:
    """True when `event` is the live timer `name` (a stale fire is ignored)."""
    return event.name == TIMER_NAMES[name] and step.fired(name, event.id)


def _why(event: Any) -> str:
    reason = getattr(event, "reason", "")
    return f"{event.outcome}: {reason}" if reason else str(event.outcome)


# --- handlers shared by several states ------------------------------------------------


def ignore(step: Step, event: Event) -> None:
    """Stale or irrelevant here: recorded in the journal, changes nothing."""


def stop(step: Step, event: ev.StopRequested) -> None:
    _begin_stopping(step, f"{event.signal} received")


def session_connected(step: Step, event: ev.SessionConnected) -> None:
    step.set(connected=True, session_id=event.session_id)


def session_suspended(step: Step, event: ev.SessionSuspended) -> None:
    step.set(connected=False)
    _fail_over(step, "session suspended", (SESSION,))


def session_lost(step: Step, event: ev.SessionLost) -> None:
    step.set(connected=False, session_id=None)
    _fail_over(step, "session lost", (SESSION,))


# --- Init -----------------------------------------------------------------------------


def _init_maybe_done(step: Step) -> None:
    s = step.state
    if s.connected and s.file_dir_ok and s.path_ok:
        _go(step, ATTEMPTER, "checks passed")


def init_started(step: Step, event: ev.Started) -> None:
    _enter_init(step)


def init_connected(step: Step, event: ev.SessionConnected) -> None:
    was_connected = step.state.connected
    session_connected(step, event)
    if not was_connected and not step.state.awaits_kind(fx.EnsurePath.__name__):
        step.request(fx.EnsurePath, path=step.state.config.election_path)


def init_connect_result(step: Step, event: ev.ConnectResult) -> None:
    if _accept(step, event) and event.outcome is not Outcome.OK:
        _fail_over(step, f"connect {_why(event)}", (SESSION,))


def _init_check(step: Step, event: Any, passed: str, what: str, repair: Repair) -> None:
    """One of Init's checks answered: note it passed (`passed` is the State flag), or
    fail over naming `what` failed, to repair `repair`."""
    if not _accept(step, event):
        return
    if event.outcome is Outcome.OK:
        step.set(**{passed: True})
        _init_maybe_done(step)
    else:
        _fail_over(step, f"{what} {_why(event)}", (repair,))


def init_file_dir(step: Step, event: ev.FileDirChecked) -> None:
    _init_check(step, event, "file_dir_ok", "file-dir check", FILE_DIR)


def init_path(step: Step, event: ev.PathEnsured) -> None:
    _init_check(step, event, "path_ok", "election path", PATH)


def init_timer(step: Step, event: ev.TimerFired) -> None:
    if not _fired(step, event, Timer.INIT_DEADLINE):
        return
    s = step.state
    unmet = tuple(
        repair
        for repair, passed in ((SESSION, s.connected), (FILE_DIR, s.file_dir_ok), (PATH, s.path_ok))
        if not passed
    )
    _fail_over(step, "init deadline passed", unmet or (BACKOFF,))


# --- Attempter ------------------------------------------------------------------------


def attempter_created(step: Step, event: ev.NodeCreated) -> None:
    if not _accept(step, event):
        return
    if event.outcome is Outcome.OK and event.token is not None:
        _become_leader(step, event.token, "election node created")
    elif event.outcome is Outcome.UNKNOWN or event.failure is ev.CreateFailure.NODE_EXISTS:
        # Someone holds it, or maybe we do (an unanswered create): look, and watch it.
        step.request(fx.ReadNode, path=step.state.config.election_path)
    elif event.failure is ev.CreateFailure.NO_PARENT:
        step.request(fx.EnsurePath, path=step.state.config.election_path)
    # Otherwise (connection trouble, other errors) the attempt timer tries again.


def attempter_read(step: Step, event: ev.NodeRead) -> None:
    if not _accept(step, event) or event.outcome is not Outcome.OK:
        return
    s = step.state
    if not event.exists:
        _try_create(step)  # gone between our create and our look: try at once
    elif event.owner is not None and event.owner == s.session_id and event.token is not None:
        # Ours by ephemeralOwner (an unanswered create that did happen): never by mere
        # existence, since a node of our own earlier session is not ours.
        _become_leader(step, event.token, "election node found ours")
    # Held by another session: the watch tells us when it goes.


def attempter_watch(step: Step, event: ev.NodeWatchFired) -> None:
    if event.kind == "DELETED":
        _try_create(step)  # fast hand-over: no waiting for the next attempt
    elif event.kind in ("CREATED", "CHANGED") and not step.state.awaits_kind("ReadNode"):
        step.request(fx.ReadNode, path=step.state.config.election_path)  # re-arm the watch


def attempter_path(step: Step, event: ev.PathEnsured) -> None:
    if _accept(step, event) and event.outcome is Outcome.OK:
        _try_create(step)


def attempter_timer(step: Step, event: ev.TimerFired) -> None:
    if _fired(step, event, Timer.ATTEMPT):
        _try_create(step)


# --- Leader ---------------------------------------------------------------------------


def leader_timer(step: Step, event: ev.TimerFired) -> None:
    """Time for the next file: first confirm with ZooKeeper that the node is still ours.
    A replica resumed from a long pause hears of its expired session only from the
    server; this read is what makes it hear before it writes. A tick while the previous
    confirm or write is still in flight (slow disk, slow server) is skipped, not queued."""
    s = step.state  # as the tick found it (a fire changes only the timers)
    if _fired(step, event, Timer.CHILD_RESTART):
        _start_child(step)
        return
    if not _fired(step, event, Timer.WRITE):
        return
    if not (s.write_due or s.awaits_kind(fx.WriteLeaderFile.__name__)):
        step.set(write_due=True)
        step.request(fx.ReadNode, path=s.config.election_path)
    step.start_timer(Timer.WRITE, s.config.leader_timeout)


def _step_down(step: Step, cause: str, wait: float = 0.0) -> None:
    """Leave Leader for Failover because the work failed, while the session lives:
    release the node so another replica can do the work we cannot (a no-op if the node
    is not ours any more) — once a leader file still in flight has landed or failed, so
    that it cannot land in the next term, and once our job has exited, so that no job
    of another machine starts while ours still runs. Nothing to repair: Failover waits
    out the back-off (or `wait`, a failed job's, if longer)."""
    token = step.state.token
    writes = _writes_in_flight(step.state)
    _fail_over(step, cause, (BACKOFF,), wait)
    step.set(pending=(*step.state.pending, *writes), release_token=token)
    _release_when_idle(step)


def _release_when_idle(step: Step) -> None:
    s = step.state
    if s.release_token is None or s.awaits_kind(fx.WriteLeaderFile.__name__):
        return
    if s.child_pid is not None or s.child_request is not None:
        return  # the job first: its ChildExited (or ChildStarted) comes first
    if s.connected:
        step.request(fx.ReleaseNode, path=s.config.election_path, token=s.release_token)
    step.set(release_token=None)


def leader_written(step: Step, event: ev.FileWritten) -> None:
    if not _accept(step, event):
        return
    if event.outcome is Outcome.OK:
        return
    if event.newer_token is not None:
        _step_down(step, f"superseded by token {event.newer_token}")
    else:
        _step_down(step, f"leader file write {_why(event)}")


def leader_pruned(step: Step, event: ev.FilesPruned) -> None:
    # A failed prune leaves an extra file but harms no one: the next write prunes again.
    _accept(step, event)


def leader_read(step: Step, event: ev.NodeRead) -> None:
    s = step.state  # as the answer found it (accepting it changes only `pending`)
    if not _accept(step, event):
        return
    step.set(write_due=False)
    if event.outcome is not Outcome.OK:
        return  # unconfirmed: skip this file; session trouble arrives as SUSPENDED/LOST
    if not event.exists or event.owner != s.session_id or event.token != s.token:
        _go(step, ATTEMPTER, "election node no longer ours")
    elif s.write_due:
        _write_file(step, s)


def leader_watch(step: Step, event: ev.NodeWatchFired) -> None:
    if event.kind == "DELETED":
        _go(step, ATTEMPTER, "election node deleted")
    elif event.kind in ("CREATED", "CHANGED") and not step.state.awaits_kind("ReadNode"):
        step.request(fx.ReadNode, path=step.state.config.election_path)


def leader_child_started(step: Step, event: ev.ChildStarted) -> None:
    s = step.state
    if event.request != s.child_request:
        _unknown_child(step, event)
        return
    step.set(child_request=None)
    if event.outcome is Outcome.OK and event.pid is not None:
        step.set(child_pid=event.pid)
        if s.child_token != s.token:  # started for a term that has since ended
            step.stop_child()
    else:
        _job_ended(step, 127, f"job did not start: {_why(event)}", failed=True)


def leader_child_exited(step: Step, event: ev.ChildExited) -> None:
    s = step.state
    if event.pid != s.child_pid:
        return
    _child_gone(step, event)
    if s.child_stopping:  # an earlier term's job, stopped on purpose: now start ours
        _start_child(step)
        return
    how = f"signal {event.signal}" if event.signal else f"code {event.code}"
    cause = f"job exited with {how} after {event.ran_for:.1f}s"
    _job_ended(step, event.code, cause, failed=s.config.job_failed(event.ran_for))


def leader_lease_expired(step: Step, event: ev.ChildLeaseExpired) -> None:
    """The supervisor stopped the job: no heartbeat proved our session alive in time.
    Leadership is in doubt, so this term ends; the supervisor is already stopping the job."""
    if event.pid != step.state.child_pid:
        return
    was_stopping = step.state.child_stopping
    step.set(child_stopping=True)
    if not was_stopping:
        _step_down(step, f"job lease expired: {event.reason}")


def child_lease_expired_elsewhere(step: Step, event: ev.ChildLeaseExpired) -> None:
    if event.pid == step.state.child_pid:
        step.set(child_stopping=True)  # the supervisor is stopping it already


def _job_ended(step: Step, code: int, cause: str, failed: bool) -> None:
    """The job ended on its own while we lead: apply `--exec-exit`. `failed`: it exited
    within `job_healthy_after` or never started, and the next wait grows with each such
    failure in a row; a job that ran long starts the count anew."""
    s = step.state
    if s.config.exec_exit is ExecExit.RESTART:
        restarts = s.child_restarts + 1 if failed else 1
        step.set(child_restarts=restarts)
        step.start_timer(Timer.CHILD_RESTART, step.job_backoff(restarts))
    elif s.config.exec_exit is ExecExit.STOP:
        step.set(exit_code=code)
        _begin_stopping(step, cause)
    else:  # release: let another replica run it; we compete again after a wait
        job_failures = s.job_failures + 1 if failed else 0
        step.set(job_failures=job_failures)
        wait = step.backoff(s.failures + 1)  # what Failover would wait anyway
        if failed:
            wait = max(wait, step.job_backoff(job_failures))
        _step_down(step, f"{cause}; competing again in {wait:g}s", wait)


def _unknown_child(step: Step, event: ev.ChildStarted) -> None:
    """A job we no longer want (its start raced a state change): never leave it running."""
    s = step.state
    if event.request == s.child_request:
        step.set(child_request=None)
        if event.outcome is Outcome.OK and event.pid is not None:
            step.set(child_pid=event.pid)
            step.stop_child()
    elif event.outcome is Outcome.OK and event.pid is not None:
        step.effects.append(fx.StopChild(pid=event.pid, grace=s.config.exec_grace))


def child_started_elsewhere(step: Step, event: ev.ChildStarted) -> None:
    _unknown_child(step, event)


def child_exited_elsewhere(step: Step, event: ev.ChildExited) -> None:
    if event.pid == step.state.child_pid:
        _child_gone(step, event)


def _child_gone(step: Step, event: ev.ChildExited) -> None:
    """Our job has exited. One that ran long (even if stopped on purpose) was healthy:
    the job back-off starts anew."""
    step.set(child_pid=None, child_stopping=False)
    if not step.state.config.job_failed(event.ran_for):
        step.set(job_failures=0)


# --- Failover -------------------------------------------------------------------------


# Failover stays put until what failed works again: each retry tick asks for it anew
# from here (Connect, CheckFileDir, EnsurePath) and re-arms itself with a growing
# back-off; a failed or unknown answer leaves it broken. Init, once reached, runs every
# check again.


def _failover_done(step: Step, cause: str) -> None:
    """Go to Init if nothing is left: nothing to repair, the last term's job has exited
    (a new term must not find it running) and its node's release has been sent."""
    s = step.state
    if s.repair or s.child_pid is not None or s.child_request is not None:
        return
    if s.release_token is not None:
        return
    _go(step, INIT, cause)


def _repaired(step: Step, repair: Repair, cause: str) -> None:
    step.set(repair=tuple(r for r in step.state.repair if r is not repair))
    _failover_done(step, cause)


def _broken(step: Step, repair: Repair) -> None:
    """`repair` broke while in Failover: add it, and make sure a retry tick will come."""
    s = step.state
    if repair not in s.repair:
        step.set(repair=(*s.repair, repair))
    if s.timer_id(Timer.RETRY) is None:
        step.set(failures=s.failures + 1)
        step.start_timer(Timer.RETRY, step.backoff())


def _ask_again(step: Step, broken: tuple[Repair, ...]) -> None:
    s = step.state
    for repair in broken:
        if repair is SESSION:
            # kazoo reconnects by itself, but not after AUTH_FAILED: Connect starts it
            # again (and only answers when connected, or at its deadline).
            step.request(fx.Connect)
        elif repair is FILE_DIR and not s.awaits_kind(fx.CheckFileDir.__name__):
            step.request(fx.CheckFileDir)  # not twice at once: a hung disk hangs both
        elif repair is PATH and s.connected and not s.awaits_kind(fx.EnsurePath.__name__):
            step.request(fx.EnsurePath, path=s.config.election_path)


def failover_timer(step: Step, event: ev.TimerFired) -> None:
    if not _fired(step, event, Timer.RETRY):
        return
    s = step.state
    # The back-off has been waited out; a session we hear is up is no longer broken
    # (its Connect answered after SessionConnected, say).
    broken = tuple(r for r in s.repair if r is not BACKOFF and not (r is SESSION and s.connected))
    step.set(repair=broken)
    if not broken:
        _failover_done(step, "retrying after back-off")
        return  # or the job's ChildExited (or the write's FileWritten) comes first
    _ask_again(step, broken)
    step.set(failures=s.failures + 1)
    step.start_timer(Timer.RETRY, step.backoff())


def failover_connected(step: Step, event: ev.SessionConnected) -> None:
    session_connected(step, event)
    if PATH in step.state.repair:
        _ask_again(step, (PATH,))  # could not be asked while the session was down
    _repaired(step, SESSION, "session connected")


def failover_connect_result(step: Step, event: ev.ConnectResult) -> None:
    # Failed or unknown: still down, the next tick asks again. Ok comes after the
    # SessionConnected that told us already, unless a tick found us up.
    if _accept(step, event) and event.outcome is Outcome.OK and step.state.connected:
        _repaired(step, SESSION, "session connected")


def failover_suspended(step: Step, event: ev.SessionSuspended) -> None:
    step.set(connected=False)
    _broken(step, SESSION)


def failover_lost(step: Step, event: ev.SessionLost) -> None:
    step.set(connected=False, session_id=None)
    _broken(step, SESSION)


def failover_file_dir(step: Step, event: ev.FileDirChecked) -> None:
    if _accept(step, event) and event.outcome is Outcome.OK:
        _repaired(step, FILE_DIR, "file-dir repaired")


def failover_path(step: Step, event: ev.PathEnsured) -> None:
    if _accept(step, event) and event.outcome is Outcome.OK:
        _repaired(step, PATH, "election path repaired")


def failover_child_started(step: Step, event: ev.ChildStarted) -> None:
    _unknown_child(step, event)  # a start that raced the state change: stop it
    _release_when_idle(step)
    _failover_done(step, "the last term's job did not start")


def failover_child_exited(step: Step, event: ev.ChildExited) -> None:
    if event.pid != step.state.child_pid:
        return
    _child_gone(step, event)
    _release_when_idle(step)  # no job of ours runs any more: the node may go
    _failover_done(step, "the last term's job exited")


def failover_written(step: Step, event: ev.FileWritten) -> None:
    if _accept(step, event):
        _release_when_idle(step)  # the last file of the term has landed: release now
        _failover_done(step, "the last term's file landed")


def failover_released(step: Step, event: ev.NodeReleased) -> None:
    _accept(step, event)  # the release after a failed work: nothing more to do


# --- Stopping -------------------------------------------------------------------------


def stopping_closed(step: Step, event: ev.SessionClosed) -> None:
    if _accept(step, event):
        step.set(exited=True)
        step.effects.append(fx.Exit(code=step.state.exit_code, reason="stopped"))


def stopping_timer(step: Step, event: ev.TimerFired) -> None:
    if _fired(step, event, Timer.STOP_DEADLINE):
        step.set(exited=True)
        step.effects.append(fx.Exit(code=step.state.exit_code, reason="stop deadline passed"))


def stopping_written(step: Step, event: ev.FileWritten) -> None:
    if _accept(step, event):
        _stopping_proceed(step)


def stopping_child_started(step: Step, event: ev.ChildStarted) -> None:
    _unknown_child(step, event)  # no job may start during shutdown
    _stopping_proceed(step)


def stopping_child_exited(step: Step, event: ev.ChildExited) -> None:
    child_exited_elsewhere(step, event)
    _stopping_proceed(step)


def stopping_again(step: Step, event: ev.StopRequested) -> None:
    step.set(exited=True)
    step.effects.append(fx.Exit(code=1, reason=f"forced by a second {event.signal}"))


def stopping_suspended(step: Step, event: ev.SessionSuspended) -> None:
    step.set(connected=False)


def stopping_lost(step: Step, event: ev.SessionLost) -> None:
    step.set(connected=False, session_id=None)


# --- the table ------------------------------------------------------------------------

_IGNORE = Rule(ignore)
_STOP = Rule(stop, (STOPPING,))
_SUSPENDED = Rule(session_suspended, (FAILOVER,))
_LOST = Rule(session_lost, (FAILOVER,))

TABLE: Mapping[StateName, Mapping[type[Event], Rule]] = {
    INIT: {
        ev.Started: Rule(init_started),
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(init_timer, (FAILOVER,)),
        ev.SessionConnected: Rule(init_connected, (ATTEMPTER,)),
        ev.SessionSuspended: _SUSPENDED,
        ev.SessionLost: _LOST,
        ev.ConnectResult: Rule(init_connect_result, (FAILOVER,)),
        ev.SessionClosed: _IGNORE,
        ev.FileDirChecked: Rule(init_file_dir, (ATTEMPTER, FAILOVER)),
        ev.PathEnsured: Rule(init_path, (ATTEMPTER, FAILOVER)),
        ev.NodeCreated: _IGNORE,
        ev.NodeRead: _IGNORE,
        ev.NodeWatchFired: _IGNORE,
        ev.NodeReleased: _IGNORE,
        ev.FileWritten: _IGNORE,
        ev.FilesPruned: _IGNORE,
        ev.ChildStarted: Rule(child_started_elsewhere),
        ev.ChildExited: Rule(child_exited_elsewhere),
        ev.ChildLeaseExpired: Rule(child_lease_expired_elsewhere),
    },
    ATTEMPTER: {
        ev.Started: _IGNORE,
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(attempter_timer),
        ev.SessionConnected: Rule(session_connected),
        ev.SessionSuspended: _SUSPENDED,
        ev.SessionLost: _LOST,
        ev.ConnectResult: _IGNORE,
        ev.SessionClosed: _IGNORE,
        ev.FileDirChecked: _IGNORE,
        ev.PathEnsured: Rule(attempter_path),
        ev.NodeCreated: Rule(attempter_created, (LEADER,)),
        ev.NodeRead: Rule(attempter_read, (LEADER,)),
        ev.NodeWatchFired: Rule(attempter_watch),
        ev.NodeReleased: _IGNORE,
        ev.FileWritten: _IGNORE,
        ev.FilesPruned: _IGNORE,
        ev.ChildStarted: Rule(child_started_elsewhere),
        ev.ChildExited: Rule(child_exited_elsewhere),
        ev.ChildLeaseExpired: Rule(child_lease_expired_elsewhere),
    },
    LEADER: {
        ev.Started: _IGNORE,
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(leader_timer),
        ev.SessionConnected: Rule(session_connected),
        ev.SessionSuspended: _SUSPENDED,
        ev.SessionLost: _LOST,
        ev.ConnectResult: _IGNORE,
        ev.SessionClosed: _IGNORE,
        ev.FileDirChecked: _IGNORE,
        ev.PathEnsured: _IGNORE,
        ev.NodeCreated: _IGNORE,
        ev.NodeRead: Rule(leader_read, (ATTEMPTER,)),
        ev.NodeWatchFired: Rule(leader_watch, (ATTEMPTER,)),
        ev.NodeReleased: _IGNORE,
        ev.FileWritten: Rule(leader_written, (FAILOVER,)),
        ev.FilesPruned: Rule(leader_pruned),
        ev.ChildStarted: Rule(leader_child_started, (FAILOVER, STOPPING)),
        ev.ChildExited: Rule(leader_child_exited, (FAILOVER, STOPPING)),
        ev.ChildLeaseExpired: Rule(leader_lease_expired, (FAILOVER,)),
    },
    FAILOVER: {
        ev.Started: _IGNORE,
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(failover_timer, (INIT,)),
        ev.SessionConnected: Rule(failover_connected, (INIT,)),
        ev.SessionSuspended: Rule(failover_suspended),
        ev.SessionLost: Rule(failover_lost),
        ev.ConnectResult: Rule(failover_connect_result, (INIT,)),
        ev.SessionClosed: _IGNORE,
        ev.FileDirChecked: Rule(failover_file_dir, (INIT,)),
        ev.PathEnsured: Rule(failover_path, (INIT,)),
        ev.NodeCreated: _IGNORE,
        ev.NodeRead: _IGNORE,
        ev.NodeWatchFired: _IGNORE,
        ev.NodeReleased: Rule(failover_released),
        ev.FileWritten: Rule(failover_written, (INIT,)),
        ev.FilesPruned: _IGNORE,
        ev.ChildStarted: Rule(failover_child_started, (INIT,)),
        ev.ChildExited: Rule(failover_child_exited, (INIT,)),
        ev.ChildLeaseExpired: Rule(child_lease_expired_elsewhere),
    },
    STOPPING: {
        ev.Started: _IGNORE,
        ev.StopRequested: Rule(stopping_again),
        ev.TimerFired: Rule(stopping_timer),
        ev.SessionConnected: Rule(session_connected),
        ev.SessionSuspended: Rule(stopping_suspended),
        ev.SessionLost: Rule(stopping_lost),
        ev.ConnectResult: _IGNORE,
        ev.SessionClosed: Rule(stopping_closed),
        ev.FileDirChecked: _IGNORE,
        ev.PathEnsured: _IGNORE,
        ev.NodeCreated: _IGNORE,
        ev.NodeRead: _IGNORE,
        ev.NodeWatchFired: _IGNORE,
        ev.NodeReleased: _IGNORE,
        ev.FileWritten: Rule(stopping_written),
        ev.FilesPruned: _IGNORE,
        ev.ChildStarted: Rule(stopping_child_started),
        ev.ChildExited: Rule(stopping_child_exited),
        ev.ChildLeaseExpired: Rule(child_lease_expired_elsewhere),
    },
}
