"""The file-dir adapter on real temporary directories: checks, atomic leader files,
fencing by token, the session gate, and pruning that spares foreign files and symlinks."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from election.core import effects as fx
from election.core import events as ev
from election.core.events import Outcome
from election.core.leaderfiles import TEMP_PREFIX, leader_file_name
from election.runtime.filedir import FileDir, NotConnected
from election.runtime.timers import FakeTimerService

WALL = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z
REPLICA = "r1"
WAIT = 3.0


class Adapter:
    """A FileDir answering onto a queue, with a fake timer service (no deadline fires
    unless a test advances it) and a switch for the session gate."""

    def __init__(self, path: Path, deadline: float = 5.0) -> None:
        self.events: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
        self.timers = FakeTimerService()
        self.connected = True
        self.gate: Callable[[], bool] = lambda: self.connected
        self.files = FileDir(
            path,
            self.events.put,
            self.timers,
            deadline,
            may_write=lambda: self.gate(),
            wall=lambda: WALL,
        )

    def answer(self, effect: fx.Effect) -> ev.Event:
        """Run `effect` through the handler and wait (bounded) for its one answer."""
        self.files.run(effect)
        event = self.events.get(timeout=WAIT)
        assert self.events.empty(), "more than one answer"
        return event

    def write(self, token: int, seq: int) -> ev.Event:
        return self.answer(fx.WriteLeaderFile(request=seq, token=token, seq=seq, replica=REPLICA))


@pytest.fixture
def adapter(tmp_path: Path) -> Iterator[Adapter]:
    a = Adapter(tmp_path / "files")
    a.files.check()
    yield a
    a.files.close()


def names(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def make_ours(directory: Path, token: int, seqs: range) -> list[str]:
    made = []
    for seq in seqs:
        name = leader_file_name(token, seq)
        (directory / name).write_text("{}")
        made.append(name)
    return made


# --- check ------------------------------------------------------------------------------


def test_check_makes_a_missing_file_dir_with_its_parents(tmp_path: Path) -> None:
    a = Adapter(tmp_path / "deep" / "files")
    try:
        answer = a.answer(fx.CheckFileDir(request=1))
    finally:
        a.files.close()
    assert answer == ev.FileDirChecked(request=1, outcome=Outcome.OK)
    assert (tmp_path / "deep" / "files").is_dir()


def test_check_fails_when_file_dir_is_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "files").write_text("not a directory")
    a = Adapter(tmp_path / "files")
    try:
        answer = a.answer(fx.CheckFileDir(request=2))
    finally:
        a.files.close()
    assert isinstance(answer, ev.FileDirChecked)
    assert answer.outcome is Outcome.FAILED
    assert answer.reason.startswith("EEXIST")


def test_check_fails_on_a_read_only_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "files"
    target.mkdir()
    target.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere: pretend access(2) says no
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda p, mode, **kw: False if Path(p) == target else real_access(p, mode, **kw),
        )
    a = Adapter(target)
    try:
        answer = a.answer(fx.CheckFileDir(request=3))
    finally:
        a.files.close()
        target.chmod(0o755)
    assert answer == ev.FileDirChecked(
        request=3, outcome=Outcome.FAILED, reason="EACCES: not writable"
    )


def test_check_refuses_a_symlinked_file_dir(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "files").symlink_to(real)
    a = Adapter(tmp_path / "files")
    try:
        answer = a.answer(fx.CheckFileDir(request=4))
    finally:
        a.files.close()
    assert isinstance(answer, ev.FileDirChecked)
    assert answer.outcome is Outcome.FAILED


# --- write ------------------------------------------------------------------------------


def test_write_publishes_one_complete_json_file_and_no_temp_file(adapter: Adapter) -> None:
    answer = adapter.write(token=77, seq=3)
    name = leader_file_name(77, 3)
    assert answer == ev.FileWritten(request=3, outcome=Outcome.OK, name=name, published_at=WALL)
    assert names(adapter.files.path) == [name]
    content = json.loads((adapter.files.path / name).read_text())
    assert {k: content[k] for k in ("replica", "token", "seq")} == {
        "replica": REPLICA,
        "token": 77,
        "seq": 3,
    }
    assert content["written_at"] == "2023-11-14T22:13:20.250Z"
    parsed = dt.datetime.fromisoformat(content["written_at"].replace("Z", "+00:00"))
    assert parsed.timestamp() == WALL


def test_published_at_is_read_once_the_file_is_visible(tmp_path: Path) -> None:
    # The replay dates a file by it: read before the rename, a freeze between would
    # hide a file published late; read after the journal append, a freeze there would
    # make a file published in time look late.
    directory = tmp_path / "files"
    name = leader_file_name(7, 1)
    readings: list[tuple[float, bool]] = []

    def wall() -> float:
        readings.append((WALL + len(readings), (directory / name).exists()))
        return readings[-1][0]

    files = FileDir(directory, lambda e: None, FakeTimerService(), 5.0, wall=wall)
    files.check()
    readings.clear()
    try:
        answer = files.write(fx.WriteLeaderFile(request=1, token=7, seq=1, replica=REPLICA))
    finally:
        files.close()
    visible_at = [at for at, visible in readings if visible]
    assert answer == {"name": name, "published_at": visible_at[0]}
    assert [visible for _, visible in readings] == [False, True]  # written_at, published_at


def test_written_file_is_mode_0644_even_under_a_strict_umask(adapter: Adapter) -> None:
    old = os.umask(0o077)
    try:
        adapter.write(token=5, seq=1)
    finally:
        os.umask(old)
    mode = stat.S_IMODE((adapter.files.path / leader_file_name(5, 1)).stat().st_mode)
    assert mode == 0o644


def test_write_refused_with_newer_token_when_a_higher_token_file_exists(
    adapter: Adapter,
) -> None:
    make_ours(adapter.files.path, token=900, seqs=range(1, 2))
    answer = adapter.write(token=50, seq=1)
    assert answer == ev.FileWritten(
        request=1, outcome=Outcome.FAILED, newer_token=900, reason="file-dir holds token 900"
    )
    assert names(adapter.files.path) == [leader_file_name(900, 1)]


def test_write_allowed_next_to_files_of_our_own_and_older_tokens(adapter: Adapter) -> None:
    make_ours(adapter.files.path, token=10, seqs=range(1, 3))
    make_ours(adapter.files.path, token=50, seqs=range(1, 2))
    answer = adapter.write(token=50, seq=2)
    assert isinstance(answer, ev.FileWritten) and answer.outcome is Outcome.OK


def test_write_refused_when_session_dropped(adapter: Adapter) -> None:
    adapter.connected = False
    answer = adapter.write(token=5, seq=1)
    assert answer == ev.FileWritten(
        request=1, outcome=Outcome.FAILED, reason="session not connected: write refused"
    )
    assert names(adapter.files.path) == []  # neither the file nor its temporary
    assert adapter.files.written == 0


def test_write_gate_raises_not_connected_on_the_direct_path(adapter: Adapter) -> None:
    adapter.connected = False
    with pytest.raises(NotConnected):
        adapter.files.write(fx.WriteLeaderFile(request=1, token=5, seq=1, replica=REPLICA))
    assert not [n for n in names(adapter.files.path) if n.startswith(TEMP_PREFIX)]


def test_write_into_a_vanished_file_dir_fails_with_a_reason(tmp_path: Path) -> None:
    a = Adapter(tmp_path / "never-made")
    try:
        answer = a.write(token=5, seq=1)
    finally:
        a.files.close()
    assert isinstance(answer, ev.FileWritten)
    assert answer.outcome is Outcome.FAILED
    assert answer.reason.startswith("ENOENT")


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EIO])
def test_a_write_the_disk_refuses_fails_naming_the_errno(
    code: int, adapter: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only or full file-dir (tests/faults/test_disk_faults.py makes them for
    real, with mounts) is a failed FileWritten whose reason starts with the errno name."""
    real_open = os.open

    def refusing_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_CREAT:
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing_open)
    answer = adapter.write(token=7, seq=1)
    assert isinstance(answer, ev.FileWritten)
    assert answer.outcome is Outcome.FAILED
    assert answer.reason.startswith(errno.errorcode[code])


