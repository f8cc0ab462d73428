"""One writer per journal: the lock beside it (`journal.lock`)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from journal import JournalInUse, JournalLock
from journal.writer import journal_segments


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_the_lock_is_a_hidden_file_beside_the_journal_that_no_glob_of_it_matches(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "deep" / "r1.jsonl"
    lock = JournalLock(journal)
    lock.acquire()
    try:
        assert lock.path == tmp_path / "deep" / ".r1.jsonl.lock"
        assert lock.path.read_text() == f"{os.getpid()}\n"
        assert (lock.path.stat().st_mode & 0o777) == 0o600
        assert sorted(p.name for p in (tmp_path / "deep").glob("r1.jsonl*")) == []
        assert journal_segments(journal) == []  # never taken for a segment
    finally:
        lock.release()


def test_a_second_writer_is_refused_at_once_naming_the_first(tmp_path: Path) -> None:
    journal = tmp_path / "r1.jsonl"
    first = JournalLock(journal)
    first.acquire()
    try:
        with pytest.raises(JournalInUse) as refused:
            JournalLock(journal).acquire(wait_for_survivors=30)  # a live writer: no wait
        assert refused.value.holder == os.getpid() and refused.value.writer_alive
        assert str(refused.value) == (
            f"{journal} is in use: another process writes to it (pid {os.getpid()}); "
            "a journal has one writer"
        )
    finally:
        first.release()
    second = JournalLock(journal)
    second.acquire()  # free once the first let go
    second.release()


def test_the_same_file_by_another_name_is_the_same_lock(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    first = JournalLock(tmp_path / "real" / "r1.jsonl")
    first.acquire()
    try:
        with pytest.raises(JournalInUse):
            JournalLock(tmp_path / "link" / "r1.jsonl").acquire()
    finally:
        first.release()


def test_the_survivors_of_a_dead_writer_are_waited_for_then_refused(tmp_path: Path) -> None:
    # The writer died; processes it left (its companions) hold the inherited lock while
    # they finish: a restarted writer waits for them, a while.
    journal = tmp_path / "r1.jsonl"
    survivors = JournalLock(journal)
    survivors.acquire()
    dead = _dead_pid()
    os.pwrite(survivors.fileno(), f"{dead}\n".encode(), 0)
    with pytest.raises(JournalInUse) as refused:
        JournalLock(journal).acquire(wait_for_survivors=0.2)
    assert not refused.value.writer_alive
    assert f"the processes of its last writer (pid {dead}, gone) still hold it" in str(
        refused.value
    )
    done = threading.Timer(0.2, survivors.release)
    done.start()
    try:
        restarted = JournalLock(journal)
        restarted.acquire(wait_for_survivors=30)
        assert restarted.path.read_text() == f"{os.getpid()}\n"
        restarted.release()
    finally:
        done.join()
