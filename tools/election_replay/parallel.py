"""Fold journals in forked processes, one journal to a process, at most N at once.

A journal is one sequential fold, so it is the unit of work. Each child folds its
journal and sends the summary (or the exception) back through a pipe; the parent keeps
the order of the journals, and raises the first error in that order, as one process
folding them one after another would. Ctrl-C reaches the whole process group: the
children ignore it and the parent stops them. A child that dies without an answer (OOM
killer, SIGKILL) is an error naming its journal, never a hang; children die with the
parent (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import TypeVar, cast

from election.process import die_with_parent

W = TypeVar("W")
R = TypeVar("R")


class ChildDied(Exception):
    """A child process ended without sending its result."""


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def run_forked(
    work: Callable[[W], R], items: Sequence[W], processes: int, name: Callable[[W], str]
) -> list[R]:
    """`[work(item) for item in items]`, each call in a forked child, `processes` at once."""
    context = multiprocessing.get_context("fork")
    # Per item: (True, its result) or (False, what it raised); None until it is known.
    outcomes: list[tuple[bool, object] | None] = [None] * len(items)
    running: dict[Connection, tuple[int, multiprocessing.process.BaseProcess]] = {}
    waiting = list(range(len(items)))[::-1]  # popped from the end: the first item first
    try:
        while waiting or running:
            while waiting and len(running) < processes:
                index = waiting.pop()
                receive, send = context.Pipe(duplex=False)
                child = context.Process(
                    target=_child, args=(work, items[index], send, os.getpid()), daemon=True
                )
                child.start()
                send.close()  # the child's end: EOF here once the child is gone
                running[receive] = (index, child)
            for ready in wait(list(running)):
                assert isinstance(ready, Connection)
                index, done = running.pop(ready)
                try:
                    outcomes[index] = ready.recv()
                except EOFError:
                    done.join()
                    outcomes[index] = (
                        False,
                        ChildDied(
                            f"{name(items[index])}: the process folding it ended without a "
                            f"result (exit code {done.exitcode})"
                        ),
                    )
                ready.close()
                done.join()
    finally:
        for receive, (_, left) in running.items():  # interrupted: stop the rest
            left.terminate()
            left.join()
            receive.close()
    results = []
    for outcome in outcomes:
        assert outcome is not None
        ok, value = outcome
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        results.append(cast(R, value))
    return results


def _child(work: Callable[[W], R], item: W, send: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if not die_with_parent(parent):
        return
    outcome: tuple[bool, object]
    try:
        outcome = (True, work(item))
    except Exception as exc:  # raised in the parent, in the order of the items
        outcome = (False, exc)
    send.send(outcome)
    send.close()