def test_write_refuses_a_symlinked_file_dir(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "files").symlink_to(real)
    a = Adapter(tmp_path / "files")
    try:
        answer = a.write(token=5, seq=1)
    finally:
        a.files.close()
    assert isinstance(answer, ev.FileWritten)
    assert answer.outcome is Outcome.FAILED
    assert answer.reason.startswith(("ELOOP", "ENOTDIR"))
    assert names(real) == []


def test_a_write_slower_than_its_deadline_is_answered_unknown_and_its_late_ok_dropped(
    tmp_path: Path,
) -> None:
    a = Adapter(tmp_path / "files", deadline=1.0)
    a.files.path.mkdir()
    slow_disk = threading.Event()
    a.gate = lambda: slow_disk.wait(WAIT)  # the worker is stuck until released
    a.files.run(fx.WriteLeaderFile(request=9, token=5, seq=1, replica=REPLICA))
    a.timers.advance(1.0)
    assert a.events.get(timeout=WAIT) == ev.FileWritten(
        request=9, outcome=Outcome.UNKNOWN, reason="no answer within 1s"
    )
    slow_disk.set()
    a.files._worker.shutdown(wait=True)  # the worker finishes: its ok is too late
    assert names(a.files.path) == [leader_file_name(5, 1)]  # "unknown": it did happen
    assert a.events.empty()


