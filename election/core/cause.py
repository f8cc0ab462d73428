"""Why the state changed, as a kind: the reducer names one with every state change.

The journal records it beside the cause's text (`Record.why`, `Record.cause`); the
metrics label failovers by it, the logs carry it, and `election-replay` reads a term's
`end_cause` from it. Nothing re-derives it from the text or the event. (Journals from
before it are classified by the replay's old table, in one place:
`election_replay.causes`.)
"""

from __future__ import annotations

import enum


class Why(enum.StrEnum):
    # Into Attempter, Leader and Init: the election going its way.
    CHECKS_PASSED = "checks-passed"  # Init -> Attempter
    ELECTED = "elected"  # Attempter -> Leader
    REPAIRED = "repaired"  # Failover -> Init: what failed works again, the back-off is over
    # Out of Leader while the session lives: another replica should lead.
    HANDOVER = "handover"  # `election handover`: the leader steps aside
    PAUSE = "pause"  # `election pause`: the whole cluster stops working
    NODE_LOST = "node-lost"  # our queue node was deleted, or is no longer ours
    # Into Failover: something must be repaired, or the work failed.
    SESSION_SUSPENDED = "session-suspended"
    SESSION_LOST = "session-lost"
    CONNECT_FAILED = "connect-failed"
    FILE_DIR = "file-dir"  # file-dir's check failed
    ELECTION_PATH = "election-path"  # the election path could not be made
    INIT_DEADLINE = "init-deadline"  # Init's checks did not all pass in time
    SUPERSEDED = "superseded"  # a leader file of a newer term appeared in file-dir
    WRITE_FAILED = "write-failed"  # a leader file could not be written
    JOB_EXIT = "job-exit"  # the job exited, or could not start (then --exec-exit)
    LEASE = "lease"  # the job's lease ran out: its keeper stopped it
    # Into Stopping.
    STOP = "stop"  # SIGTERM or SIGINT
    ID_IN_USE = "id-in-use"  # another live replica holds our --replica-id
