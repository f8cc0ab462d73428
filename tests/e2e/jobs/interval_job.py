"""A job for the --exec tests: records when it runs, under which token, until stopped.

Appends `start|beat|end TOKEN PID WALL` lines to the file named by $JOB_LOG (one
O_APPEND write each, so lines of concurrent jobs never interleave): `start` once, `beat`
every 20 ms while it runs, `end` when SIGTERM arrives (a SIGKILL leaves no `end`; its
last `beat` bounds when it ran).
"""

import os
import signal
import sys
import time

LOG = os.environ["JOB_LOG"]
TOKEN = os.environ["ELECTION_TOKEN"]


def note(kind: str) -> None:
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{kind} {TOKEN} {os.getpid()} {time.time():.6f}\n".encode())
    finally:
        os.close(fd)


def stop(signum: int, frame: object) -> None:
    note("end")
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
note("start")
deadline = time.monotonic() + float(os.environ.get("JOB_SECONDS", "600"))
while time.monotonic() < deadline:
    note("beat")
    time.sleep(0.02)
note("end")
sys.exit(int(os.environ.get("JOB_EXIT", "0")))
