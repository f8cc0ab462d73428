"""`run_daemon`: wires the loop, the adapters, the journal and the observers together.

This is the composition root (the seed's `main`): everything it wires is tested on its
own; this module is exercised by the end-to-end tests that run real processes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kazoo.client import KazooClient, KazooState

from election import __version__
from election.config import ConfigError, Settings, default_journal, format_address
from election.core.events import MemberPublished, Started
from election.core.record import Record
from election.core.state import StateName, initial_state
from election.flags import core_config_from_header
from election.keeper.records import record_path
from election.observe.http import HttpEndpoint, make_app
from election.observe.leader_news import LeaderNews
from election.observe.logs import LogObserver, setup_logging
from election.observe.lookout import LeaderLookout
from election.observe.metrics import Metrics
from election.observe.tui import LiveView, ReplicaView
from election.runtime import kazoo_private, signals
from election.runtime.connection_log import ConnectionLog
from election.runtime.filedir import FileDir
from election.runtime.journaling import JournalSink
from election.runtime.keeper import Keeper
from election.runtime.lease import LeaseKeeper
from election.runtime.loop import Inbox, JournalFailure, Loop, Observer
from election.runtime.timers import ThreadTimerService
from election.runtime.zookeeper import MemberFacts, ZooKeeperAdapter, make_client
from journal import JournalInUse, JournalLock, make_header

log = logging.getLogger("election.daemon")

EXIT_INTERNAL = 3
EXIT_CONFIG = 2  # as for any invalid flag (election.cli)


# The effect handlers the daemon wires, one per room; with the loop's own (timers, the
# exit) they run every effect type exactly once (tests/unit/test_effect_handlers.py).
EFFECT_HANDLERS = (ZooKeeperAdapter, FileDir, Keeper)

HEALTHY_WITHIN = 5.0  # seconds since the loop last made progress (it ticks every 0.5 s)


Probe = Callable[[], tuple[bool, str]]


def _probes(loop: Loop, trouble: Callable[[], str] = str) -> tuple[Probe, Probe, Probe]:
    """/healthz: the loop is alive; /readyz: connected and competing or leading (and,
    while not connected, why each server could not be reached: `trouble`); /leader:
    leading with a live session (a leader steps down the moment its session is
    suspended, so both hold together; the probe checks both all the same)."""

    def healthy() -> tuple[bool, str]:
        age = time.monotonic() - loop.last_progress
        return age < HEALTHY_WITHIN, f"loop progressed {age:.1f}s ago"

    def ready() -> tuple[bool, str]:
        state = loop.state  # an immutable value: safe to read from this thread
        ok = state.connected and state.name in (StateName.ATTEMPTER, StateName.LEADER)
        if state.connected:
            return ok, f"{state.name}, connected"
        why = trouble()
        return ok, f"{state.name}, not connected" + (f" ({why})" if why else "")

    def leading() -> tuple[bool, str]:
        state = loop.state
        ok = state.connected and state.name == StateName.LEADER
        detail = f"{state.name}, {'connected' if state.connected else 'not connected'}"
        return ok, detail + (f", token {state.token}" if ok else "")

    return healthy, ready, leading


def _refuse(flag: str, why: str) -> int:
    """A flag whose value cannot be used after all (a port taken, a journal we may not
    open): one line naming it and its variable, exit 2, as for any invalid value."""
    print(f"election: {ConfigError(flag, why)}", file=sys.stderr)
    return EXIT_CONFIG


def _journal_refusal(settings: Settings, exc: Exception) -> tuple[str, str]:
    """The flag to blame for a journal we may not write, and why. Its lock held by
    another process, with the journal the replica id's default: two replicas of one
    --replica-id, which is what the user typed."""
    if isinstance(exc, JournalInUse):
        if settings.journal == default_journal(settings.replica_id):
            journal = settings.journal
            return (
                "--replica-id",
                f"{settings.replica_id} is in use: its journal {journal}: {exc.why}",
            )
        return "--journal", str(exc)
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return "--journal", f"cannot open {settings.journal}: {strerror or exc}"


class _InUse:
    """An observer that catches the core's refusal of this replica's id: another live
    replica's session holds our member node (`MemberPublished.held_by`)."""

    def __init__(self) -> None:
        self.held_by = ""

    def __call__(self, record: Record) -> None:
        event = record.event
        if isinstance(event, MemberPublished) and event.held_by and record.changed:
            self.held_by = event.held_by

    def message(self, replica: str) -> str:
        return f"{replica} is in use by another live replica ({self.held_by})"


