"""`election-init COMMAND [ARGS...]`: a container's first process, which lets the daemon's
keeper outlive the daemon.

When a container's PID 1 exits, the kernel kills every other process in the container at
once. A daemon that is PID 1 would take its keeper with it: the job would get SIGKILL
with no grace, and the session would wait to expire. So PID 1 is this small init instead,
in the manner of tini and dumb-init: it runs COMMAND as its child, passes the signals an
engine sends (SIGTERM on `docker stop`, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) to it,
and reaps every process handed to it. Unlike them it does not exit when COMMAND does: it
waits until no process is left — the keeper has stopped the job and closed the session —
and then exits with COMMAND's exit status (128 + N for signal N), at most `LINGER`
seconds later (then it kills what is left).

Standard library only, like the keeper.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import time

FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
LINGER = 60.0  # seconds the keeper may take once the daemon has exited
PR_SET_CHILD_SUBREAPER = 36


def _status_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def run(command: list[str]) -> int:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)

    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # PID 1 is every orphan's reaper already; elsewhere, ask to be the daemon's keeper's.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for sig in FORWARDED:
        signal.signal(sig, on_signal)
    try:
        main = os.posix_spawnp(command[0], command, dict(os.environ), setsigdef=FORWARDED)
    except OSError as exc:
        print(f"election-init: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    code: int | None = None
    give_up = float("inf")
    while True:
        while received:
            signum = received.pop(0)
            if code is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(main, signum)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # nobody left: the keeper is done too
                return code if code is not None else 0
            if pid == 0:
                break
            if pid == main:
                code = _status_code(status)
                give_up = time.monotonic() + LINGER
        if time.monotonic() >= give_up:
            print("election-init: processes left after the daemon: killing them", file=sys.stderr)
            _kill_the_rest()
            give_up = float("inf")
        timeout = None if give_up == float("inf") else max(0.0, give_up - time.monotonic())
        with contextlib.suppress(InterruptedError):
            select.select([wake_r], [], [], 1.0 if timeout is None else min(timeout, 1.0))
        with contextlib.suppress(BlockingIOError):
            while os.read(wake_r, 512):
                pass


def _kill_the_rest() -> None:
    """SIGKILL what is left: in a container (we are PID 1) every process in it; elsewhere
    only our own children (never -1: that is every process this user may signal)."""
    if os.getpid() == 1:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        return
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError, ValueError):
            with open(f"/proc/self/task/{task}/children") as f:
                children = [int(child) for child in f.read().split()]
            for child in children:
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    command = sys.argv[1:] if argv is None else argv
    if not command:
        print("usage: election-init COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run(command)


if __name__ == "__main__":
    sys.exit(main())
