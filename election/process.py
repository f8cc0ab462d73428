"""Dying with the parent: a process of ours that must not outlive the one that started it
asks Linux for it (PR_SET_PDEATHSIG). The daemon's job wrapper
(`election.runtime.childwrap`) and `election-replay`'s forked folds both do, so it lives
beneath the shell and the tools alike. Standard library only."""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Final

__all__ = ["PR_SET_PDEATHSIG", "die_with_parent"]

PR_SET_PDEATHSIG: Final = 1


def die_with_parent(parent: int) -> bool:
    """Ask Linux to SIGKILL this process when its parent dies (where it can); False if
    the parent `parent` is already gone (it may have died before the request)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe/lock still guard the job
        pass
    return os.getppid() == parent
