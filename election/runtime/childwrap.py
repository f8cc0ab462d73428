"""`python -m election.runtime.childwrap PARENT_PID -- CMD ARGS…`: become CMD, but die
with the daemon.

It asks Linux to SIGKILL this process when its parent dies (PR_SET_PDEATHSIG, kept
across exec), checks the parent is still the daemon (it may have died before the
request), then execs the job. A wrapper instead of `preexec_fn`, which is unsafe in a
process with threads. The daemon spawns from one long-lived thread, since the death
signal follows the thread that forked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from election.process import die_with_parent


def wrapped(command: Sequence[str], parent: int | None = None) -> list[str]:
    """The command line that runs `command` through this wrapper, tied to `parent`
    (default: this process)."""
    parent = os.getpid() if parent is None else parent
    return [sys.executable, "-m", "election.runtime.childwrap", str(parent), "--", *command]


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(
            "usage: python -m election.runtime.childwrap PARENT_PID -- CMD [ARGS…]", file=sys.stderr
        )
        return 2
    parent, command = int(argv[0]), argv[2:]
    if not die_with_parent(parent):  # the daemon died before prctl took effect
        return 137
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"election: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
