"""Jobs in the simulator: the job's promise checked over every seed.

Each replica's keeper makes its real decisions (`election.keeper.machine`) on simulated
time; only its I/O is simulated here, as the daemon's loop is real and only its world is
simulated. The daemon's side is the real `LeaseKeeper` (its heartbeats go through the
simulated client) and a small `StartChild`/`StopChild` handler that talks to the keeper
as `election.runtime.keeper.Keeper` does over its pipe.

- A job is a simulated process: it may exit on its own; on SIGTERM it exits after a
  while (most at once, some slowly, some never: they ignore it); SIGKILL ends it at once.
- The machine's job lock is one per replica (each replica is a machine of its own):
  it orders a dead run's job, still stopping, before the next run's.
- When the daemon dies, its keeper lives on: it stops the job, then closes the dead
  session (if it can reach the server), and writes the same record file as the real one
  (`JOURNAL.keeper`), which `election-replay` reads.
- A frozen daemon's heartbeats stop, so its keeper stops the job at the lease.

Ground truth (`Jobs.problems`): at every start, no job of another term is alive.
"""

from __future__ import annotations

import json
import random
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from election.core import effects as fx
from election.core import events as ev
from election.keeper import machine as m
from election.keeper.records import record_path
from election.runtime.dispatch import EffectHandler
from election.runtime.lease import LeaseKeeper, Proof
from election.runtime.replies import Reply

if TYPE_CHECKING:
    from election_sim.clock import Scheduled
    from election_sim.replica import Run
    from election_sim.world import Simulation

JOB_COMMAND = ("sim-job",)
KILL_LATENCY = 0.002  # a signal's delivery and the job's exit, at most


class SimJob:
    """One job process (its whole group, as one)."""

    def __init__(self, keeper: SimKeeper, pid: int, token: int, rng: random.Random) -> None:
        self.keeper = keeper
        self.pid = pid
        self.token = token
        self.alive = True
        self.termed = False
        # On SIGTERM: most stop at once, some take their time (past the grace, too),
        # some ignore it: then only SIGKILL ends them.
        roll = rng.random()
        if roll < 0.7:
            self.stops_in = rng.uniform(0.0, 0.05)
        elif roll < 0.9:
            self.stops_in = rng.uniform(0.1, 1.5) * keeper.grace
        else:
            self.stops_in = float("inf")
        # Some exit on their own (a crash, the work done), most run until stopped.
        if rng.random() < 0.2:
            keeper.world.clock.later(rng.uniform(0.2, 15.0), lambda: self.exit(1 << 8))

    def exit(self, status: int) -> None:
        if self.alive:
            self.alive = False
            self.keeper.reaped(self, status)

    def signal(self, name: str) -> None:
        clock = self.keeper.world.clock
        if name == "SIGKILL":
            clock.later(KILL_LATENCY, lambda: self.exit(int(signal.SIGKILL)))
        elif not self.termed:
            self.termed = True
            clock.later(self.stops_in, lambda: self.exit(int(signal.SIGTERM)))


class Jobs:
    """The world's jobs: the per-machine locks, pids, and the promise's ground truth."""

    def __init__(self, world: Simulation) -> None:
        self.world = world
        self.locks: dict[str, SimKeeper] = {}  # replica (machine) -> the keeper holding it
        self.running: list[SimJob] = []
        self.next_pid = 1000
        self.starts = 0
        self.problems: list[str] = []

    def started(self, job: SimJob) -> None:
        self.starts += 1
        others = [j for j in self.running if j.alive and j.token != job.token]
        for other in others:
            self.problems.append(
                f"job of token {job.token} ({job.keeper.replica}) started at "
                f"{self.world.clock.now:.3f}s while job pid {other.pid} of token "
                f"{other.token} ({other.keeper.replica}) was alive"
            )
        self.running = [j for j in self.running if j.alive] + [job]