def _live_view(
    settings: Settings, observers: list[Observer], client: KazooClient
) -> LiveView | None:
    """With --tui on a terminal: the replica's live view, watching records, and who
    leads, read with our client beside the core (the lookout never feeds it)."""
    if not settings.tui:
        return None
    if not sys.stdout.isatty():
        log.warning("--tui needs a terminal on stdout; logging as usual")
        return None
    view = ReplicaView(
        replica=settings.replica_id,
        election_path=settings.election_path,
        zk_servers=settings.zk_servers,
        file_dir=settings.file_dir,
        capacity=settings.storage_capacity,
    )
    observers.append(view)
    return LiveView(view, lookout=LeaderLookout(client, settings.election_path))


def _announce_trouble(server: str, cause: str) -> None:
    """A server's new reason for not answering, said once (kazoo repeats it with every
    retry, once a second): a name that does not resolve may yet appear, so we retry."""
    if cause.startswith("cannot resolve "):
        log.warning(
            "ZooKeeper server %s does not resolve (%s); retrying: a DNS name may appear later",
            server,
            cause.partition(": ")[2],
        )
    else:
        log.warning("ZooKeeper server %s: %s; retrying", server, cause)


def _connection_log() -> tuple[logging.Logger, ConnectionLog]:
    """kazoo's private logger and its handler: each reason a server cannot be reached
    said once (until it changes, or a session is made), kazoo's other lines as before."""
    causes = ConnectionLog(announce=_announce_trouble, passthrough=logging.getLogger("kazoo"))
    logger = logging.Logger("election.kazoo", logging.INFO)  # outside the tree
    logger.addHandler(causes)
    return logger, causes


def _close_quickly(client: KazooClient, wait: float = 2.0) -> None:
    """Close the session (our node goes at once) without hanging on a dead server."""
    closer = threading.Thread(target=client.stop, daemon=True)
    closer.start()
    closer.join(wait)


def job_lock_path(settings: Settings) -> Path:
    """One lock file per election on this machine, whatever the replica: the jobs of
    every replica here hold it in turn, so two never run at once on one machine."""
    election = ",".join(sorted(settings.zk_servers)) + settings.election_path
    digest = hashlib.sha256(election.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"election-job-{digest}.lock"


def _tls_files(settings: Settings) -> dict[str, str | None] | None:
    """The TLS files the keeper needs to close our session (None: no TLS)."""
    tls = settings.zk_tls
    if tls is None:
        return None
    return {
        k: None if v is None else str(v)
        for k, v in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key))
    }


def _bind_endpoint(settings: Settings) -> HttpEndpoint | None:
    """The metrics endpoint, bound (it answers "starting" until it is given the app);
    None when off. Raises OSError for an address that cannot be bound."""
    if settings.metrics_address is None:
        return None
    host, port = settings.metrics_address
    return HttpEndpoint(host, port)


def _open_journal(settings: Settings, started_wall: float) -> JournalSink:
    header = make_header(
        replica=settings.replica_id,
        program=f"election {__version__}",
        started_wall=started_wall,
        config=settings.as_header_config(),
        host=socket.gethostname(),
        pid=os.getpid(),
    )
    return JournalSink(
        settings.journal, header, max_bytes=settings.journal_max_bytes, keep=settings.journal_keep
    )


