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
from election.core.record import Record

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


def setup_logging(level: str, fmt: str, replica: str = "") -> None:
    """Configure the root logger for `--log-level` and `--log-format`."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler
    if fmt == "json":
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(JsonFormatter())
        handler = stream
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        console = Console(stderr=True, width=160 if not sys.stderr.isatty() else None)
        handler = RichHandler(
            console=console,
            show_path=False,
            markup=False,
            log_time_format="%H:%M:%S",
        )
        prefix = f"[{replica}] " if replica else ""
        handler.setFormatter(logging.Formatter(prefix + "%(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("kazoo").setLevel(max(logging.WARNING, root.level))


def _fields(record: Record) -> dict[str, Any]:
    return {"seq": record.seq, "state": record.state, "event": type(record.event).__name__}


class LogObserver:
    """Turns records into log lines."""

    def __call__(self, record: Record) -> None:
        event = record.event
        extra = {"fields": _fields(record)}
        if record.changed:
            token = f" token={record.token}" if record.token is not None else ""
            extra["fields"].update(previous=record.previous, cause=record.cause)
            log.info(
                "%s -> %s (%s)%s", record.previous, record.state, record.cause, token, extra=extra
            )
        if isinstance(event, ev.SessionConnected):
            log.info(
                "ZooKeeper session 0x%x connected %s", event.session_id, event.server, extra=extra
            )
        elif isinstance(event, ev.SessionSuspended):
            log.warning("ZooKeeper connection lost: session suspended", extra=extra)
        elif isinstance(event, ev.SessionLost):
            log.warning("ZooKeeper session lost (expired or closed)", extra=extra)
        elif isinstance(event, ev.StopRequested):
            log.info("%s received: stopping", event.signal, extra=extra)
        elif isinstance(event, ev.FileWritten) and event.outcome is ev.Outcome.OK:
            log.info("wrote %s", event.name, extra=extra)
        elif isinstance(event, ev.FilesPruned) and event.removed:
            log.info("pruned %d old file(s)", event.removed, extra=extra)
        elif isinstance(event, ev.NodeWatchFired):
            log.debug("watch fired: %s %s", event.kind, event.path, extra=extra)
        outcome = getattr(event, "outcome", None)
        if isinstance(event, ev.NodeCreated) and event.failure is ev.CreateFailure.NODE_EXISTS:
            log.debug("election node is held by another replica", extra=extra)
        elif outcome is not None and outcome is not ev.Outcome.OK:
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