# --- prune ------------------------------------------------------------------------------


def test_prune_removes_our_oldest_files_beyond_keep(adapter: Adapter) -> None:
    d = adapter.files.path
    older = make_ours(d, token=10, seqs=range(1, 4))
    newer = make_ours(d, token=20, seqs=range(1, 3))
    answer = adapter.answer(fx.PruneFiles(request=1, keep=3, token=20))
    assert answer == ev.FilesPruned(request=1, outcome=Outcome.OK, removed=2)
    assert names(d) == sorted([older[2], *newer])


def test_prune_leaves_foreign_files_symlinks_and_higher_tokens(
    adapter: Adapter, tmp_path: Path
) -> None:
    d = adapter.files.path
    outside = tmp_path / "precious.json"
    outside.write_text("do not touch")
    ours = make_ours(d, token=10, seqs=range(1, 5))
    higher = make_ours(d, token=99, seqs=range(1, 4))  # a newer leader's: never ours to prune
    (d / "election-notes.txt").write_text("an operator's notes")
    (d / "election-1-2.json").write_text("{}")  # starts like ours, not our exact pattern
    trap = leader_file_name(1, 1)  # named like our oldest file, but a symlink
    os.symlink(outside, d / trap)

    # 7 files of our pattern, keep 2: the 5 oldest are beyond keep, but one of them is
    # of token 99 > 10, and the symlink and foreign names are not ours at all.
    answer = adapter.answer(fx.PruneFiles(request=1, keep=2, token=10))

    assert answer == ev.FilesPruned(request=1, outcome=Outcome.OK, removed=len(ours))
    assert names(d) == sorted([*higher, "election-notes.txt", "election-1-2.json", trap])
    assert (d / trap).is_symlink()
    assert outside.read_text() == "do not touch"


def test_prune_with_nothing_beyond_keep_removes_nothing(adapter: Adapter) -> None:
    d = adapter.files.path
    ours = make_ours(d, token=10, seqs=range(1, 3))
    answer = adapter.answer(fx.PruneFiles(request=1, keep=2, token=10))
    assert answer == ev.FilesPruned(request=1, outcome=Outcome.OK, removed=0)
    assert names(d) == ours


