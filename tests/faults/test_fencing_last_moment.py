"""The storage-side fencing check must come at the last moment before the rename.

Found by the chaos soak: a leader frozen (SIGSTOP) in the middle of a write — after its
fencing check, inside the fsync of its temporary file — and resumed after its session
expired and the successor's first file landed, published a file of its old token after
that newer file (`election-replay`: older-token-file-after-newer). kazoo still reports
"connected" for a moment after SIGCONT, so the connection gate does not stop it; looking
at file-dir again right before the rename does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from election.core import effects as fx
from election.core.leaderfiles import leader_file_name, parse_leader_file_name
from election.runtime.filedir import FileDir
from election.runtime.timers import ThreadTimerService

OLD, NEW = 7, 9


def test_a_newer_term_landing_during_our_fsync_stops_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timers = ThreadTimerService()
    files = FileDir(tmp_path / "files", lambda e: None, timers, deadline=5.0)
    files.check()
    real_fsync = os.fsync
    landed: list[str] = []

    def frozen_fsync(fd: int) -> None:
        # While we are "frozen" in the fsync of our temporary file, the next term's
        # leader writes its first file.
        if not landed:
            newer = leader_file_name(NEW, 1)
            (files.path / newer).write_text('{"token": 9}')
            landed.append(newer)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", frozen_fsync)
    try:
        result = files.write(fx.WriteLeaderFile(request=1, token=OLD, seq=5, replica="r0"))
    finally:
        files.close()
        timers.close()

    assert landed, "the fake fsync never ran"
    assert result.get("newer_token") == NEW, result
    names = os.listdir(files.path)
    tokens = [p[0] for n in names if (p := parse_leader_file_name(n)) is not None]
    assert tokens == [NEW], names  # nothing of the old term was published
    assert names == [landed[0]], names  # and no temporary file was left behind
