"""A job with a family, for the lease tests: it checks the promise from the job's side.

Run as the worker of a shell job (`sh -c 'python family_job.py & wait'`, the usual
shape) or directly. At its start it looks through /proc for any live process of
another term's job of the same test (same $FAMILY_MARK in its environment, another
$ELECTION_TOKEN, `family_job.py` on its command line) and records what it found; then
it starts one child of its own (FAMILY_CHILD=1 unless $FAMILY_CHILDREN is 0) and both
beat every 20 ms until stopped.

Lines appended to $FAMILY_LOG (one O_APPEND write each, so lines never interleave):
    start  TOKEN PID WALL OTHERS   OTHERS: "-" or comma-separated TOKEN:PID of other terms
    child  TOKEN PID WALL
    beat   TOKEN PID WALL
    term   TOKEN PID WALL          SIGTERM arrived ($FAMILY_IGNORE_TERM=1: and was ignored)
"""

import os
import signal
import subprocess
import sys
import time

LOG = os.environ["FAMILY_LOG"]
MARK = os.environ["FAMILY_MARK"]
TOKEN = os.environ.get("ELECTION_TOKEN", "0")
IGNORE_TERM = os.environ.get("FAMILY_IGNORE_TERM") == "1"
ME = os.path.basename(__file__).encode()


def note(kind: str, extra: str = "") -> None:
    line = f"{kind} {TOKEN} {os.getpid()} {time.time():.6f}{' ' + extra if extra else ''}\n"
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def others() -> list[str]:
    """Live processes of another term's job of this test."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            # The job's shell, worker or child; not the daemon (whose --exec names this
            # script, later on its command line).
            if not any(ME in word for word in argv[:3]):
                continue
            with open(f"/proc/{name}/environ", "rb") as f:
                env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state in (b"Z", b"X"):
            continue  # dead, not yet reaped
        token = env.get(b"ELECTION_TOKEN", b"").decode()
        if env.get(b"FAMILY_MARK", b"").decode() == MARK and token and token != TOKEN:
            found.append(f"{token}:{name}")
    return found


def on_term(signum: int, frame: object) -> None:
    note("term")
    if not IGNORE_TERM:
        sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
if os.environ.get("FAMILY_CHILD") == "1":
    note("child")
else:
    note("start", ",".join(others()) or "-")
    if os.environ.get("FAMILY_CHILDREN", "1") != "0":
        subprocess.Popen([sys.executable, __file__], env={**os.environ, "FAMILY_CHILD": "1"})
deadline = time.monotonic() + float(os.environ.get("FAMILY_SECONDS", "600"))
while time.monotonic() < deadline:
    note("beat")
    time.sleep(0.02)
