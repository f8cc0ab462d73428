"""The lines between a daemon and its keeper: one JSON object a line, tagged by "type".

Daemon → keeper (the keeper's stdin):

    session {id, password, timeout}   the daemon's ZooKeeper session (password in hex),
                                      sent on every new session; nowhere else is it written
    start {request, token, command, env, grace, lock, start_by}
                                      start the job of term `token` (`start_by` monotonic)
    lease {token, until}              ZooKeeper proved term `token`'s node ours until `until`
    stop                              end of the term: SIGTERM now, SIGKILL after the grace
    kill                              SIGKILL now (the daemon is exiting in a hurry)
    exit {code, graceful}             the daemon exits with `code`; `graceful`: its reducer
                                      decided it (a stop), not an internal error

Keeper → daemon (the keeper's stdout):

    started {request, pid, wall}      the job runs as `pid`, leader of its own group;
                                      `wall`: the instant `ran_for` counts from
    failed {request, reason}          the job was not started
    lease-expired {pid, reason}       SIGTERM sent because the lease ran out
    output {pid, stream, line}        one line the job wrote
    exited {pid, code, signal, ran_for}   the job and every process of its group are gone

Monotonic times are the machine's clock (CLOCK_MONOTONIC), shared by both processes.
"""

from __future__ import annotations

import json
from typing import Any

CONTROL = ("session", "start", "lease", "stop", "kill", "exit")
STATUS = ("started", "failed", "lease-expired", "output", "exited")


def encode(kind: str, **fields: Any) -> bytes:
    """One line of the protocol."""
    return (json.dumps({"type": kind, **fields}, separators=(",", ":")) + "\n").encode()


def decode(line: bytes) -> dict[str, Any] | None:
    """A line's object, or None for a line that is not one."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) and "type" in message else None