class SimKeeper:
    """One daemon process's keeper: the real machine, simulated I/O; it outlives the run."""

    def __init__(self, run: Run, grace: float) -> None:
        self.run = run
        self.world = run.world
        self.replica = run.replica.id
        self.grace = grace
        self.rng = random.Random(run.rng.getrandbits(64))
        self.state = m.State()
        self.job: SimJob | None = None
        self.wake: Scheduled | None = None
        self.report: Callable[[dict[str, Any]], None] = lambda fields: None
        self._queue: list[m.Event] = []
        self._busy = False
        self._record = record_path(run.replica.journal)
        self._header = {
            "keeper": 1,
            "replica": self.replica,
            "host": "simulated",
            "daemon": run.number,
            "run": run.started_wall,
        }
        self.done = False

    def now(self) -> float:
        return self.run.now()

    def feed(self, event: m.Event) -> None:
        """Step the machine and carry out its actions (their results fed back in turn)."""
        self._queue.append(event)
        if self._busy:
            return
        self._busy = True
        try:
            while self._queue and not self.done:
                self.state, actions = m.step(self.state, self._queue.pop(0))
                for action in actions:
                    self._do(action)
        finally:
            self._busy = False
        self._schedule()

    def _schedule(self) -> None:
        if self.wake is not None:
            self.wake.cancel()
            self.wake = None
        if self.done:
            return
        delay = m.next_wake(self.state, self.now()) - self.now()
        self.wake = self.world.clock.later(max(delay, 0.0), lambda: self.feed(m.Tick(self.now())))

    def _do(self, action: m.Action) -> None:
        now = self.now()
        jobs = self.world.jobs
        if isinstance(action, m.TryLock):
            holder = jobs.locks.get(self.replica)
            if holder is None or holder is self:
                jobs.locks[self.replica] = self
                self._queue.append(m.LockTried(now, True))
            else:
                self._queue.append(m.LockTried(now, False))
        elif isinstance(action, m.ReleaseLock):
            if jobs.locks.get(self.replica) is self:
                del jobs.locks[self.replica]
        elif isinstance(action, m.Spawn):
            jobs.next_pid += 1
            self.job = SimJob(self, jobs.next_pid, action.spec.token, self.rng)
            jobs.started(self.job)
            self._queue.append(m.Spawned(now, self.job.pid, self.wall(now)))
        elif isinstance(action, m.SignalGroup):
            if self.job is not None and self.job.pid == action.pid:
                self.job.signal(action.signal)
        elif isinstance(action, m.Report):
            self.report(dict(action.fields))
        elif isinstance(action, m.Record):
            line = {**self._header, "wall": self.wall(action.at), **action.fields}
            with self._record.open("a") as f:
                f.write(json.dumps(line) + "\n")
        elif isinstance(action, m.CloseSession):
            self._close(action.session)
        elif isinstance(action, m.Exit):
            self.done = True

    def wall(self, at: float) -> float:
        """The wall time of monotonic `at` (the simulation's two clocks never drift)."""
        return at + self.run.wall() - self.run.now()

    def reaped(self, job: SimJob, status: int) -> None:
        """The job (its whole group) exited: reaped, and nothing of it is left."""
        self.feed(m.JobReaped(self.now(), status))
        self.feed(m.GroupGone(self.now()))

    def _close(self, session: m.Session) -> None:
        """Resume the dead session and close it, if this machine can reach the server."""
        world, replica = self.world, self.run.replica
        latency = self.rng.uniform(0.0004, 0.006)

        def closed() -> None:
            if not world.zk.up or replica.partitioned:
                outcome = "failed: no server answered"
            else:
                live = world.zk.sessions.get(session.id)
                outcome = "expired" if live is None else "closed"
                if live is not None:
                    world.zk.end_session(live)
            self.feed(m.SessionCloseDone(self.now(), outcome))

        world.clock.later(latency, closed)

    # --- the daemon's side ------------------------------------------------------------------

    def told_session(self, session_id: int) -> None:
        timeout = self.world.config.session_timeout
        self.feed(m.SessionTold(self.now(), m.Session(session_id, b"", timeout)))

    def daemon_gone(self, status: int, said: int | None = None) -> None:
        """The daemon's process ended: `said` its exit code when it exited by itself."""
        if said is not None:
            self.feed(m.ExitSaid(self.now(), said, graceful=True))
        self.feed(m.PipeClosed(self.now()))
        self.feed(m.DaemonExited(self.now(), status))


