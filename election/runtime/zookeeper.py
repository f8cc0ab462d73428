"""The ZooKeeper adapter: runs the core's ZooKeeper effects with kazoo, never blocking.

Every call is a kazoo `*_async` call whose result, or the passing of its deadline,
comes back as one event (see `Reply`). kazoo's listener and watch callbacks run on
kazoo's threads: they only put events on the loop's queue (and flip `connected`, which
the file writer reads as a last-moment gate).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    ConnectionLoss,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.protocol.states import KeeperState, WatchedEvent
from kazoo.security import (
    ACL,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_digest_acl,
    make_digest_acl_credential,
)

from election.control import ControlDataError, decode_handover, decode_pause
from election.core import effects as fx
from election.core import events as ev
from election.core.queue import parse_node
from election.observe.members import MemberRow, member_document, parse_member
from election.runtime import kazoo_private
from election.runtime.dispatch import EffectHandler
from election.runtime.incarnation import Incarnation, started
from election.runtime.lease import Answered, Proof
from election.runtime.replies import Put, Reply
from election.runtime.timers import TimerHandle, TimerService
from election.security import TlsFiles, ZkAuth

log = logging.getLogger("election.zookeeper")

_AUTH_LOG_EVERY = 30.0  # seconds between two "credential refused" error lines


def node_acl(auth: ZkAuth | None) -> list[ACL] | None:
    """The ACL of every node we create: ALL for our identity, READ for the world (so
    `election top` and operators can look). None without a credential: ZooKeeper's open
    ACL, as before."""
    if auth is None:
        return None
    if auth.scheme == "digest":
        user, _, password = auth.credential.partition(":")
        mine = make_digest_acl(user, password, all=True)
    else:  # ZooKeeper's `auth` id: every identity this session authenticated with
        mine = ACL(Permissions.ALL, Id("auth", ""))
    return [mine, *READ_ACL_UNSAFE]


def make_client(
    servers: tuple[str, ...],
    session_timeout: float,
    *,
    auth: ZkAuth | None = None,
    tls: TlsFiles | None = None,
    logger: logging.Logger | None = None,
) -> KazooClient:
    """A kazoo client that reconnects forever (our Failover decides what to do meanwhile)
    and never retries a command on its own (our reducer decides). With `auth` it
    authenticates on every connection and creates nodes with `node_acl(auth)`; with `tls`
    it speaks TLS, verifying the server's certificate and host name. `logger` takes
    kazoo's own log lines (an operator's command keeps them off the terminal)."""
    options: dict[str, Any] = {}
    if logger is not None:
        options["logger"] = logger
    if auth is not None:
        options["auth_data"] = [(auth.scheme, auth.credential)]
        options["default_acl"] = node_acl(auth)
    if tls is not None:
        options.update(
            use_ssl=True,
            verify_certs=True,
            check_hostname=True,
            ca=None if tls.ca is None else str(tls.ca),
            certfile=None if tls.cert is None else str(tls.cert),
            keyfile=None if tls.key is None else str(tls.key),
        )
    return KazooClient(
        hosts=",".join(servers),
        timeout=session_timeout,
        connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 2.0},
        command_retry=None,
        **options,
    )


def create_refusal(acls: list[ACL], auth: ZkAuth | None, path: str) -> str | None:
    """Why the ACL of `path` will refuse our create, or None when it may not (or when
    we cannot tell: ids of schemes other than world and digest are the server's call)."""
    mine = None
    if auth is not None and auth.scheme == "digest":
        user, _, password = auth.credential.partition(":")
        mine = make_digest_acl_credential(user, password)
        if user == "super":  # ZooKeeper's superDigest user passes every ACL check
            return None
    creators = []
    for acl in acls:
        if not acl.perms & Permissions.CREATE:
            continue
        scheme, ident = acl.id.scheme, acl.id.id
        if scheme == "world" or (scheme == "digest" and ident == mine):
            return None
        if scheme != "digest" or (auth is not None and auth.scheme != "digest"):
            return None  # ip, x509, sasl, ...: only the server can judge
        creators.append(f"digest:{ident.split(':', 1)[0]}")
    granted = ", ".join(sorted(set(creators))) or "no one"
    if auth is None:
        ours = "this replica has no credential (give --zk-auth or --zk-auth-file)"
    else:
        ours = f"this replica's credential {auth.redacted} is not among them (wrong password?)"
    return f"NoAuth: {path} lets only {granted} create nodes; {ours}"


@attrs.define
class MemberFacts:
    """What a member node tells beside the state: the shell's facts about this replica.
    `metrics_address` is set once the endpoint is bound (before the first publish)."""

    replica: str
    version: str
    host: str = attrs.field(factory=socket.gethostname)
    pid: int = attrs.field(factory=os.getpid)
    metrics_address: str | None = None
    priority: int = 1
    started: int | None = attrs.field(factory=lambda: started(os.getpid()))

    @property
    def incarnation(self) -> Incarnation:
        return Incarnation(host=self.host, pid=self.pid, started=self.started)


def _holder(row: MemberRow, session: int) -> str:
    """Who holds a member node, as a refusal names it: `host vm, pid 1234, session 0x1a`."""
    who = []
    if row.readable and row.host:
        who.append(f"host {row.host}")
    if row.readable and row.pid is not None:
        who.append(f"pid {row.pid}")
    who.append(f"session 0x{session:x}")
    return ", ".join(who)


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class ZooKeeperAdapter(EffectHandler):
    """Runs the core's ZooKeeper effects (`effects.ZOOKEEPER_EFFECTS`): each kazoo call
    asynchronous, each effect answered by exactly one event."""

    def __init__(
        self,
        client: KazooClient,
        put: Put,
        timers: TimerService,
        deadline: float,
        auth: ZkAuth | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        member: MemberFacts | None = None,
        session_timeout: float | None = None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._wall = wall
        self.member = member
        # What `client` asks for (by default, as kazoo keeps it).
        if session_timeout is None:
            session_timeout = kazoo_private.asked_timeout(client)
        self._asked_timeout = session_timeout
        self._negotiated: float | None = None  # what the server granted, once connected
        self._priorities: dict[str, int] = {}  # member -> its priority, as read once
        try:
            kazoo_private.watch_granted_timeout(client, self._negotiated_is)
        except kazoo_private.KazooIncompatible as exc:
            # Only a job's lease needs it, and `election run --exec` refuses to start
            # without it (daemon.py): a daemon without a job runs on.
            log.warning("the session timeout ZooKeeper grants stays unknown: %s", exc)
        self._auth = auth
        self._auth_failed = False  # ZooKeeper refused our credential: kazoo gave up
        self._last_auth_log = float("-inf")
        self._put = put
        self._timers = timers
        self._deadline = deadline
        self._started = False
        self._connect_replies: list[Reply] = []
        self._lock = threading.Lock()
        self.connected = False  # read by the file writer: no write while this is False
        # Our queue node as last seen ours (path, czxid): the lease's heartbeat reads it.
        self._own: tuple[str, int] | None = None
        # The proof of our session for the news of the node below ours (see `_watch`): the
        # node whose deletion we wait for as next in line, the probe that keeps the proof
        # fresh meanwhile, and the proof (when the latest answered `exists` of our own node
        # was sent).
        self._proving: str | None = None
        self._prover: TimerHandle | None = None
        self._proof: float | None = None
        client.add_listener(self._on_state)

    @property
    def session_timeout(self) -> float:
        """The session timeout the server granted (what we asked for, until one has)."""
        return self._asked_timeout if self._negotiated is None else self._negotiated

    def _negotiated_is(self, seconds: float) -> None:
        if seconds != self._negotiated:
            if abs(seconds - self._asked_timeout) > 0.001:
                log.warning(
                    "ZooKeeper granted a session timeout of %gs (asked: %gs)",
                    seconds,
                    self._asked_timeout,
                )
            self._negotiated = seconds

    # --- kazoo's thread: enqueue only ---------------------------------------------------

    def _on_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            self.connected = True
            session_id = self._client.client_id[0] if self._client.client_id else 0
            server = kazoo_private.peer(self._client)
            self._put(ev.SessionConnected(session_id=session_id, server=server))
            with self._lock:
                replies, self._connect_replies = self._connect_replies, []
            for reply in replies:
                reply.ok()
        elif state == KazooState.SUSPENDED:
            self.connected = False
            self._put(ev.SessionSuspended())
        elif state == KazooState.LOST:
            self.connected = False
            with self._lock:  # a new session proves nothing of the old one, nor it of it
                self._proof = None
                self._proving = None
            if self._client.client_state == KeeperState.AUTH_FAILED:
                # kazoo stops connecting after this; the next Connect starts it again.
                self._auth_failed = True
                self._log_auth_failed()
            self._put(ev.SessionLost())

    def _log_auth_failed(self) -> None:
        now = time.monotonic()
        if now - self._last_auth_log < _AUTH_LOG_EVERY:
            return
        self._last_auth_log = now
        scheme = self._auth.redacted if self._auth is not None else "(none)"
        log.error(
            "ZooKeeper refused our credential %s (AUTH_FAILED): check --zk-auth; "
            "waiting in Failover and retrying",
            scheme,
        )

    def _watch(self, event: WatchedEvent) -> None:
        # Stamped as it arrives: a loop that takes it much later (the process was frozen)
        # does not trust it (a deletion that may no longer make us next in line).
        arrived = self._clock()
        path, kind = event.path or "", str(event.type)
        own = self._own
        with self._lock:
            if path == self._proving:
                self._proving = None  # its watch is spent: the probe stops
            proof = self._proof
        if kind != "DELETED" or own is None or path == own[0] or _parent(path) != _parent(own[0]):
            self._put(ev.NodeWatchFired(path=path, kind=kind, answered_at=arrived))
            return
        # Another queue node went (the one below ours): the news goes on with a proof of our
        # session, so that the next in line may lead on it without a read of the queue. The
        # notification alone proves nothing (a process frozen past its session finds it
        # waiting when it wakes); an answer to a request sent at t does: ZooKeeper cannot
        # expire the session within its timeout from t. The probe's latest, if fresh (the
        # core judges it again when it takes the news); else one `exists` now.
        if proof is not None and arrived - proof < 2 * self._prove_every():
            self._put(ev.NodeWatchFired(path=path, kind=kind, answered_at=arrived, proven_at=proof))
            return

        def proved(asked: float | None) -> None:
            self._put(ev.NodeWatchFired(path=path, kind=kind, answered_at=arrived, proven_at=asked))

        self._prove_now(own, proved)

    def _prove_now(self, own: tuple[str, int], then: Callable[[float | None], None]) -> None:
        """`exists` of our own node (`own`: path, czxid); `then(t)` with the time it was
        sent when the answer names our node (the session was alive at `t`), else
        `then(None)` (the node is gone or another's, the request failed, or we are not
        connected)."""
        asked = self._clock()

        def answered(result: Any) -> None:
            stat = None if result.exception is not None else result.value
            then(asked if stat is not None and stat.czxid == own[1] else None)

        try:
            self._client.exists_async(own[0]).rawlink(answered)
        except Exception:  # not connected: no proof (the core reads the queue instead)
            then(None)

    def _prove_every(self) -> float:
        """A sixth of the session timeout (the shorter of asked and granted): the core
        trusts a proof for a third of the timeout it asked for."""
        granted = self._negotiated
        timeout = self._asked_timeout if granted is None else min(granted, self._asked_timeout)
        return timeout / 6

    def _keep_proving(self, path: str) -> None:
        """Next in line behind `path`: probe our session until its watch fires."""
        with self._lock:
            self._proving = path
            if self._prover is not None:
                return  # already probing
            self._prover = self._timers.call_later(self._prove_every(), self._probe)

    def _probe(self) -> None:
        """Timer thread: `exists` of our own node; its answer, of our node (czxid), is a
        proof sent now. Again after `_prove_every` while next in line and connected."""
        own = self._own
        with self._lock:
            if self._proving is None or own is None or not self.connected:
                self._prover = None
                return
            self._prover = self._timers.call_later(self._prove_every(), self._probe)

        def kept(asked: float | None) -> None:
            if asked is None:
                return
            with self._lock:
                if self._proof is None or asked > self._proof:
                    self._proof = asked

        self._prove_now(own, kept)

    # --- effects (loop thread) ---------------------------------------------------------

    RUNS: ClassVar[Mapping[type[fx.Effect], str]] = {
        fx.Connect: "_connect",
        fx.CloseSession: "_close",
        fx.EnsurePath: "_ensure_path",
        fx.CreateNode: "_create",
        fx.ReadNode: "_read",
        fx.ReadQueue: "_read_queue",
        fx.MarkNode: "_mark",
        fx.ReleaseNode: "_release",
        fx.PublishMember: "_publish",
        fx.ReadControl: "_read_control",
        fx.ReadMembers: "_read_members",
    }

    def heartbeat(self, token: int, answered: Answered) -> None:
        """The job's lease heartbeat: `sync`, then `exists` of our queue node; `answered`
        gets a `Proof` (sent at `t0`, on a session of the granted timeout) when the node is
        still the one of term `token` (czxid) and of this session (ephemeralOwner), else
        None. Exactly one call. `sync` first, so that the server that answers is in touch
        with ZooKeeper's leader (a server cut off from it would still answer a read)."""
        sent_at = self._clock()  # before the request leaves: the proof may only start earlier
        client_id = self._client.client_id
        granted = self._negotiated
        own = self._own
        if not self.connected or client_id is None or granted is None or own is None:
            answered(None)
            return
        path = own[0]
        session = client_id[0]
        once = threading.Lock()

        def answer(proof: Proof | None) -> None:
            if once.acquire(blocking=False):
                answered(proof)

        def looked(result: Any) -> None:
            try:
                stat = None if result.exception else result.value
                ours = stat is not None and (stat.czxid, stat.ephemeralOwner) == (token, session)
            except Exception:  # a bug here must still answer
                log.exception("heartbeat answer")
                ours = False
            now_granted = self._negotiated if self._negotiated is not None else granted
            answer(Proof(sent_at, min(granted, now_granted)) if ours else None)

        def synced(result: Any) -> None:
            if result.exception is not None:
                answer(None)
                return
            try:
                self._client.exists_async(path).rawlink(looked)
            except Exception:  # kazoo raises at once when the session is closed
                answer(None)

        try:
            self._client.sync_async(path).rawlink(synced)
        except Exception:
            answer(None)

    def _reply(self, make: Callable[..., ev.Event], request: int) -> Reply:
        return Reply(self._put, make, request, self._timers, self._deadline)

    def _connect(self, effect: fx.Connect) -> None:
        reply = self._reply(ev.ConnectResult, effect.request)
        if self.connected:
            reply.ok()
            return
        with self._lock:
            self._connect_replies.append(reply)
        if not self._started or self._auth_failed:
            self._started = True
            self._auth_failed = False
            try:
                self._client.start_async()
            except Exception as exc:  # e.g. a host name that does not resolve
                reply.failed(f"{type(exc).__name__}: {exc}")
        # Otherwise kazoo is already (re)connecting: the listener answers.

    def _close(self, effect: fx.CloseSession) -> None:
        reply = self._reply(ev.SessionClosed, effect.request)

        def close() -> None:
            try:
                self._client.stop()
                self._client.close()
            except Exception as exc:
                reply.failed(f"{type(exc).__name__}: {exc}")
            else:
                reply.ok()

        # stop() waits for kazoo's connection thread: not on the loop thread.
        threading.Thread(target=close, name="election-zk-close", daemon=True).start()

    def _ensure_path(self, effect: fx.EnsurePath) -> None:
        """Make the election path (the queue's parent) and its parents, and check that
        its ACL lets us create our node in it."""
        reply = self._reply(ev.PathEnsured, effect.request)
        path = effect.path

        def checked(result: Any) -> None:
            acls = None if result.exception else result.value[0]
            refusal = None if acls is None else create_refusal(acls, self._auth, path)
            if refusal is None:  # allowed, or we cannot tell: the create will say
                reply.ok()
            else:
                log.error("%s", refusal)
                reply.failed(refusal)

        def done(_: Any) -> None:
            # A path made by others may refuse us: say so now, clearly, and wait in
            # Failover, rather than fail every attempt with NoAuth.
            self._client.get_acls_async(path).rawlink(checked)

        self._call(reply, lambda: self._client.ensure_path_async(path), done)

    def _create(self, effect: fx.CreateNode) -> None:
        """Our queue node: ephemeral, sequential, named by the prefix the core gives
        (replica and session). Its answer names the node made and its czxid."""
        reply = self._reply(ev.NodeCreated, effect.request)
        data = effect.replica.encode()
        asked_at = self._clock()  # (the call goes out below)

        def done(result: Any) -> None:
            path, stat = result
            self._own = (path, stat.czxid)
            reply.ok(token=stat.czxid, path=path, answered_at=self._clock(), asked_at=asked_at)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):
                failure = ev.CreateFailure.NO_PARENT
            elif isinstance(exc, NoChildrenForEphemeralsError):
                failure = ev.CreateFailure.PARENT_EPHEMERAL  # a single-node leader's node
            elif isinstance(exc, ConnectionLoss | SessionExpiredError):
                failure = ev.CreateFailure.CONNECTION  # maybe made: the core looks first
            else:
                failure = ev.CreateFailure.OTHER
            reason = _describe(exc)
            if isinstance(exc, NoAuthError):
                reason = f"NoAuth: the ACL of {_parent(effect.path)} refuses our create"
                reason += " (check --zk-auth)"
            reply.failed(reason, failure=failure)

        self._call(
            reply,
            lambda: self._client.create_async(
                effect.path, data, ephemeral=True, sequence=True, include_data=True
            ),
            done,
            failed,
        )

    def _read(self, effect: fx.ReadNode) -> None:
        reply = self._reply(ev.NodeRead, effect.request)
        path = effect.path
        asked_at = self._clock()
        if effect.prove:
            self._keep_proving(path)
        client_id = self._client.client_id
        session = client_id[0] if client_id else None

        def done(stat: Any) -> None:
            if stat is None:
                reply.ok(exists=False, answered_at=self._clock(), asked_at=asked_at, path=path)
                return
            if (
                session is not None
                and stat.ephemeralOwner == session
                and parse_node(path.rsplit("/", 1)[-1])
            ):
                self._own = (path, stat.czxid)  # ours (found again after a create in doubt)
            reply.ok(
                exists=True,
                owner=stat.ephemeralOwner,
                token=stat.czxid,
                answered_at=self._clock(),
                asked_at=asked_at,
                path=path,
            )

        def failed(exc: BaseException) -> None:
            reply.failed(_describe(exc), path=path)

        self._call(reply, lambda: self._client.exists_async(path, watch=self._watch), done, failed)

    def _read_queue(self, effect: fx.ReadQueue) -> None:
        """The election path's children; watched only when the core asks (a head holding
        its place for one who may lead). A path that is gone is said so (`exists` false)."""
        reply = self._reply(ev.QueueRead, effect.request)
        asked_at = self._clock()

        def listed(children: list[str]) -> None:
            reply.ok(names=tuple(children), answered_at=self._clock(), asked_at=asked_at)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):
                reply.ok(exists=False, answered_at=self._clock(), asked_at=asked_at)
            else:
                reply.failed(_describe(exc))

        watch = self._queue_watch if effect.watch else None
        self._call(
            reply, lambda: self._client.get_children_async(effect.path, watch=watch), listed, failed
        )

    def _mark(self, effect: fx.MarkNode) -> None:
        """Write our node's data again (the replica id it holds): its version grows, and
        the watch of the candidate behind us fires."""
        reply = self._reply(ev.NodeMarked, effect.request)
        node = parse_node(effect.path.rsplit("/", 1)[-1])
        data = (node.replica if node is not None else "").encode()

        def done(_: Any) -> None:
            reply.ok()

        self._call(reply, lambda: self._client.set_async(effect.path, data), done)

    def _release(self, effect: fx.ReleaseNode) -> None:
        """Delete the node only if it is still the one of our term (its czxid), at the
        version we saw: a node created by someone else since is never deleted. A queue
        node named after our current session is ours by its name alone (a session makes
        one node at a time, and a name is never made twice): deleted in one round trip."""
        reply = self._reply(ev.NodeReleased, effect.request)

        def deleted(_: Any) -> None:
            reply.ok()

        def delete_failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):
                reply.ok(reason="already gone")
            else:
                reply.failed(_describe(exc))

        client_id = self._client.client_id
        node = parse_node(effect.path.rsplit("/", 1)[-1])
        if node is not None and client_id is not None and node.of_session(client_id[0]):
            self._call(
                reply, lambda: self._client.delete_async(effect.path), deleted, delete_failed
            )
            return

        def seen(stat: Any) -> None:
            if stat is None:
                reply.ok(reason="already gone")
            elif stat.czxid != effect.token:
                reply.ok(reason=f"node is another term's (czxid {stat.czxid})")
            else:
                self._call(
                    reply,
                    lambda: self._client.delete_async(effect.path, version=stat.version),
                    deleted,
                    delete_failed,
                )

        self._call(reply, lambda: self._client.exists_async(effect.path), seen)

    def _publish(self, effect: fx.PublishMember) -> None:
        """Make our member node show the effect's state: create it, or update it (making
        it again if someone deleted it). The answer names the session it was done on.

        A node of another session is replaced only when it is our own earlier run's (on
        this host, its process gone: restarted right after a crash, before that run's
        session expired); one held by a live replica, or one we cannot tell, is not
        touched: the answer fails with `held_by`, and this replica id is in use."""
        reply = self._reply(ev.MemberPublished, effect.request)
        client_id = self._client.client_id
        session = client_id[0] if client_id else None
        data = self._member_document(effect)
        path = effect.path
        took_over = False

        def done(_: Any) -> None:
            reply.ok(session_id=session)

        def create() -> None:
            self._call(
                reply,
                lambda: self._client.create_async(path, data, ephemeral=True, makepath=True),
                done,
                create_failed,
            )

        def create_failed(exc: BaseException) -> None:
            if isinstance(exc, NodeExistsError) and not took_over:
                self._call(reply, lambda: self._client.get_async(path), take_over, read_failed)
            else:
                reply.failed(_describe(exc))

        def read_failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):  # gone meanwhile
                create()
            else:
                reply.failed(_describe(exc))

        def take_over(found: Any) -> None:
            nonlocal took_over
            took_over = True
            held, stat = found
            if stat.ephemeralOwner == session:  # ours already (a create raced a reconnect)
                self._call(reply, lambda: self._client.set_async(path, data), done)
                return
            holder = parse_member(path.rsplit("/", 1)[-1], held)
            if self._replaceable(holder):  # an earlier run of ours: ours to replace
                self._call(
                    reply,
                    lambda: self._client.delete_async(path, version=stat.version),
                    lambda _: create(),
                    deleted_failed,
                )
            else:
                reply.failed(
                    "held by another live session", held_by=_holder(holder, stat.ephemeralOwner)
                )

        def deleted_failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):  # gone meanwhile: fine
                create()
            else:
                reply.failed(_describe(exc))

        def update_failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):  # someone deleted it: make it again
                create()
            else:
                reply.failed(_describe(exc))

        if effect.create:
            create()
        else:
            self._call(reply, lambda: self._client.set_async(path, data), done, update_failed)

    def _replaceable(self, holder: MemberRow) -> bool:
        """Whether a member node of another session, telling `holder`, was left by an
        earlier run of this replica that no longer runs (see `Incarnation`)."""
        if not holder.readable or holder.pid is None or self.member is None:
            return False
        left = Incarnation(host=holder.host, pid=holder.pid, started=holder.started)
        return left.replaceable_by(self.member.incarnation)

    def _queue_watch(self, event: WatchedEvent) -> None:
        self._put(ev.QueueChanged(path=event.path or ""))

    def _control_watch(self, event: WatchedEvent) -> None:
        self._put(ev.ControlChanged(path=event.path or "", kind=str(event.type)))

    def _members_watch(self, event: WatchedEvent) -> None:
        self._put(ev.MembersChanged(path=event.path or ""))

    def _read_control(self, effect: fx.ReadControl) -> None:
        """Read the pause node and the hand-over request, each with a watch (`get` when
        it exists, else `exists`, so its creation is heard of too)."""
        reply = self._reply(ev.ControlRead, effect.request)
        found: dict[str, bytes | None] = {}

        def read(path: str, then: Callable[[], None]) -> None:
            def got(result: Any) -> None:
                if result.exception is None:
                    found[path] = result.value[0]
                    then()
                elif isinstance(result.exception, NoNodeError):
                    self._call(
                        reply,
                        lambda: self._client.exists_async(path, watch=self._control_watch),
                        lambda stat: gone(path, stat, then),
                    )
                else:
                    reply.failed(_describe(result.exception))

            try:
                self._client.get_async(path, watch=self._control_watch).rawlink(got)
            except Exception as exc:
                reply.failed(_describe(exc))

        def gone(path: str, stat: Any, then: Callable[[], None]) -> None:
            if stat is None:
                found[path] = None
                then()
            else:  # made between our get and our exists: read it again
                read(path, then)

        def answer() -> None:
            reply.ok(**_control_fields(found[effect.pause_path], found[effect.handover_path]))

        read(effect.pause_path, lambda: read(effect.handover_path, answer))

    def _read_members(self, effect: fx.ReadMembers) -> None:
        """The member nodes that exist (their sessions live) and each one's priority;
        the list is watched, so a member coming or going is heard of."""
        reply = self._reply(ev.MembersRead, effect.request)

        def listed(children: list[str]) -> None:
            names = sorted(children)
            known = self._priorities
            for gone in set(known) - set(names):
                del known[gone]
            # A priority is a replica's flag: read each member's once, not on every change
            # of the list (with fifty replicas, fifty reads each, on every join); and not
            # at all for a queued one, whose queue node's name says it (the effect brings
            # them): a new head's read costs the listing alone, however long the queue.
            known.update((n, p) for n, p in effect.known if n in names)
            priorities: dict[str, int | None] = {n: known[n] for n in names if n in known}
            if len(priorities) == len(names):
                reply.ok(replicas=tuple(names), priorities=tuple(known[n] for n in names))
                return

            def got(name: str, result: Any) -> None:
                if isinstance(result.exception, NoNodeError):
                    priorities[name] = None  # gone meanwhile: not a member any more
                elif result.exception is not None:  # unread: counted as the default, not kept
                    priorities[name] = parse_member(name, None).priority
                else:
                    priorities[name] = known[name] = parse_member(name, result.value[0]).priority
                if len(priorities) == len(names):
                    live = [(n, p) for n in names if (p := priorities[n]) is not None]
                    reply.ok(
                        replicas=tuple(n for n, _ in live), priorities=tuple(p for _, p in live)
                    )

            for name in [n for n in names if n not in priorities]:
                path = f"{effect.path}/{name}"
                try:
                    self._client.get_async(path).rawlink(lambda r, name=name: got(name, r))
                except Exception as exc:
                    reply.failed(_describe(exc))
                    return

        def failed(exc: BaseException) -> None:
            if isinstance(exc, NoNodeError):
                # No member has made its node yet: watch for the first one's parent.
                self._call(
                    reply,
                    lambda: self._client.exists_async(effect.path, watch=self._members_watch),
                    lambda stat: listed([]) if stat is None else list_them(),  # made meanwhile
                )
            else:
                reply.failed(_describe(exc))

        def list_them() -> None:
            self._call(
                reply,
                lambda: self._client.get_children_async(effect.path, watch=self._members_watch),
                listed,
                failed,
            )

        list_them()

    def _member_document(self, effect: fx.PublishMember) -> bytes:
        facts = self.member or MemberFacts(replica=effect.path.rsplit("/", 1)[-1], version="")
        # `since` is monotonic, as the core knows time: the same moment on the wall clock.
        since = self._wall() - (self._clock() - effect.since)
        return member_document(
            replica=facts.replica,
            state=effect.state,
            since=since,
            token=effect.token,
            metrics=facts.metrics_address,
            host=facts.host,
            pid=facts.pid,
            version=facts.version,
            priority=facts.priority,
            started=facts.started,
        )

    def _call(
        self,
        reply: Reply,
        start: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Start an async kazoo call; route its result to `done` or `failed`."""

        def on_failure(exc: BaseException) -> None:
            if failed is not None:
                failed(exc)
            else:
                reply.failed(_describe(exc))

        def on_result(result: Any) -> None:
            exc = result.exception
            if exc is not None:
                on_failure(exc)
                return
            try:
                done(result.value)
            except Exception as error:  # a bug in a callback must still answer
                reply.failed(_describe(error))

        try:
            start().rawlink(on_result)
        except Exception as exc:  # kazoo raises at once when the session is closed
            on_failure(exc)


def _control_fields(pause: bytes | None, handover: bytes | None) -> dict[str, Any]:
    """`ControlRead`'s fields from the two nodes' data (None: the node does not exist).
    A pause node pauses whatever it holds; a request that cannot be read is not acted
    on (and said so in the log)."""
    fields: dict[str, Any] = {"paused": pause is not None}
    if pause is not None:
        try:
            p = decode_pause(pause)
            fields.update(paused_by=p.by, pause_reason=p.reason)
        except ControlDataError as exc:
            fields.update(paused_by="?", pause_reason=f"unreadable pause node: {exc}")
    if handover is not None:
        try:
            h = decode_handover(handover)
        except ControlDataError as exc:
            log.warning("a hand-over request that is not ours is ignored: %s", exc)
        else:
            fields.update(
                handover=h.id or "?",
                handover_leader=h.leader,
                handover_token=h.token,
                handover_to=h.to,
                handover_by=h.by,
            )
    return fields


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
