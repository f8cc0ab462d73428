"""The keeper's record file: what a daemon's death left for `election-replay`.

Beside the journal `FILE`, the keeper appends to `FILE.keeper` (a journal has one writer
at a time: a daemon restarted at once must not append while its dead run's keeper does).
One JSON object a line, each naming the run it belongs to — `replica`, `host`, `daemon`
(the daemon's pid) and `run` (its journal header's `started_wall`) — and `wall`, the Unix
time it tells of:

    died          {code, signal, said, job, last_exit}   the daemon's process exited (or
                  its pipe closed first: `wall` is that first sign); `code` its exit code
                  (128 + N for signal N, `signal` its name), null when its parent collected
                  it before the keeper could read it; `said`: it told its code itself;
                  `job` {pid, token, started} the job running then, if any; `last_exit` the
                  last job that had ended, as the keeper reported it
    job-term      {pid, why, kill_in}    SIGTERM sent to the job's group
    job-kill      {pid}                  SIGKILL sent to what was left of it
    job-gone      {pid, code, signal, ran_for}   no process of the job is left
    session-closed {session, outcome, took}   `wall`: when the close was sent; `outcome`
                                         `closed`, `expired` (nothing was left to close)
                                         or `failed: why` (it expires by itself); `took`:
                                         seconds until the answer

Nothing is written for a graceful stop: the journal tells it all.
"""

from __future__ import annotations

from pathlib import Path

SUFFIX = ".keeper"
KINDS = ("died", "job-term", "job-kill", "job-gone", "session-closed")


def record_path(journal: Path) -> Path:
    """The keeper's record file of the journal `journal`."""
    return journal.with_name(journal.name + SUFFIX)


def is_record_line(obj: object) -> bool:
    """True for a decoded line of a keeper's record file."""
    return isinstance(obj, dict) and obj.get("keeper") == 1