class JobHandler(EffectHandler):
    """StartChild and StopChild, through the run's keeper (the real `Keeper`'s part)."""

    def __init__(self, run: Run, keeper: SimKeeper) -> None:
        self.proc = run
        self.keeper = keeper
        cfg = run.world.config
        self.deadline = keeper.grace + 5.0
        self.leases = LeaseKeeper(
            self._heartbeat,
            _FrozenWithTheDaemon(run),
            timeout=lambda: cfg.session_timeout,
            clock=run.now,
        )
        self.job: tuple[int, int, Reply] | None = None  # (request, token, reply)
        self.pid: int | None = None
        self.release: Callable[[], None] = lambda: None
        keeper.report = self._heard

    RUNS: ClassVar[Mapping[type[fx.Effect], str]] = {
        fx.StartChild: "_start",
        fx.StopChild: "_stop",
    }

    def _stop(self, effect: fx.StopChild) -> None:
        if self.pid == effect.pid:
            self.keeper.feed(m.StopAsked(self.proc.now()))

    def _start(self, effect: fx.StartChild) -> None:
        run = self.proc
        reply = Reply(run.deliver, ev.ChildStarted, effect.request, run.timers, self.deadline)
        self.job = (effect.request, effect.token, reply)
        spec = m.JobSpec(
            request=effect.request,
            token=effect.token,
            command=effect.command,
            grace=self.keeper.grace,
            lock=f"/sim/{run.replica.id}/job.lock",
            start_by=run.now() + self.deadline - 0.5,
        )
        self.keeper.feed(m.StartAsked(run.now(), spec))
        token = effect.token
        self.release = self.leases.hold(
            token,
            lambda until: self.keeper.feed(m.LeaseGranted(self.keeper.now(), token, until)),
        )

    def _heard(self, fields: dict[str, Any]) -> None:
        """A status line from the keeper (the daemon reads it when it runs)."""
        run = self.proc

        def take() -> None:
            kind = fields["type"]
            job = self.job
            if kind == "started" and job is not None and fields["request"] == job[0]:
                self.pid = int(fields["pid"])
                if not job[2].ok(pid=self.pid, started_at=float(fields["wall"])):
                    self.keeper.feed(m.StopAsked(run.now()))  # too late: nobody tracks it
            elif kind == "failed" and job is not None and fields["request"] == job[0]:
                self.release()
                self.job = None
                job[2].failed(str(fields["reason"]))
            elif kind == "lease-expired":
                run.deliver(ev.ChildLeaseExpired(pid=int(fields["pid"]), reason=fields["reason"]))
            elif kind == "exited":
                self.release()
                self.job, self.pid = None, None
                run.deliver(
                    ev.ChildExited(
                        pid=int(fields["pid"]),
                        code=int(fields["code"]),
                        signal=str(fields["signal"]),
                        ran_for=float(fields["ran_for"]),
                    )
                )

        run.when_running(take)

    def _heartbeat(self, token: int, answered: Callable[[Proof | None], None]) -> None:
        run = self.proc
        client, path = run.client, run.world.config.election_path
        sent = run.now()
        timeout = run.world.config.session_timeout

        def look(session: Any) -> Callable[[], object]:
            # Our own queue node (the adapter's is the node it last saw ours): of our
            # session, of the term's czxid.
            zk = run.world.zk
            ours = any(
                (node.czxid, node.owner) == (token, session.id)
                for name in zk.children(path) or ()
                if (node := zk.nodes.get(f"{path}/{name}")) is not None
            )
            return lambda: answered(Proof(sent, timeout) if ours else None)

        client.call(look, lambda why: answered(None))


class _FrozenWithTheDaemon:
    """The run's timers, holding their callbacks while the process is frozen: the lease's
    heartbeats are the daemon's, and a frozen daemon sends none."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def call_later(self, delay: float, callback: Callable[[], object]) -> Scheduled:
        return self.run.timers.call_later(delay, lambda: self.run.when_running(callback))

    def close(self) -> None:
        pass