def test_prune_refuses_a_symlinked_file_dir(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    ours = make_ours(real, token=10, seqs=range(1, 4))
    (tmp_path / "files").symlink_to(real)
    a = Adapter(tmp_path / "files")
    try:
        answer = a.answer(fx.PruneFiles(request=1, keep=1, token=10))
    finally:
        a.files.close()
    assert isinstance(answer, ev.FilesPruned)
    assert answer.outcome is Outcome.FAILED
    assert names(real) == ours


def test_written_files_then_pruned_keep_the_newest(adapter: Adapter) -> None:
    for seq in range(1, 6):
        assert adapter.write(token=7, seq=seq).outcome is Outcome.OK  # type: ignore[attr-defined]
    adapter.answer(fx.PruneFiles(request=99, keep=2, token=7))
    assert names(adapter.files.path) == [leader_file_name(7, 4), leader_file_name(7, 5)]
    assert (adapter.files.written, adapter.files.pruned) == (5, 3)


# --- security: file mode, crash leftovers, planted names ---------------------------------


def test_file_mode_is_what_was_asked_even_under_a_loose_umask(tmp_path: Path) -> None:
    a = Adapter(tmp_path / "files")
    a.files = FileDir(
        tmp_path / "files", a.events.put, a.timers, 5.0, wall=lambda: WALL, mode=0o640
    )
    a.files.check()
    old = os.umask(0)
    try:
        assert isinstance(a.write(token=5, seq=1), ev.FileWritten)
        assert a.write(token=5, seq=2) == ev.FileWritten(
            request=2, outcome=Outcome.OK, name=leader_file_name(5, 2), published_at=WALL
        )
    finally:
        os.umask(old)
        a.files.close()
    assert stat.S_IMODE((tmp_path / "files" / leader_file_name(5, 1)).stat().st_mode) == 0o640


def _aged(path: Path, seconds: float) -> Path:
    os.utime(path, (WALL - seconds, WALL - seconds), follow_symlinks=False)
    return path


def test_check_removes_only_our_stale_regular_temp_files(adapter: Adapter, tmp_path: Path) -> None:
    files = adapter.files.path
    stale = files / f"{TEMP_PREFIX}7-3-4242"
    stale.write_text("half a file")
    _aged(stale, 120)
    fresh = files / f"{TEMP_PREFIX}7-4-4243"
    fresh.write_text("another replica is writing")
    _aged(fresh, 5)
    lookalike = files / f"{TEMP_PREFIX}notes"  # not our exact pattern
    lookalike.write_text("x")
    _aged(lookalike, 600)
    outside = tmp_path / "precious"
    outside.write_text("keep me")
    link = files / f"{TEMP_PREFIX}9-9-9"  # a stale-looking symlink is never removed
    link.symlink_to(outside)
    _aged(link, 600)
    old_dir = files / f"{TEMP_PREFIX}1-1-1"
    old_dir.mkdir()
    _aged(old_dir, 600)

    assert adapter.answer(fx.CheckFileDir(request=9)) == ev.FileDirChecked(
        request=9, outcome=Outcome.OK
    )
    assert not stale.exists()
    assert fresh.exists() and lookalike.exists() and old_dir.is_dir()
    assert link.is_symlink() and outside.read_text() == "keep me"
    assert adapter.files.cleaned == 1


def test_check_leaves_stale_temp_files_of_another_user(
    adapter: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = adapter.files.path / f"{TEMP_PREFIX}7-3-4242"
    stale.write_text("not ours")
    _aged(stale, 120)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(stale).st_uid + 1)
    assert adapter.files.remove_stale_temps() == 0
    assert stale.exists()


def test_a_planted_symlink_at_the_temp_name_does_not_redirect_the_write(
    adapter: Adapter, tmp_path: Path
) -> None:
    target = tmp_path / "victim"
    target.write_text("untouched")
    planted = adapter.files.path / f"{TEMP_PREFIX}11-1-{os.getpid()}"
    planted.symlink_to(target)
    dangling = adapter.files.path / f"{TEMP_PREFIX}11-2-{os.getpid()}"
    dangling.symlink_to(tmp_path / "would-be-created")

    first = adapter.write(token=11, seq=1)
    second = adapter.write(token=11, seq=2)

    assert isinstance(first, ev.FileWritten) and isinstance(second, ev.FileWritten)
    assert first.outcome is Outcome.FAILED and "EEXIST" in first.reason
    assert second.outcome is Outcome.FAILED
    assert target.read_text() == "untouched"
    assert not (tmp_path / "would-be-created").exists()
    assert planted.is_symlink() and dangling.is_symlink()
    assert leader_file_name(11, 1) not in names(adapter.files.path)


def test_a_planted_symlink_at_the_leader_file_name_is_replaced_not_followed(
    adapter: Adapter, tmp_path: Path
) -> None:
    target = tmp_path / "victim"
    target.write_text("untouched")
    (adapter.files.path / leader_file_name(12, 1)).symlink_to(target)
    assert adapter.write(token=12, seq=1) == ev.FileWritten(
        request=1, outcome=Outcome.OK, name=leader_file_name(12, 1), published_at=WALL
    )
    published = adapter.files.path / leader_file_name(12, 1)
    assert not published.is_symlink()
    assert json.loads(published.read_text())["token"] == 12
    assert target.read_text() == "untouched"


def test_written_at_comes_from_the_wall_clock_in_utc_by_default(tmp_path: Path) -> None:
    """Without an injected clock the writer reads the real one: frozen here, so the
    file's `written_at` is exactly that instant, in RFC 3339 UTC with milliseconds."""
    from freezegun import freeze_time

    files = FileDir(tmp_path, lambda event: None, FakeTimerService(), deadline=5.0)
    try:
        with freeze_time("2026-01-02 03:04:05.678"):  # a UTC instant
            files.write(fx.WriteLeaderFile(request=1, token=3, seq=1, replica="r1"))
    finally:
        files.close()
    content = json.loads((tmp_path / leader_file_name(3, 1)).read_text())
    assert content["written_at"] == "2026-01-02T03:04:05.678Z"
