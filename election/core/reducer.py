"""The reducer: `reduce(state, event) -> (state, effects)`, driven by one table.

Everything that decides a transition lives in this file, and nothing here does I/O.
`TABLE[state][EventType]` is a `Rule`: the handler and the states it may lead to; it
lists only the events a state acts on. `STALE[state]` names, each with its reason, the
events a state ignores: late answers to requests of an earlier state, watches an earlier
state set. Any other event in a state cannot happen: `reduce` raises `UnexpectedEvent`
(an internal error: the daemon reports it and exits 3). `AFTER[state]` names the
hooks every reduction ending in that state runs after its handler (the reads kept up,
the member node shown); no handler tests which state it is in. How long each request is
awaited is its effect type's lifetime (`election.core.lifetime`), not the handler's
business. The README's state diagram is drawn from the declared targets
(`election/diagram.py`).

Leadership is a queue of candidates (`election.core.queue`): each keeps one ephemeral
sequential node under the election path and watches only the node just below its own;
the lowest leads. The seed's diagram, on the queue, with the repairs it implies:

    Init      -> Attempter  checks passed (session, file-dir, election path)
    Init      -> Failover   a check failed or the session was suspended/lost
    Attempter -> Leader     our node is the lowest: a read of the queue says so, or the
                            node below ours went while our last read showed no other
                            below it (no request at all) — unless a pause, a hand-over
                            to another or a higher priority holds the head back
    Attempter -> Failover   the session was suspended/lost
    Leader    -> Failover   session suspended/lost, the work failed, or superseded
    Leader    -> Attempter  our node vanished while the session lives, or the operator
                            paused the cluster or asked for a hand-over
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

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import attrs

from election.control import handover_path, pause_path
from election.core import effects as fx
from election.core import events as ev
from election.core.cause import Why
from election.core.effects import Effect
from election.core.events import Event, Outcome
from election.core.queue import in_order, node_prefix
from election.core.state import (
    NO_JOB,
    NO_PLACE,
    Candidate,
    Checks,
    Control,
    CoreConfig,
    ExecExit,
    Job,
    Member,
    Peers,
    Place,
    Repair,
    Repairs,
    Session,
    Shutdown,
    State,
    StateName,
    Term,
    Timer,
)
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


class UnexpectedEvent(Exception):
    """An event that cannot happen in the current state (neither acted on nor a known
    stale answer): a bug in the shell or the reducer, never to be silently dropped."""


@attrs.frozen
class Rule:
    handler: Handler
    targets: tuple[StateName, ...] = ()


class Transition(NamedTuple):
    """The result of one reduction."""

    state: State
    effects: tuple[Effect, ...]
    previous: StateName | None = None  # set when the state changed
    cause: str = ""
    why: Why | None = None  # set with `previous`: the kind of `cause`


def reduce(state: State, event: Event) -> Transition:
    """Fold one event into the state; return the new state and the effects to run."""
    if state.exited:  # Exit was asked for: nothing more may happen
        return Transition(state, ())
    rule = TABLE[state.name].get(type(event))
    if rule is None:
        if type(event) in STALE[state.name]:
            return Transition(state, ())
        raise UnexpectedEvent(f"{type(event).__name__} cannot happen in {state.name}")
    step = Step(state, rule.targets, event.at)
    rule.handler(step, event)
    for hook in AFTER[step.name]:  # by the state the reduction ends in
        hook(step, event)
    return Transition(step.result(), tuple(step.effects), step.previous, step.cause, step.why)


# --- entering states ------------------------------------------------------------------


def _enter_init(step: Step, why: Why, cause: str) -> None:
    step.goto(INIT, why, cause, _no_checks_passed(step))
    _check(step)


def _no_checks_passed(step: Step) -> Checks:
    # Without file work (a job only), file-dir is none of our business.
    return Checks(file_dir=not step.config.write_files)


def _check(step: Step) -> None:
    """Init's checks, at once: file-dir, the session, then the election node's parent."""
    cfg = step.config
    step.start_timer(Timer.INIT_DEADLINE, cfg.init_deadline)
    if cfg.write_files:
        step.request(fx.CheckFileDir)
    if step.session.connected:
        step.request(fx.EnsurePath, path=cfg.election_path)
    else:
        step.request(fx.Connect)


def _enter_attempter(
    step: Step,
    why: Why,
    cause: str,
    release: int | None = None,
    head: bool = False,
) -> None:
    """Enter Attempter: find our place in the queue (or take one). `release`: the node
    of the term just yielded, to go once idle (a leader file in flight lands first: the
    yield carries it); `head`: we know our node leads the queue (a leader holding its
    place through a pause)."""
    step.goto(ATTEMPTER, why, cause, Candidate(release=release, head=head, below=0 if head else -1))
    if step.streaks.failures:
        step.streaks = attrs.evolve(step.streaks, failures=0)
    if step.place.name and step.session.connected:
        # Our node survived (a reconnect, a step aside): watch it again, it may have gone.
        step.request(fx.ReadNode, path=_own_path(step))
    if release is not None:
        _release_then_queue(step)
    elif head:
        _at_head(step)
    else:
        _join(step)
    _keep_ticking(step)


def _fail_over(
    step: Step, why: Why, cause: str, repair: tuple[Repair, ...], wait: float = 0.0
) -> None:
    """Enter Failover to repair `repair`; `(BACKOFF,)` when only the work failed. The
    first retry comes after the back-off, or after `wait` if longer (a failed job's)."""
    step.goto(FAILOVER, why, cause, Repairs(repair))
    step.streaks = attrs.evolve(step.streaks, failures=step.streaks.failures + 1)
    step.start_timer(Timer.RETRY, max(step.backoff(), wait))


def _become_leader(step: Step, cause: str) -> None:
    token = step.place.token
    assert token is not None
    # A new term numbers its files from 1; the same term resumed continues its sequence,
    # so (token, seq) never names two different files.
    last = step.streaks.last_term
    seq = last[1] if last is not None and last[0] == token else 0
    step.goto(LEADER, Why.ELECTED, cause, Term(token, seq))
    step.streaks = attrs.evolve(step.streaks, last_term=None)  # the term is the last now
    cfg = step.config
    if cfg.write_files:
        _write_file(step)  # at once: the queue (a read, or our watch) just confirmed us
        step.start_timer(Timer.WRITE, cfg.leader_timeout)
    own = _own_path(step)
    # Tell the candidate behind us (its watch fires) to read the queue now, off this
    # hand-over's path, so that it knows itself next in line when we go.
    step.request(fx.MarkNode, path=own)
    # Watch our own node: if it is deleted under us, we are no longer leader.
    step.request(fx.ReadNode, path=own)
    _start_child(step)


def _begin_stopping(step: Step, why: Why, cause: str, exit_code: int = 0) -> None:
    """Enter Stopping: the job is stopped and a leader file in flight lands (or fails)
    first (a stop carries it); only then does our node go (deleted, then the session
    closed), so nothing of this term happens after another replica's term began."""
    step.goto(STOPPING, why, cause, Shutdown(exit_code))
    step.start_timer(Timer.STOP_DEADLINE, step.config.stop_deadline)
    _stopping_proceed(step)


# --- the queue: our place in it ------------------------------------------------------


def _own_path(step: Step) -> str:
    return f"{step.config.election_path}/{step.place.name}"


def _child_path(step: Step, name: str) -> str:
    return f"{step.config.election_path}/{name}"


def _keep_ticking(step: Step) -> None:
    """Attempter: read the queue again after `attempter-timeout` (a watch may have been
    missed; a failed read or create is retried)."""
    if not step.has_timer(Timer.ATTEMPT):
        step.start_timer(Timer.ATTEMPT, step.config.attempter_timeout)


def _join(step: Step) -> None:
    """Attempter: take our place in the queue, or learn where our node stands. A node of
    ours known (or maybe made: an answer in doubt) is looked for in one read of the queue;
    only when none can exist is one created. A standby (priority 0) never queues."""
    if step.config.priority == 0 or not step.session.connected:
        return
    place = step.place
    if _place_busy(step):
        return  # the create or delete in flight answers first
    if _claiming(step):
        return  # our member node first: a second replica of one id never queues
    if place.session != step.session.id:
        place = step.place = Place(step.session.id)  # an earlier session's node is gone
    if place.name or place.unsure:
        _read_queue(step)
        return
    prefix = node_prefix(step.config.replica, place.session or 0, step.config.priority)
    step.request(fx.CreateNode, path=_child_path(step, prefix), replica=step.config.replica)


def _read_queue(step: Step, watch: bool = False) -> None:
    """List the queue (unless a listing is in flight); `watch`: and watch the list (a head
    holding its place for one who may lead, until it queues)."""
    if step.awaits(fx.ReadQueue):
        return
    request = step.request(fx.ReadQueue, path=step.config.election_path, watch=watch)
    phase = step.phase
    if watch and isinstance(phase, Candidate):
        step.phase = attrs.evolve(phase, watch_request=request)


def _forget_place(step: Step) -> None:
    """Our node is gone (deleted, or never made): none of this session now."""
    step.place = Place(step.session.id if step.session.connected else step.place.session)
    step.forget(fx.CreateNode, fx.ReleaseNode)


def _place_gone(step: Step) -> None:
    """Our session is gone, and with it every ephemeral node of it, and their requests."""
    step.place = NO_PLACE
    step.forget(fx.CreateNode, fx.ReleaseNode)


def _place_busy(step: Step) -> bool:
    """A create or a delete of our node is in flight: its answer comes first."""
    return step.awaits(fx.CreateNode) or step.awaits(fx.ReleaseNode)


def _job_busy(step: Step) -> bool:
    """Our job is starting or running: a new term's job must wait for it, and our node
    goes only once it has."""
    return step.job.pid is not None or step.awaits(fx.StartChild)


def _controls_certain(step: Step) -> bool:
    """The operator's controls are known as they stand: read, no read in flight, and no
    watch fired since."""
    control = step.control
    return control.known and not control.stale and not step.awaits(fx.ReadControl)


def _lost_place(step: Step) -> None:
    """Attempter: our node is gone under us: queue again, at the back."""
    _forget_place(step)
    candidate = step.candidate
    step.phase = Candidate(release=candidate.release, waited=candidate.waited)
    _join(step)


def _claiming(step: Step) -> bool:
    """True until our member node shows this session's claim of our replica id: the
    answer to its publish (in flight, or sent at the end of this very step by
    `show_state`) says whether the id is ours (another live replica's refuses us). A
    publish that failed for any other reason does not hold us back."""
    member, session = step.member, step.session
    shown = member.shown is not None and member.shown[0] == session.id
    return not shown and not member.failed


def _excluded(step: Step) -> bool:
    """True when what we know says this replica may not lead now."""
    cfg, control = step.config, step.control
    if cfg.priority == 0:
        return True  # a standby watches and reports, and never leads
    if control.paused:
        return True
    if control.handover:  # a planned hand-over stands
        if control.handover_to is not None:
            return control.handover_to != cfg.replica  # only the one named may take over
        return control.handover_leader == cfg.replica  # the one yielding may not
    return False


def _at_head(step: Step) -> None:
    """Attempter, our node the lowest: lead — unless the operator's controls are not
    known yet, the cluster is paused, a hand-over names another replica (or we are the
    one yielding), or a live candidate of a higher priority is there. Whoever may take
    over is queued behind us: we move to the back, and it comes forward. A higher
    priority not queued (starting, failed) is given `contend_step` each, at most
    `contend_max`, before we lead all the same."""
    candidate, place = step.candidate, step.place
    if candidate.release is not None:
        _release_then_queue(step)  # a move (or a yielded term's node) comes first
        return
    if place.token is None or _place_busy(step):
        return  # the node is not ready: its token not read yet, a create or delete in flight
    cfg = step.config
    control, peers, me = step.control, step.peers, cfg.replica
    if not _controls_certain(step) or (not peers.known and not peers.failed):
        return  # their reads answer, then we look again
    behind = candidate.behind
    if control.paused:
        return  # the head holds its place
    if control.handover:
        to = control.handover_to
        takers: tuple[str, ...] | None = None  # who may lead instead of us (None: we may)
        if to is not None and to != me:
            takers = (to,)
        elif to is None and control.handover_leader == me:
            takers = tuple(replica for replica, _ in behind)  # we are the one yielding
        if takers is not None:
            if any(replica in takers for replica, _ in behind):
                _move_back(step)
            elif not candidate.fresh or not candidate.queue_watched:
                # Who waits behind us now? And tell us when one queues: we hold our place
                # for it (the only watch on the whole queue, the head's).
                _read_queue(step, watch=True)
            return  # hold our place until one who may lead queues, or the request goes
    if not (control.handover and control.handover_to == me):
        # (The one yielding by a hand-over is no contender while the request stands.)
        skip: tuple[str, ...] = (me,)
        if control.handover:
            skip = (*skip, control.handover_leader)
        mine = cfg.priority
        if any(priority > mine and replica not in skip for replica, priority in behind):
            _move_back(step)  # a higher priority waits behind us: it comes forward
            return
        queued = {replica for replica, _ in (*candidate.ahead, *behind)}
        higher = {
            replica
            for replica, priority in peers.priorities
            if priority > mine and replica not in skip and replica not in queued
        }
        if higher:  # live, of a higher priority, and not queued (as far as we know)
            if not candidate.fresh:
                _read_queue(step)  # has it queued behind us since our last read?
                return
            # One whose node went from below ours and has not queued again (it stopped,
            # crashed or stepped aside) is no reason to wait: its member node may linger.
            higher -= set(candidate.left)
        if higher and not candidate.waited:
            if not step.has_timer(Timer.CONTEND):
                delay = min(len(higher) * cfg.contend_step, cfg.contend_max)
                step.start_timer(Timer.CONTEND, delay)
            return
    if not cfg.proven(step.at, step.session.proven_at):
        # Nothing answered lately proves our session alive: a notification alone does
        # not (it may have waited in a frozen process while the session expired, and a
        # term on an old node would carry an old token). Ask: the answer proves it.
        step.phase = attrs.evolve(candidate, fresh=False)
        _read_queue(step)
        return
    _become_leader(step, _lead_cause(candidate))


def _lead_cause(candidate: Candidate) -> str:
    if candidate.fresh:
        return "our node leads the queue"
    return "the node below ours went: we are next"


def _move_back(step: Step) -> None:
    """At the head, step aside: our node goes (once idle) and a new one queues at the
    back — a new, younger node, so the next term's token is higher still."""
    step.phase = Candidate(release=step.place.token)
    _release_then_queue(step)


def _write_file(step: Step) -> None:
    """Leader: prune to make room, then write the next leader file. The file worker runs
    them in order, so file-dir never holds more than `storage-capacity` of our files, not
    even for a moment."""
    term = step.term
    seq = term.seq + 1
    step.phase = Term(term.token, seq, False)
    cfg = step.config
    step.request(fx.PruneFiles, keep=cfg.storage_capacity - 1, token=term.token)
    step.request(fx.WriteLeaderFile, token=term.token, seq=seq, replica=cfg.replica)


def _start_child(step: Step) -> None:
    """Leader: start the job for this term, unless one is configured not at all, already
    starting, or still running (an earlier term's job must be gone first)."""
    cfg = step.config
    if not cfg.exec_command or _job_busy(step):
        return
    token = step.term.token
    step.request(fx.StartChild, token=token, command=cfg.exec_command)
    step.job = Job(token=token)


def _stopping_proceed(step: Step) -> None:
    if _job_busy(step):
        return  # the job's ChildExited (or ChildStarted) comes first
    if step.awaits(fx.WriteLeaderFile):
        return  # the file in flight first: its FileWritten (or deadline) comes first
    place = step.place
    if step.awaits(fx.ReleaseNode):
        return  # our node's delete first
    if place.name and place.token is not None and not place.unsure and step.session.connected:
        # Delete our node first, then close the session: the one behind us hears of the
        # delete as soon as it is committed (a close commits later, and costs ZooKeeper
        # more); one round trip, the node's name being of our session alone.
        step.request(fx.ReleaseNode, path=_own_path(step), token=place.token)
        return
    if not step.awaits(fx.CloseSession):
        step.request(fx.CloseSession)


def _accept(step: Step, event: Any) -> bool:
    """True when `event` answers a request of this state; it is no longer awaited."""
    if not step.answered(event):
        return False
    _prove(step, event)
    return True


def _prove(step: Step, event: Any) -> None:
    """An answer that says when its request was sent proves the session alive then."""
    if event.outcome is Outcome.OK:
        _proven(step, getattr(event, "asked_at", None))


def _proven(step: Step, asked: float | None) -> None:
    """A request sent at `asked` was answered: the session was alive then."""
    session = step.session
    if asked is None or not session.connected:
        return
    if session.proven_at is None or asked > session.proven_at:
        step.session = attrs.evolve(session, proven_at=asked)


def _fired(step: Step, event: ev.TimerFired, name: Timer) -> bool:
    """True when `event` is the live timer `name` (a stale fire is ignored)."""
    return event.name == name and step.fired(name, event.id)


def _why(event: Any) -> str:
    reason = getattr(event, "reason", "")
    return f"{event.outcome}: {reason}" if reason else str(event.outcome)


def _exit(step: Step, code: int, reason: str) -> None:
    step.phase = Shutdown(step.shutdown.exit_code, exited=True)
    step.effects.append(fx.Exit(code=code, reason=reason))


# --- handlers shared by several states ------------------------------------------------


def stop(step: Step, event: ev.StopRequested) -> None:
    _begin_stopping(step, Why.STOP, f"{event.signal} received")


def session_connected(step: Step, event: ev.SessionConnected) -> None:
    session = step.session
    proven = session.proven_at if session.id == event.session_id else None
    step.session = Session(True, event.session_id, proven)
    if step.place.session not in (None, event.session_id):
        _place_gone(step)  # a new session: the old one's node went with it
    if step.member.failed and session.id != event.session_id:
        # A new session claims our replica id anew: a failure on the old one says nothing.
        step.member = attrs.evolve(step.member, failed=False)


def session_suspended(step: Step, event: ev.SessionSuspended) -> None:
    step.session = attrs.evolve(step.session, connected=False)
    _fail_over(step, Why.SESSION_SUSPENDED, "session suspended", (SESSION,))


def session_lost(step: Step, event: ev.SessionLost) -> None:
    lost_meanwhile(step, event)
    _fail_over(step, Why.SESSION_LOST, "session lost", (SESSION,))


def suspended_meanwhile(step: Step, event: ev.SessionSuspended) -> None:
    step.session = attrs.evolve(step.session, connected=False)


def lost_meanwhile(step: Step, event: ev.SessionLost) -> None:
    step.session = Session(False, None)
    _place_gone(step)


# --- Init -----------------------------------------------------------------------------


def _init_maybe_done(step: Step) -> None:
    checks = step.checks
    if step.session.connected and checks.file_dir and checks.path:
        _enter_attempter(step, Why.CHECKS_PASSED, "checks passed")


def init_started(step: Step, event: ev.Started) -> None:
    _check(step)


def init_connected(step: Step, event: ev.SessionConnected) -> None:
    was_connected = step.session.connected
    session_connected(step, event)
    if not was_connected and not step.awaits(fx.EnsurePath):
        step.request(fx.EnsurePath, path=step.config.election_path)


def init_connect_result(step: Step, event: ev.ConnectResult) -> None:
    if _accept(step, event) and event.outcome is not Outcome.OK:
        _fail_over(step, Why.CONNECT_FAILED, f"connect {_why(event)}", (SESSION,))


def init_file_dir(step: Step, event: ev.FileDirChecked) -> None:
    if not _accept(step, event):
        return
    if event.outcome is Outcome.OK:
        step.phase = Checks(True, step.checks.path)
        _init_maybe_done(step)
    else:
        _fail_over(step, Why.FILE_DIR, f"file-dir check {_why(event)}", (FILE_DIR,))


def init_path(step: Step, event: ev.PathEnsured) -> None:
    if not _accept(step, event):
        return
    if event.outcome is Outcome.OK:
        step.phase = Checks(step.checks.file_dir, True)
        _init_maybe_done(step)
    else:
        _fail_over(step, Why.ELECTION_PATH, f"election path {_why(event)}", (PATH,))


def init_timer(step: Step, event: ev.TimerFired) -> None:
    if not _fired(step, event, Timer.INIT_DEADLINE):
        return
    checks = step.checks
    passed = ((SESSION, step.session.connected), (FILE_DIR, checks.file_dir), (PATH, checks.path))
    unmet = tuple(repair for repair, ok in passed if not ok)
    _fail_over(step, Why.INIT_DEADLINE, "init deadline passed", unmet or (BACKOFF,))


# --- Attempter ------------------------------------------------------------------------


def attempter_queue(step: Step, event: ev.QueueRead) -> None:
    """The queue as listed: where our node stands (or whether an answer in doubt made
    one), then lead at the head, or watch the node just below ours."""
    if not _accept(step, event) or event.outcome is not Outcome.OK:
        return  # the attempt timer reads again
    place = step.place
    if _place_busy(step):
        return  # a create or delete went out since: its answer decides
    if not event.exists:  # the election path is gone, and every node in it
        _forget_place(step)
        step.request(fx.EnsurePath, path=step.config.election_path)
        return
    if step.config.stale(event.at, event.answered_at):
        _read_queue(step)  # an answer that waited for us proves nothing now: look again
        return
    nodes = in_order(event.names)
    session = step.session.id
    mine = [n for n in nodes if n.of_session(session)]
    if not mine:  # ours is gone (deleted under us), or the create in doubt never happened
        _lost_place(step)
        return
    node = mine[0]  # (never two of one session: we look before every create)
    if node.name != place.name:  # a create in doubt did happen: its czxid is our token
        step.place = Place(session, node.name)
        step.request(fx.ReadNode, path=_own_path(step))
    elif place.unsure:
        step.place = Place(session, place.name, place.token)
    candidate, index = step.candidate, nodes.index(node)
    watched = candidate.queue_watched or candidate.watch_request == event.request
    behind = tuple((n.replica, n.priority) for n in nodes[index + 1 :])
    ahead = tuple((n.replica, n.priority) for n in nodes[:index])
    queued = {n.replica for n in nodes}
    left = _left(candidate, (r for r, _ in candidate.ahead if r not in queued), queued)
    if index == 0:
        step.phase = Candidate(
            release=candidate.release,
            head=True,
            below=0,
            behind=behind,
            fresh=True,
            waited=candidate.waited,
            left=left,
            queue_watched=watched,
        )
        _at_head(step)
        return
    predecessor = nodes[index - 1].name
    watching = candidate.watching and predecessor == candidate.predecessor
    step.phase = Candidate(
        release=candidate.release,
        below=index,
        predecessor=predecessor,
        watching=watching,
        behind=behind,
        ahead=ahead,
        left=left,
        queue_watched=watched,
    )
    if not watching:
        step.request(fx.ReadNode, path=_child_path(step, predecessor), prove=index == 1)


def attempter_created(step: Step, event: ev.NodeCreated) -> None:
    if not _place_created(step, event):
        return
    if step.place.name:  # ours: watch it (it may be deleted under us), and find its place
        step.request(fx.ReadNode, path=_own_path(step))
        _read_queue(step)
    elif step.place.unsure:
        _join(step)  # look for it
    elif event.failure is ev.CreateFailure.NO_PARENT:
        step.request(fx.EnsurePath, path=step.config.election_path)
    elif event.failure is ev.CreateFailure.PARENT_EPHEMERAL:
        # A replica of the single-node protocol leads: its ephemeral node stands where our
        # queue's parent goes. Watch it; when it goes, make the parent and queue.
        step.request(fx.ReadNode, path=step.config.election_path)
    # Otherwise (refused, say) the attempt timer tries again.


def attempter_read(step: Step, event: ev.NodeRead) -> None:
    """A read of our node (its token; is it still there), of the node below ours (its
    watch is set, or it has gone already), or of a single-node leader's node."""
    if not _accept(step, event) or event.outcome is not Outcome.OK:
        return
    place, candidate, cfg = step.place, step.candidate, step.config
    if place.name and event.path == _own_path(step):
        if not event.exists or event.owner != step.session.id or event.token is None:
            if not _place_busy(step):
                _lost_place(step)
        elif place.token is None:  # found again after a create in doubt
            step.place = Place(place.session, place.name, event.token)
            if candidate.head:
                _at_head(step)
    elif candidate.predecessor and event.path == _child_path(step, candidate.predecessor):
        if event.exists:
            step.phase = attrs.evolve(candidate, watching=True)
        else:
            _predecessor_gone(step, event.at, event.answered_at)
    elif event.path == cfg.election_path and (not event.exists or event.owner == 0):
        # The single-node leader's node is gone (or the path is a queue's parent now).
        step.request(fx.EnsurePath, path=cfg.election_path)


def _predecessor_gone(step: Step, at: float, answered_at: float | None) -> None:
    """The node below ours went. Sequence numbers only grow, so none can have come below
    ours since we read the queue: if it was the only one below, ours is the lowest now,
    and we need not list the queue (unless the news waited long for us: then we look).
    Whether our session still lives is another matter: `_at_head` leads only on a fresh
    proof of it (the adapter's, with the news, or an answer's)."""
    candidate = step.candidate
    fresh_news = not step.config.stale(at, answered_at)
    if candidate.below == 1 and fresh_news and step.place.token is not None:
        step.phase = Candidate(
            release=candidate.release,
            head=True,
            below=0,
            behind=candidate.behind,
            waited=candidate.waited,
            left=_left(
                candidate,
                (replica for replica, _ in candidate.ahead),
                {replica for replica, _ in candidate.behind},
            ),
            queue_watched=candidate.queue_watched,
        )
        _at_head(step)
    else:
        step.phase = Candidate(
            release=candidate.release,
            waited=candidate.waited,
            ahead=candidate.ahead,
            left=candidate.left,
        )
        _read_queue(step)


def _left(candidate: Candidate, gone: Iterable[str], queued: Iterable[str]) -> tuple[str, ...]:
    """`candidate.left` with the replicas of nodes below ours seen gone, less those seen
    `queued` again (a move to the back is a leave and a return)."""
    return tuple(sorted({*candidate.left, *gone} - set(queued)))


def attempter_watch(step: Step, event: ev.NodeWatchFired) -> None:
    place, candidate, cfg = step.place, step.candidate, step.config
    if place.name and event.path == _own_path(step):
        if event.kind == "DELETED" and not _place_busy(step):
            _lost_place(step)  # deleted under us: queue again
    elif candidate.predecessor and event.path == _child_path(step, candidate.predecessor):
        if event.kind == "DELETED":
            _proven(step, event.proven_at)
            _predecessor_gone(step, event.at, event.answered_at)
        elif event.kind == "CHANGED":
            # It took office (`MarkNode`): read how many are below us now, and watch again.
            step.phase = attrs.evolve(candidate, watching=False)
            _read_queue(step)
    elif event.path == cfg.election_path and event.kind == "DELETED":
        step.request(fx.EnsurePath, path=cfg.election_path)  # the single-node leader went
    # Any other: a watch of a node no longer below ours, or gone with the connection.


def attempter_queue_changed(step: Step, event: ev.QueueChanged) -> None:
    """A candidate came or went while we hold the head for one who may lead: look."""
    candidate = step.candidate
    if event.path != step.config.election_path:
        return
    step.phase = attrs.evolve(candidate, queue_watched=False)
    if candidate.head:
        step.phase = attrs.evolve(step.phase, fresh=False)
        _read_queue(step, watch=True)


def attempter_path(step: Step, event: ev.PathEnsured) -> None:
    if _accept(step, event) and event.outcome is Outcome.OK:
        _join(step)


def attempter_timer(step: Step, event: ev.TimerFired) -> None:
    if _fired(step, event, Timer.ATTEMPT):
        if step.control.failed or step.peers.failed:
            # A read of the controls (or of the members) failed: try it again now.
            step.control = attrs.evolve(step.control, failed=False)
            step.peers = attrs.evolve(step.peers, failed=False)
        candidate = step.candidate
        if candidate.release is not None:
            _release_then_queue(step)
        elif candidate.head and step.place.name:
            _at_head(step)
        else:
            _join(step)
        _keep_ticking(step)
    elif _fired(step, event, Timer.CONTEND):
        # The higher priorities had their turn: one more look, then we lead.
        step.phase = attrs.evolve(step.candidate, waited=True, fresh=False)
        _at_head(step)


def attempter_written(step: Step, event: ev.FileWritten) -> None:
    if _accept(step, event):  # the last file of a term yielded: its node may go now
        _release_then_queue(step)


def attempter_released(step: Step, event: ev.NodeReleased) -> None:
    if _place_released(step, event):
        _join(step)  # queue again, at the back (or look whether the delete happened)


def attempter_child_started(step: Step, event: ev.ChildStarted) -> None:
    _unknown_child(step, event)
    _release_then_queue(step)


def attempter_child_exited(step: Step, event: ev.ChildExited) -> None:
    child_exited_meanwhile(step, event)
    _release_then_queue(step)  # the yielded term's job has gone: its node may go


# --- our node's create and delete, in every state ------------------------------------


def _place_created(step: Step, event: ev.NodeCreated) -> bool:
    """The answer to our create: the node is ours (`place.name`), maybe made (`unsure`:
    a lost or failed connection), or not made. False for a stale answer."""
    if not step.answered(event):
        return False
    place, name = step.place, event.path.rsplit("/", 1)[-1]
    if event.outcome is Outcome.OK and event.token is not None and name:
        step.place = Place(place.session, name, event.token)
        _prove(step, event)
    elif event.outcome is Outcome.UNKNOWN or event.failure is ev.CreateFailure.CONNECTION:
        step.place = Place(place.session, unsure=True)
    else:
        step.place = Place(place.session, unsure=place.unsure)
    return True


def _place_released(step: Step, event: ev.NodeReleased) -> bool:
    """The answer to our delete: the node is gone, or maybe not (`unsure`: the queue is
    looked at before another create). False for a stale answer."""
    if not step.answered(event):
        return False
    place = step.place
    if event.outcome is Outcome.OK:
        step.place = Place(place.session)
    else:
        step.place = Place(place.session, place.name, place.token, unsure=True)
    return True


def created_meanwhile(step: Step, event: ev.NodeCreated) -> None:
    _place_created(step, event)  # ours (found again in Attempter) or gone with the session


def released_meanwhile(step: Step, event: ev.NodeReleased) -> None:
    _place_released(step, event)


# --- Leader ---------------------------------------------------------------------------


def leader_timer(step: Step, event: ev.TimerFired) -> None:
    """Time for the next file: first confirm with ZooKeeper that the node is still ours.
    A replica resumed from a long pause hears of its expired session only from the
    server; this read is what makes it hear before it writes. A tick while the previous
    confirm or write is still in flight (slow disk, slow server) is skipped, not queued."""
    if _fired(step, event, Timer.CHILD_RESTART):
        _start_child(step)
        return
    if not _fired(step, event, Timer.WRITE):
        return
    term = step.term
    if not (term.write_due or step.awaits(fx.WriteLeaderFile)):
        step.phase = Term(term.token, term.seq, True)
        step.request(fx.ReadNode, path=_own_path(step))
    step.start_timer(Timer.WRITE, step.config.leader_timeout)


def leader_read(step: Step, event: ev.NodeRead) -> None:
    if not _accept(step, event):
        return
    term = step.term
    if term.write_due:
        step.phase = Term(term.token, term.seq, False)
    if event.outcome is not Outcome.OK:
        return  # unconfirmed: skip this file; session trouble arrives as SUSPENDED/LOST
    if not event.exists or event.owner != step.session.id or event.token != term.token:
        _forget_place(step)
        _enter_attempter(step, Why.NODE_LOST, "queue node no longer ours")
    elif term.write_due and not step.config.stale(event.at, event.answered_at):
        _write_file(step)  # (a confirmation that waited too long confirms nothing: skip)


def leader_watch(step: Step, event: ev.NodeWatchFired) -> None:
    if event.path != _own_path(step):
        return  # a watch of our candidacy (the node below ours), late
    if event.kind == "DELETED":
        _forget_place(step)
        _enter_attempter(step, Why.NODE_LOST, "queue node deleted")
    elif event.kind in ("CREATED", "CHANGED") and not step.awaits(fx.ReadNode):
        step.request(fx.ReadNode, path=_own_path(step))  # watch it again


def leader_connected(step: Step, event: ev.SessionConnected) -> None:
    """The same session again: nothing changed. Another one (the old one expired unheard):
    our node went with the old session, and so did leadership."""
    before = step.session.id
    session_connected(step, event)
    if event.session_id != before:
        _enter_attempter(step, Why.NODE_LOST, "a new session: our queue node went with the old one")


def leader_marked(step: Step, event: ev.NodeMarked) -> None:
    # Failed or not, nothing waits for it: the candidate behind reads at its next tick.
    _accept(step, event)


def leader_written(step: Step, event: ev.FileWritten) -> None:
    if not _accept(step, event) or event.outcome is Outcome.OK:
        return
    if event.newer_token is not None:
        _step_down(step, Why.SUPERSEDED, f"superseded by token {event.newer_token}")
    else:
        _step_down(step, Why.WRITE_FAILED, f"leader file write {_why(event)}")


def leader_pruned(step: Step, event: ev.FilesPruned) -> None:
    # A failed prune leaves an extra file but harms no one: the next write prunes again.
    _accept(step, event)


def _step_down(step: Step, why: Why, cause: str, wait: float = 0.0) -> None:
    """Leave Leader for Failover because the work failed, while the session lives:
    release the node so another replica can do the work we cannot (a no-op if the node
    is not ours any more) — once a leader file still in flight has landed or failed, so
    that it cannot land in the next term, and once our job has exited, so that no job
    of another machine starts while ours still runs. Nothing to repair: Failover waits
    out the back-off (or `wait`, a failed job's, if longer); we queue again after it."""
    token = step.term.token
    _fail_over(step, why, cause, (BACKOFF,), wait)  # (a step-down carries the file)
    step.phase = Repairs(step.repairs.broken, release=token)
    _release_when_idle(step)


def _release_when_idle(step: Step) -> bool:
    """The node of a term left while the session lives goes once that term is idle: no
    leader file in flight, no job (Failover after a step-down; Attempter after a
    hand-over, or a move to the back). True when the release is done with: asked for,
    or moot (the node went with the session)."""
    phase = step.phase
    assert isinstance(phase, Repairs | Candidate), phase  # the phases that note a release
    if phase.release is None:
        return False
    if step.awaits(fx.WriteLeaderFile) or _job_busy(step):
        return False  # the file in flight and the job first: their answers come first
    if _place_busy(step):
        return False  # its answer first
    place = step.place
    if place.name and place.token == phase.release and step.session.connected:
        step.request(fx.ReleaseNode, path=_own_path(step), token=phase.release)
    step.phase = attrs.evolve(phase, release=None)
    return True


def _release_then_queue(step: Step) -> None:
    """Attempter: release the node noted (once idle); with nothing to release after all
    (it went with the session), queue at once."""
    if _release_when_idle(step) and not _place_busy(step):
        _join(step)


# --- the job, in every state ----------------------------------------------------------


def leader_child_started(step: Step, event: ev.ChildStarted) -> None:
    if not step.answered(event):
        _unknown_child(step, event)
        return
    job = step.job
    if event.outcome is Outcome.OK and event.pid is not None:
        step.job = Job(job.token, event.pid)
        if job.token != step.term.token:  # started for a term that has since ended
            step.stop_child()
    else:
        step.job = NO_JOB
        _job_ended(step, 127, f"job did not start: {_why(event)}", failed=True)


def leader_child_exited(step: Step, event: ev.ChildExited) -> None:
    job = step.job
    if event.pid != job.pid:
        return
    _child_gone(step, event)
    if job.stopping:  # an earlier term's job, stopped on purpose: now start ours
        _start_child(step)
        return
    how = f"signal {event.signal}" if event.signal else f"code {event.code}"
    cause = f"job exited with {how} after {event.ran_for:.1f}s"
    _job_ended(step, event.code, cause, failed=step.config.job_failed(event.ran_for))


def leader_lease_expired(step: Step, event: ev.ChildLeaseExpired) -> None:
    """The supervisor stopped the job: no heartbeat proved our session alive in time.
    Leadership is in doubt, so this term ends; the supervisor is already stopping the job."""
    job = step.job
    if event.pid != job.pid:
        return
    if not job.stopping:
        step.job = Job(job.token, job.pid, True)
        _step_down(step, Why.LEASE, f"job lease expired: {event.reason}")


def lease_expired_meanwhile(step: Step, event: ev.ChildLeaseExpired) -> None:
    job = step.job
    if event.pid == job.pid and not job.stopping:
        step.job = Job(job.token, job.pid, True)  # its supervisor stops it


def _job_ended(step: Step, code: int, cause: str, failed: bool) -> None:
    """The job ended on its own while we lead: apply `--exec-exit`. `failed`: it exited
    within `job_healthy_after` or never started, and the next wait grows with each such
    failure in a row; a job that ran long starts the count anew."""
    cfg, streaks = step.config, step.streaks
    if cfg.exec_exit is ExecExit.RESTART:
        restarts = streaks.restarts + 1 if failed else 1
        step.streaks = attrs.evolve(streaks, restarts=restarts)
        step.start_timer(Timer.CHILD_RESTART, step.job_backoff(restarts))
    elif cfg.exec_exit is ExecExit.STOP:
        _begin_stopping(step, Why.JOB_EXIT, cause, exit_code=code)
    else:  # release: let another replica run it; we compete again after a wait
        job_failures = streaks.job_failures + 1 if failed else 0
        step.streaks = attrs.evolve(streaks, job_failures=job_failures)
        wait = step.backoff(streaks.failures + 1)  # what Failover would wait anyway
        if failed:
            wait = max(wait, step.job_backoff(job_failures))
        _step_down(step, Why.JOB_EXIT, f"{cause}; competing again in {wait:g}s", wait)


def _unknown_child(step: Step, event: ev.ChildStarted) -> None:
    """A job we no longer want (its start raced a state change): never leave it running."""
    job = step.job
    if step.answered(event):
        if event.outcome is Outcome.OK and event.pid is not None:
            step.job = Job(job.token, event.pid)
            step.stop_child()
        else:
            step.job = NO_JOB
    elif event.outcome is Outcome.OK and event.pid is not None:
        step.effects.append(fx.StopChild(pid=event.pid, grace=step.config.exec_grace))


def child_started_meanwhile(step: Step, event: ev.ChildStarted) -> None:
    _unknown_child(step, event)


def child_exited_meanwhile(step: Step, event: ev.ChildExited) -> None:
    if event.pid == step.job.pid:
        _child_gone(step, event)


def _child_gone(step: Step, event: ev.ChildExited) -> None:
    """Our job has exited. One that ran long (even if stopped on purpose) was healthy:
    the job back-off starts anew."""
    step.job = NO_JOB
    if not step.config.job_failed(event.ran_for) and step.streaks.job_failures:
        step.streaks = attrs.evolve(step.streaks, job_failures=0)


# --- the member node, in every state ------------------------------------------------


def _entered(step: Step, event: Event) -> bool:
    """This reduction entered the state it ends in (or started the run)."""
    return step.previous is not None or type(event) is ev.Started


def show_state(step: Step, event: Event) -> None:
    """After every reduction (outside Stopping): have our member node show the state we
    are in. One publish at a time, and the latest state wins (a state passed through
    while one was in flight is never shown); none while disconnected. After a failure,
    the next try waits for a state change or a reconnect."""
    before, member = step.before, step.member
    entered = _entered(step, event)
    if not entered and step.session is before.session and member is before.member:
        return  # nothing the node shows, nor our means to show it, has changed
    if entered:
        member = Member(event.at, member.asked, member.shown)
    elif member.failed and type(event) is ev.SessionConnected:
        member = Member(member.since, member.asked, member.shown)
    session = step.session
    if (
        not step.awaits(fx.PublishMember)
        and not member.failed
        and session.connected
        and session.id is not None
    ):
        phase = step.phase
        token = phase.token if isinstance(phase, Term) else None
        wanted = (session.id, str(step.name), member.since, token)
        if wanted != member.shown:
            ours = member.shown is not None and member.shown[0] == session.id
            step.request(
                fx.PublishMember,
                path=member_path(step.config),
                state=wanted[1],
                since=member.since,
                token=token,
                create=not ours,
            )
            member = Member(member.since, wanted, member.shown)
    if member != step.member:
        step.member = member


def show_stopping(step: Step, event: Event) -> None:
    """After every reduction in Stopping: Stopping is shown once, as the replica's last
    word, on entering it (`_last_word`); nothing is published after it."""
    member = step.member
    if _entered(step, event):
        _last_word(step, event.at)
    elif member.failed and type(event) is ev.SessionConnected:
        step.member = Member(member.since, member.asked, member.shown)


def _last_word(step: Step, at: float) -> None:
    """Entering Stopping: our node shows Stopping before it goes with the session, so
    that `election top` tells a replica that stopped from one whose session was lost (a
    crash, an expiry). Whatever publish is in flight, and ahead of the close on the wire
    (ZooKeeper answers a session's requests in order: the close waits only for this one
    write). Only onto a node of this session: none is made now."""
    member, session = step.member, step.session
    mine = [m for m in (member.shown, member.asked) if m is not None and m[0] == session.id]
    if not session.connected or session.id is None or not mine:
        return
    wanted = (session.id, str(STOPPING), at, None)
    step.forget(fx.PublishMember)  # (its answer, whatever it is, says nothing now)
    step.request(
        fx.PublishMember,
        path=member_path(step.config),
        state=wanted[1],
        since=at,
        token=None,
        create=False,
    )
    publish = step.effects.pop()
    closes = [i for i, e in enumerate(step.effects) if isinstance(e, fx.CloseSession)]
    step.effects.insert(closes[0] if closes else len(step.effects), publish)
    step.member = Member(at, wanted, member.shown)


def members_path(election_path: str) -> str:
    """`/election/leader` -> `/election/members`: the member nodes, beside the election
    node."""
    parent = election_path.rsplit("/", 1)[0]
    return f"{parent}/members"


def member_path(config: CoreConfig) -> str:
    """This replica's member node: `<members>/<replica id>`."""
    return f"{members_path(config.election_path)}/{config.replica}"


def _take_member_answer(step: Step, event: ev.MemberPublished) -> bool:
    """The answer to our publish: what the node shows now. False for a stale answer."""
    member = step.member
    if not step.answered(event):
        return False  # an answer of an earlier run of publishes, long superseded
    if event.outcome is Outcome.OK:
        step.member = Member(member.since, None, member.asked)
    else:  # failed, or unknown: the node may show anything, or be gone
        # A publish of an earlier session says nothing of this one: its claim is due.
        asked = member.asked
        ours = asked is not None and asked[0] == step.session.id
        step.member = Member(member.since, None, None, failed=ours)
    return True


def _refused(step: Step, event: ev.MemberPublished) -> bool:
    """One live replica per id: another's session holds our member node. A second
    replica of one id is refused, as an invalid --replica-id is (exit 2)."""
    if event.outcome is Outcome.OK or not event.held_by:
        return False
    cause = in_use(step.config.replica, event.held_by)
    _begin_stopping(step, Why.ID_IN_USE, cause, EXIT_IN_USE)
    return True


def member_published(step: Step, event: ev.MemberPublished) -> None:
    if _take_member_answer(step, event):
        _refused(step, event)


def attempter_member_published(step: Step, event: ev.MemberPublished) -> None:
    if not _take_member_answer(step, event) or _refused(step, event):
        return
    if not step.place.name and not _place_busy(step):
        _join(step)  # the claim is settled, the id ours: queue now


def stopping_member_published(step: Step, event: ev.MemberPublished) -> None:
    _take_member_answer(step, event)  # a late answer: nothing more


EXIT_IN_USE = 2  # as for any invalid flag: the replica id is taken


def in_use(replica: str, held_by: str) -> str:
    """Why a replica stops whose id another live replica holds."""
    return f"replica id {replica} is in use by another live replica ({held_by})"


# --- the operator's controls and the other candidates, in every state ----------------


def keep_controls(step: Step, event: Event) -> None:
    """After every reduction: have the controls (pause, hand-over) read whenever they
    are not known, or a watch said they changed — one read at a time, and only while
    connected (the answer re-arms the watches)."""
    if not step.session.connected:
        return
    if not step.before.session.connected:
        # (Re)connected: a watch may have fired unheard, or gone with an old session.
        if step.control.known:
            step.control = attrs.evolve(step.control, stale=True, failed=False)
        if step.peers.known:
            step.peers = attrs.evolve(step.peers, stale=True, failed=False)
    control, cfg = step.control, step.config
    reading = step.awaits(fx.ReadControl)
    if not reading and not control.failed and (control.stale or not control.known):
        step.request(
            fx.ReadControl,
            pause_path=pause_path(cfg.election_path),
            handover_path=handover_path(cfg.election_path),
        )
        step.control = attrs.evolve(control, stale=False)


def keep_peers(step: Step, event: Event) -> None:
    """After every reduction in Attempter: at the head of the queue or next in line
    (the only candidates that read, and watch, the members' priorities, so that a member
    coming or going wakes no crowd), have them read when not known or changed. The one
    next in line reads them before its turn, to lead without a read when it comes."""
    phase, peers, cfg = step.candidate, step.peers, step.config
    near_head = cfg.priority > 0 and (phase.head or phase.below == 1)
    if (
        near_head
        and step.session.connected
        and not step.awaits(fx.ReadMembers)
        and not peers.failed
        and (peers.stale or not peers.known)
    ):
        known = ((cfg.replica, cfg.priority), *phase.ahead, *phase.behind)  # the names tell
        step.request(fx.ReadMembers, path=members_path(cfg.election_path), known=known)
        step.peers = attrs.evolve(peers, stale=False)


def _take_controls(step: Step, event: ev.ControlRead) -> bool:
    """The answer to our read of the controls: True when they are known afresh."""
    control = step.control
    if not step.answered(event):
        return False  # an answer to a read since superseded
    if event.outcome is not Outcome.OK:
        step.control = attrs.evolve(control, failed=True)
        return False
    step.control = Control(
        known=True,
        stale=control.stale,  # a watch fired while it was in flight: read again
        paused=event.paused,
        paused_by=event.paused_by,
        handover=event.handover,
        handover_leader=event.handover_leader,
        handover_token=event.handover_token,
        handover_to=event.handover_to,
        handover_by=event.handover_by,
    )
    return True


def control_read(step: Step, event: ev.ControlRead) -> None:
    _take_controls(step, event)


def attempter_control_read(step: Step, event: ev.ControlRead) -> None:
    if _take_controls(step, event) and step.candidate.head:
        _at_head(step)


def leader_control_read(step: Step, event: ev.ControlRead) -> None:
    if _take_controls(step, event):
        _maybe_yield(step)


def control_changed(step: Step, event: ev.ControlChanged) -> None:
    # Until it is read again, nobody competes: a pause made just before our node went
    # reaches us (ZooKeeper keeps a session's notifications in order) before the DELETED.
    step.control = attrs.evolve(step.control, stale=True, failed=False)


def _take_members(step: Step, event: ev.MembersRead) -> bool:
    """The answer to our read of the members. False for a stale answer."""
    peers = step.peers
    if not step.answered(event):
        return False
    if event.outcome is not Outcome.OK or len(event.replicas) != len(event.priorities):
        step.peers = Peers(known=peers.known, failed=True, priorities=peers.priorities)
    else:
        priorities = tuple(zip(event.replicas, event.priorities, strict=True))
        step.peers = Peers(known=True, stale=peers.stale, priorities=priorities)
    return True


def members_read(step: Step, event: ev.MembersRead) -> None:
    _take_members(step, event)


def attempter_members_read(step: Step, event: ev.MembersRead) -> None:
    if _take_members(step, event) and step.candidate.head:
        _at_head(step)


def members_changed(step: Step, event: ev.MembersChanged) -> None:
    step.peers = attrs.evolve(step.peers, stale=True, failed=False)


def _maybe_yield(step: Step) -> None:
    """Leader: end the term, as gracefully as on SIGTERM but staying a candidate, when
    the cluster is paused, a hand-over of this term is asked for, or a hand-over to
    another replica stands (we took the node in a race with it)."""
    control, term, me = step.control, step.term, step.config.replica
    by = control.handover_by or "an operator"
    if control.paused:
        _yield(step, Why.PAUSE, f"paused by {control.paused_by or 'an operator'}", move=False)
    elif control.handover and control.handover_token == term.token:
        to = f" to {control.handover_to}" if control.handover_to else ""
        _yield(step, Why.HANDOVER, f"hand-over{to} asked by {by}", move=True)
    elif control.handover and control.handover_to not in (None, me):
        stands = f"a hand-over to {control.handover_to} asked by {by} stands"
        _yield(step, Why.HANDOVER, stands, move=True)


def _yield(step: Step, why: Why, cause: str, move: bool) -> None:
    """Leave Leader for Attempter: the job is stopped and a file in flight lands first.
    For a hand-over (`move`) our node then goes and a new one queues at the back, which
    lets the next in line take over at once; through a pause we hold our place at the
    head, leading again when it ends."""
    if move:
        _enter_attempter(step, why, cause, release=step.term.token)
    else:
        _enter_attempter(step, why, cause, head=True)


# --- Failover -------------------------------------------------------------------------


# Failover stays put until what failed works again: each retry tick asks for it anew
# from here (Connect, CheckFileDir, EnsurePath) and re-arms itself with a growing
# back-off; a failed or unknown answer leaves it broken. Init, once reached, runs every
# check again.


def _failover_done(step: Step, cause: str) -> None:
    """Go to Init if nothing is left: nothing to repair, the last term's job has exited
    (a new term must not find it running) and its node's release has been sent."""
    repairs = step.repairs
    if repairs.broken or repairs.release is not None or _job_busy(step):
        return
    _enter_init(step, Why.REPAIRED, cause)


def _repaired(step: Step, repair: Repair, cause: str) -> None:
    repairs = step.repairs
    step.phase = Repairs(tuple(r for r in repairs.broken if r is not repair), repairs.release)
    _failover_done(step, cause)


def _broken(step: Step, repair: Repair) -> None:
    """`repair` broke while in Failover: add it, and make sure a retry tick will come."""
    repairs = step.repairs
    if repair not in repairs.broken:
        step.phase = Repairs((*repairs.broken, repair), repairs.release)
    if not step.has_timer(Timer.RETRY):
        step.streaks = attrs.evolve(step.streaks, failures=step.streaks.failures + 1)
        step.start_timer(Timer.RETRY, step.backoff())


def _ask_again(step: Step, broken: tuple[Repair, ...]) -> None:
    for repair in broken:
        if repair is SESSION:
            # kazoo reconnects by itself, but not after AUTH_FAILED: Connect starts it
            # again (and only answers when connected, or at its deadline).
            step.request(fx.Connect)
        elif repair is FILE_DIR and not step.awaits(fx.CheckFileDir):
            step.request(fx.CheckFileDir)  # not twice at once: a hung disk hangs both
        elif repair is PATH and step.session.connected and not step.awaits(fx.EnsurePath):
            step.request(fx.EnsurePath, path=step.config.election_path)


def failover_timer(step: Step, event: ev.TimerFired) -> None:
    if not _fired(step, event, Timer.RETRY):
        return
    repairs, connected = step.repairs, step.session.connected
    # The back-off has been waited out; a session we hear is up is no longer broken
    # (its Connect answered after SessionConnected, say).
    broken = tuple(
        r for r in repairs.broken if r is not BACKOFF and not (r is SESSION and connected)
    )
    step.phase = Repairs(broken, repairs.release)
    if not broken:
        _failover_done(step, "retrying after back-off")
        return  # or the job's ChildExited (or the write's FileWritten) comes first
    _ask_again(step, broken)
    step.streaks = attrs.evolve(step.streaks, failures=step.streaks.failures + 1)
    step.start_timer(Timer.RETRY, step.backoff())


def failover_connected(step: Step, event: ev.SessionConnected) -> None:
    session_connected(step, event)
    if PATH in step.repairs.broken:
        _ask_again(step, (PATH,))  # could not be asked while the session was down
    _repaired(step, SESSION, "session connected")


def failover_connect_result(step: Step, event: ev.ConnectResult) -> None:
    # Failed or unknown: still down, the next tick asks again. Ok comes after the
    # SessionConnected that told us already, unless a tick found us up.
    if _accept(step, event) and event.outcome is Outcome.OK and step.session.connected:
        _repaired(step, SESSION, "session connected")


def failover_suspended(step: Step, event: ev.SessionSuspended) -> None:
    suspended_meanwhile(step, event)
    _broken(step, SESSION)


def failover_lost(step: Step, event: ev.SessionLost) -> None:
    lost_meanwhile(step, event)
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
    if event.pid != step.job.pid:
        return
    _child_gone(step, event)
    _release_when_idle(step)  # no job of ours runs any more: the node may go
    _failover_done(step, "the last term's job exited")


def failover_written(step: Step, event: ev.FileWritten) -> None:
    if _accept(step, event):
        _release_when_idle(step)  # the last file of the term has landed: release now
        _failover_done(step, "the last term's file landed")


def failover_released(step: Step, event: ev.NodeReleased) -> None:
    _place_released(step, event)  # the release after a failed work: we queue again later


# --- Stopping -------------------------------------------------------------------------


def stopping_closed(step: Step, event: ev.SessionClosed) -> None:
    if _accept(step, event):
        _exit(step, step.shutdown.exit_code, "stopped")


def stopping_timer(step: Step, event: ev.TimerFired) -> None:
    if _fired(step, event, Timer.STOP_DEADLINE):
        _exit(step, step.shutdown.exit_code, "stop deadline passed")


def stopping_written(step: Step, event: ev.FileWritten) -> None:
    if _accept(step, event):
        _stopping_proceed(step)


def stopping_child_started(step: Step, event: ev.ChildStarted) -> None:
    _unknown_child(step, event)  # no job may start during shutdown
    _stopping_proceed(step)


def stopping_child_exited(step: Step, event: ev.ChildExited) -> None:
    child_exited_meanwhile(step, event)
    _stopping_proceed(step)


def stopping_released(step: Step, event: ev.NodeReleased) -> None:
    if _place_released(step, event):
        _stopping_proceed(step)  # gone (or maybe not: the close takes it all the same)


def stopping_again(step: Step, event: ev.StopRequested) -> None:
    _exit(step, 1, f"forced by a second {event.signal}")


# --- the table ------------------------------------------------------------------------

_STOP = Rule(stop, (STOPPING,))
_SUSPENDED = Rule(session_suspended, (FAILOVER,))
_LOST = Rule(session_lost, (FAILOVER,))
# The job outlives the state that started it: its news may come in any state.
_CHILD_STARTED = Rule(child_started_meanwhile)
_CHILD_EXITED = Rule(child_exited_meanwhile)
_LEASE_EXPIRED = Rule(lease_expired_meanwhile)
# The member node's publishes span states too; one that finds the id in use stops.
_MEMBER = Rule(member_published, (STOPPING,))
# Our queue node outlives states, and so do its create and its delete: their answers are
# heard anywhere (a create that made the node while we were away is still ours).
_CREATED = Rule(created_meanwhile)
_RELEASED = Rule(released_meanwhile)
# The controls and the members' priorities are read, and their watches fire, anywhere.
_CONTROL_READ = Rule(control_read)
_CONTROL_CHANGED = Rule(control_changed)
_MEMBERS_READ = Rule(members_read)
_MEMBERS_CHANGED = Rule(members_changed)

TABLE: Mapping[StateName, Mapping[type[Event], Rule]] = {
    INIT: {
        ev.Started: Rule(init_started),
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(init_timer, (FAILOVER,)),
        ev.SessionConnected: Rule(init_connected, (ATTEMPTER,)),
        ev.SessionSuspended: _SUSPENDED,
        ev.SessionLost: _LOST,
        ev.ConnectResult: Rule(init_connect_result, (FAILOVER,)),
        ev.FileDirChecked: Rule(init_file_dir, (ATTEMPTER, FAILOVER)),
        ev.PathEnsured: Rule(init_path, (ATTEMPTER, FAILOVER)),
        ev.NodeCreated: _CREATED,
        ev.NodeReleased: _RELEASED,
        ev.ChildStarted: _CHILD_STARTED,
        ev.ChildExited: _CHILD_EXITED,
        ev.ChildLeaseExpired: _LEASE_EXPIRED,
        ev.MemberPublished: _MEMBER,
        ev.ControlRead: _CONTROL_READ,
        ev.ControlChanged: _CONTROL_CHANGED,
        ev.MembersRead: _MEMBERS_READ,
        ev.MembersChanged: _MEMBERS_CHANGED,
    },
    ATTEMPTER: {
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(attempter_timer, (LEADER,)),
        ev.SessionConnected: Rule(session_connected),
        ev.SessionSuspended: _SUSPENDED,
        ev.SessionLost: _LOST,
        ev.PathEnsured: Rule(attempter_path),
        ev.QueueRead: Rule(attempter_queue, (LEADER,)),
        ev.QueueChanged: Rule(attempter_queue_changed),
        ev.NodeCreated: Rule(attempter_created),
        ev.NodeRead: Rule(attempter_read, (LEADER,)),
        ev.NodeWatchFired: Rule(attempter_watch, (LEADER,)),
        ev.NodeReleased: Rule(attempter_released),
        ev.FileWritten: Rule(attempter_written),
        ev.ChildStarted: Rule(attempter_child_started),
        ev.ChildExited: Rule(attempter_child_exited),
        ev.ChildLeaseExpired: _LEASE_EXPIRED,
        ev.MemberPublished: Rule(attempter_member_published, (STOPPING,)),
        ev.ControlRead: Rule(attempter_control_read, (LEADER,)),  # the head may lead now
        ev.ControlChanged: _CONTROL_CHANGED,
        ev.MembersRead: Rule(attempter_members_read, (LEADER,)),
        ev.MembersChanged: _MEMBERS_CHANGED,
    },
    LEADER: {
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(leader_timer),
        ev.SessionConnected: Rule(leader_connected, (ATTEMPTER,)),
        ev.SessionSuspended: _SUSPENDED,
        ev.SessionLost: _LOST,
        ev.NodeRead: Rule(leader_read, (ATTEMPTER,)),
        ev.NodeWatchFired: Rule(leader_watch, (ATTEMPTER,)),
        ev.NodeMarked: Rule(leader_marked),
        ev.NodeCreated: _CREATED,
        ev.NodeReleased: _RELEASED,
        ev.FileWritten: Rule(leader_written, (FAILOVER,)),
        ev.FilesPruned: Rule(leader_pruned),
        ev.ChildStarted: Rule(leader_child_started, (FAILOVER, STOPPING)),
        ev.ChildExited: Rule(leader_child_exited, (FAILOVER, STOPPING)),
        ev.ChildLeaseExpired: Rule(leader_lease_expired, (FAILOVER,)),
        ev.MemberPublished: _MEMBER,
        ev.ControlRead: Rule(leader_control_read, (ATTEMPTER,)),
        ev.ControlChanged: _CONTROL_CHANGED,
        ev.MembersRead: _MEMBERS_READ,
        ev.MembersChanged: _MEMBERS_CHANGED,
    },
    FAILOVER: {
        ev.StopRequested: _STOP,
        ev.TimerFired: Rule(failover_timer, (INIT,)),
        ev.SessionConnected: Rule(failover_connected, (INIT,)),
        ev.SessionSuspended: Rule(failover_suspended),
        ev.SessionLost: Rule(failover_lost),
        ev.ConnectResult: Rule(failover_connect_result, (INIT,)),
        ev.FileDirChecked: Rule(failover_file_dir, (INIT,)),
        ev.PathEnsured: Rule(failover_path, (INIT,)),
        ev.NodeCreated: _CREATED,
        ev.NodeReleased: Rule(failover_released),
        ev.FileWritten: Rule(failover_written, (INIT,)),
        ev.ChildStarted: Rule(failover_child_started, (INIT,)),
        ev.ChildExited: Rule(failover_child_exited, (INIT,)),
        ev.ChildLeaseExpired: _LEASE_EXPIRED,
        ev.MemberPublished: _MEMBER,
        ev.ControlRead: _CONTROL_READ,
        ev.ControlChanged: _CONTROL_CHANGED,
        ev.MembersRead: _MEMBERS_READ,
        ev.MembersChanged: _MEMBERS_CHANGED,
    },
    STOPPING: {
        ev.StopRequested: Rule(stopping_again),
        ev.TimerFired: Rule(stopping_timer),
        ev.SessionConnected: Rule(session_connected),
        ev.SessionSuspended: Rule(suspended_meanwhile),
        ev.SessionLost: Rule(lost_meanwhile),
        ev.SessionClosed: Rule(stopping_closed),
        ev.NodeCreated: _CREATED,
        ev.NodeReleased: Rule(stopping_released),
        ev.FileWritten: Rule(stopping_written),
        ev.ChildStarted: Rule(stopping_child_started),
        ev.ChildExited: Rule(stopping_child_exited),
        ev.ChildLeaseExpired: _LEASE_EXPIRED,
        ev.MemberPublished: Rule(stopping_member_published),
        ev.ControlRead: _CONTROL_READ,
        ev.ControlChanged: _CONTROL_CHANGED,
        ev.MembersRead: _MEMBERS_READ,
        ev.MembersChanged: _MEMBERS_CHANGED,
    },
}

Hook = Callable[[Step, Event], None]

# What every reduction ends with, whatever its event, by the state it ends in: the
# reads every replica keeps up (the operator's controls; near the head of the queue,
# the members' priorities), then its member node showing that state (in Stopping, only
# its last word, once).
AFTER: Mapping[StateName, tuple[Hook, ...]] = {
    INIT: (keep_controls, show_state),
    ATTEMPTER: (keep_controls, keep_peers, show_state),
    LEADER: (keep_controls, show_state),
    FAILOVER: (keep_controls, show_state),
    STOPPING: (keep_controls, show_stopping),
}

# What each state ignores, and why. Answers carry the id of the request they answer; a
# state change forgets the old state's requests, so their answers, arriving later, are
# recognised here as stale. Watches set by an earlier state fire late the same way.
_CHECKS = frozenset({ev.ConnectResult, ev.FileDirChecked, ev.PathEnsured})  # Init/Failover's
# Attempter's reads of the queue and the nodes in it, Leader's of its own node (and the
# watches they set), Leader's mark of its node as it took office.
_ELECTION = frozenset(
    {ev.QueueRead, ev.QueueChanged, ev.NodeRead, ev.NodeWatchFired, ev.NodeMarked}
)
_WORK = frozenset({ev.FileWritten, ev.FilesPruned})  # Leader's leader files

STALE: Mapping[StateName, frozenset[type[Event]]] = {
    INIT: _ELECTION | _WORK,
    ATTEMPTER: frozenset({ev.ConnectResult, ev.FileDirChecked, ev.FilesPruned, ev.NodeMarked}),
    LEADER: _CHECKS | frozenset({ev.QueueRead, ev.QueueChanged}),
    FAILOVER: _ELECTION | frozenset({ev.FilesPruned}),
    STOPPING: _CHECKS | _ELECTION | frozenset({ev.FilesPruned}),
}
"""Per state, the events that are late answers of an earlier state (or watches it set):
journaled, and changing nothing. Only `Started` outside Init and `SessionClosed` outside
Stopping are left out everywhere: the first is a journal's first event, the second
answers Stopping's CloseSession and Stopping is the last state."""