def run_daemon(settings: Settings) -> int:
    """Run one replica until it is stopped; returns the process exit code."""
    setup_logging(settings.log_level, settings.log_format, settings.replica_id)
    # A job's lease is reckoned from the session timeout ZooKeeper grants, which only
    # kazoo's inside tells: without it every job would be stopped by its lease.
    missing = kazoo_private.check() if settings.exec_command else None
    if missing is not None:
        return _refuse("--exec", f"the job's lease cannot work with this kazoo: {missing}")
    # The two resources a flag names that only trying can check: bind the endpoint
    # first, then open the journal, so a refusal leaves nothing behind.
    try:
        endpoint = _bind_endpoint(settings)
    except OSError as exc:
        host, port = settings.metrics_address or ("", 0)
        return _refuse("--metrics-address", f"cannot listen on {host}:{port}: {exc.strerror}")
    started_wall = time.time()  # names this run: the keeper's records point to it
    # One writer per journal: its lock first (waiting, up to our own stop deadline, for
    # what is left of a dead writer: its companions finishing its work).
    lock = JournalLock(settings.journal)
    try:
        lock.acquire(wait_for_survivors=settings.stop_deadline)
        journal = _open_journal(settings, started_wall)
    except (OSError, JournalInUse) as exc:
        lock.release()
        if endpoint is not None:
            endpoint.close()
        return _refuse(*_journal_refusal(settings, exc))

    # The shell: every part puts its events into the loop's inbox.
    inbox = Inbox()
    timers = ThreadTimerService()
    kazoo_log, connection_trouble = _connection_log()
    client = make_client(
        settings.zk_servers,
        settings.session_timeout,
        auth=settings.zk_auth,
        tls=settings.zk_tls,
        logger=kazoo_log,
    )
    # The member node tells this beside the state the core publishes (`election top`).
    member = MemberFacts(
        replica=settings.replica_id, version=__version__, priority=settings.priority
    )
    if endpoint is not None and settings.metrics_address is not None:
        member.metrics_address = format_address(settings.metrics_address[0], endpoint.port)
    zookeeper = ZooKeeperAdapter(
        client,
        inbox.put,
        timers,
        deadline=settings.session_timeout,
        auth=settings.zk_auth,
        member=member,
        session_timeout=settings.session_timeout,
    )
    files = FileDir(
        settings.file_dir,
        inbox.put,
        timers,
        # A slow disk must not hold the leadership hostage for long.
        deadline=max(1.0, min(settings.leader_timeout, 10.0)),
        may_write=lambda: zookeeper.connected,
        mode=settings.file_mode,
    )
    # The job's lease: extended only after ZooKeeper answers a heartbeat (lease.py) that
    # reads our own queue node.
    leases = LeaseKeeper(
        zookeeper.heartbeat,
        timers,
        timeout=lambda: zookeeper.session_timeout,
    )
    # The keeper outlives this process: should it die, the keeper stops the job's group,
    # then closes the session so another replica leads at once (election.keeper).
    jobs = Keeper(
        inbox.put,
        timers,
        lock_path=job_lock_path(settings),
        env={
            "ELECTION_REPLICA": settings.replica_id,
            "ELECTION_ELECTION_PATH": settings.election_path,
        },
        # The lock may wait for an earlier job on this machine to finish its grace.
        start_deadline=settings.exec_grace + 5.0,
        grace=settings.exec_grace,
        leases=leases,
        config={
            "record": str(record_path(settings.journal)),
            "replica": settings.replica_id,
            "run": started_wall,
            "servers": list(settings.zk_servers),
            "tls": _tls_files(settings),
        },
    )
    jobs.start()

    def tell_keeper(state: str) -> None:  # kazoo's thread: a write to a pipe, no more
        client_id = client.client_id
        if state == KazooState.CONNECTED and client_id is not None:
            jobs.session(client_id[0], client_id[1], zookeeper.session_timeout)

    client.add_listener(tell_keeper)

    # The core and the loop around it; the observers watch its records.
    config = core_config_from_header(settings.as_header_config())
    metrics = Metrics(priority=settings.priority)
    # Who leads, told once per change while we wait (from the queue's names, no request).
    news = LeaderNews(replica=settings.replica_id)
    in_use = _InUse()
    observers: list[Observer] = [metrics, LogObserver(config), news, in_use]
    live_view = _live_view(settings, observers, client)
    loop = Loop(
        initial_state(config),
        inbox=inbox,
        journal=metrics.timed(journal),
        handlers=[zookeeper, files, jobs],  # EFFECT_HANDLERS
        timers=timers,
        observers=observers,
    )
    journal.follow(lambda: loop.state)  # a rotated segment starts with the loop's state
    if endpoint is not None:
        endpoint.serve(make_app(metrics.registry, *_probes(loop, connection_trouble.describe)))
        log.info(
            "metrics on http://%s:%d/metrics (and /healthz, /readyz, /leader)",
            settings.metrics_address[0] if settings.metrics_address else "",
            endpoint.port,
        )

    restore_signals = signals.install(inbox.put)
    log.info(
        "replica %s starting: zk=%s path=%s file-dir=%s journal=%s auth=%s tls=%s",
        settings.replica_id,
        ",".join(settings.zk_servers),
        settings.election_path,
        settings.file_dir,
        settings.journal,
        "none" if settings.zk_auth is None else settings.zk_auth.redacted,  # never the secret
        "on" if settings.zk_tls is not None else "off",
    )
    inbox.put(Started())
    if live_view is not None:
        live_view.start()
    graceful = False
    try:
        code = loop.run()
        graceful = True
    except JournalFailure as exc:
        log.critical("%s: exiting; the keeper closes the session so another replica can lead", exc)
        code = EXIT_INTERNAL
    except Exception:
        log.critical("internal error: exiting; the keeper closes the session", exc_info=True)
        code = EXIT_INTERNAL
    finally:
        if live_view is not None:
            live_view.close()
            setup_logging(settings.log_level, settings.log_format, settings.replica_id)
        restore_signals()
        # No job outlives its daemon: the keeper stops what is left of it and, once this
        # process has exited, closes the session (after a stop, it is closed already).
        if not jobs.close(code, graceful) and not graceful:
            _close_quickly(client)  # no keeper: the job was killed here; close it ourselves
        leases.close()
        files.close()
        timers.close()
        if endpoint is not None:
            endpoint.close()
        journal.close()
        lock.release()
    if code == EXIT_CONFIG and in_use.held_by:  # the core's refusal: one line, as for a flag
        _refuse("--replica-id", in_use.message(settings.replica_id))
    log.info("replica %s exits with %d", settings.replica_id, code)
    return code
