"""Logging: set-up (rich text or JSON lines) and the observer that tells the story.

The observer reads records; it never feeds the core. What it says at info level is
what an engineer wants at 3 a.m.: every transition with its cause, every session
change, every failed or unknown outcome, every leader file.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from election.core import events as ev
from election.core.effects import StartTimer
from election.core.record import Record
from election.core.state import CoreConfig, Timer

log = logging.getLogger("election")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _handler(fmt: str, replica: str) -> logging.Handler:
    prefix = f"[{replica}] " if replica else ""
    if fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        return handler
    if not sys.stderr.isatty():  # a file or a pipe: plain lines, no padding
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)-7s {prefix}%(message)s"))
        return handler
    from rich.console import Console
    from rich.logging import RichHandler

    rich = RichHandler(
        console=Console(stderr=True), show_path=False, markup=False, log_time_format="%H:%M:%S"
    )
    rich.setFormatter(logging.Formatter(prefix + "%(message)s"))
    return rich


def setup_logging(level: str, fmt: str, replica: str = "") -> None:
    """Configure the root logger for `--log-level` and `--log-format` (text is rich on a
    terminal, plain lines otherwise; json is one object per line)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(_handler(fmt, replica))
    root.setLevel(level.upper())
    # kazoo's own chatter only when it matters; our records tell the session story.
    logging.getLogger("kazoo").setLevel(max(logging.WARNING, root.level))


def _fields(record: Record) -> dict[str, Any]:
    return {"seq": record.seq, "state": record.state, "event": type(record.event).__name__}


_NEXT_TRY = {
    Timer.RETRY.value: "competing again",
    Timer.CHILD_RESTART.value: "restarting it",
}


def _next_try(record: Record) -> str | None:
    """After a job's end: "competing again in 0.5s" when the record gave up the term
    (release), "restarting it in 0.5s" when it restarts the job in place; else None."""
    for effect in record.effects:
        if isinstance(effect, StartTimer) and effect.name in _NEXT_TRY:
            ends_term = record.previous == "Leader" and record.state == "Failover"
            if ends_term or effect.name == Timer.CHILD_RESTART.value:
                return f"{_NEXT_TRY[effect.name]} in {effect.delay:g}s"
    return None


class LogObserver:
    """Turns records into log lines. A job failure (the job exited within the reducer's
    `job_healthy_after`, or did not start, and a wait follows) is a warning naming the
    exit and the wait; `config` is the reducer's, whose judge of a job's exit it uses."""

    def __init__(self, config: CoreConfig | None = None) -> None:
        self._job_failed = (config or CoreConfig(replica="", election_path="")).job_failed

    def __call__(self, record: Record) -> None:
        event = record.event
        extra = {"fields": _fields(record)}
        told = False  # a failed outcome already explained by its own warning
        if isinstance(event, ev.SessionConnected):
            log.info(
                "ZooKeeper session 0x%x connected %s", event.session_id, event.server, extra=extra
            )
        elif isinstance(event, ev.SessionSuspended):
            log.warning("ZooKeeper connection lost: session suspended", extra=extra)
        elif isinstance(event, ev.SessionLost) and record.state == "Stopping":
            log.info("ZooKeeper session closed", extra=extra)
        elif isinstance(event, ev.SessionLost):
            log.warning("ZooKeeper session lost (expired or closed)", extra=extra)
        elif isinstance(event, ev.StopRequested):
            log.info("%s received: stopping", event.signal, extra=extra)
        elif isinstance(event, ev.FileWritten) and event.outcome is ev.Outcome.OK:
            log.info("wrote %s", event.name, extra=extra)
        elif isinstance(event, ev.FilesPruned) and event.removed:
            log.info("pruned %d old file(s)", event.removed, extra=extra)
        elif isinstance(event, ev.ChildStarted) and event.outcome is ev.Outcome.OK:
            log.info("job started: pid %s", event.pid, extra=extra)
        elif isinstance(event, ev.ChildStarted) and (next_try := _next_try(record)):
            why = f"{event.outcome}: {event.reason}" if event.reason else str(event.outcome)
            log.warning("job did not start (%s); %s", why, next_try, extra=extra)
            told = True
        elif isinstance(event, ev.ChildExited):
            how = f"signal {event.signal}" if event.signal else f"code {event.code}"
            next_try = _next_try(record)
            if next_try and self._job_failed(event.ran_for):
                log.warning(
                    "job pid %d failed: exited with %s after %.1fs; %s",
                    event.pid,
                    how,
                    event.ran_for,
                    next_try,
                    extra=extra,
                )
            else:
                log.info(
                    "job pid %d exited with %s after %.1fs",
                    event.pid,
                    how,
                    event.ran_for,
                    extra=extra,
                )
        elif isinstance(event, ev.ChildLeaseExpired):
            log.warning(
                "job pid %d: its lease ran out (%s): its keeper sent SIGTERM, SIGKILL "
                "follows at the lease's end",
                event.pid,
                event.reason,
                extra=extra,
            )
        elif isinstance(event, ev.NodeWatchFired):
            log.debug("watch fired: %s %s", event.kind, event.path, extra=extra)
        if record.changed:
            token = f" token={record.token}" if record.token is not None else ""
            # A new dict: the event's line (maybe still unformatted in a handler) keeps its own.
            fields = {
                **extra["fields"],
                "previous": record.previous,
                "cause": record.cause,
                "why": record.why,
            }
            extra = {"fields": fields}
            log.info(
                "%s -> %s (%s)%s", record.previous, record.state, record.cause, token, extra=extra
            )
        outcome = getattr(event, "outcome", None)
        if isinstance(event, ev.NodeCreated) and event.failure is ev.CreateFailure.PARENT_EPHEMERAL:
            log.warning(
                "the election path is the node of a leader of the single-node protocol "
                "(an older release, mid-upgrade): queueing once it is gone",
                extra=extra,
            )
        elif outcome is not None and outcome is not ev.Outcome.OK and not told:
            log.warning(
                "%s %s: %s",
                type(event).__name__,
                outcome,
                getattr(event, "reason", ""),
                extra=extra,
            )
        elif outcome is not None:
            log.debug("%s ok", type(event).__name__, extra=extra)
        for effect in record.effects:
            log.debug("effect %r", effect, extra=extra)
