"""JournalWriter: appends records to a JSONL journal, one `os.write` per line.

Each line goes out in a single `os.write` (looping only on a short write), then
`os.fdatasync`, so a crash tears at most the final line, which the reader drops. Opening a
journal always writes a fresh header: a restarted daemon pointed at the same path starts
a new run in the same file.

Rotation (`max_bytes`): once the live file reaches `max_bytes`, the writer rotates it
between two records, the way logrotate names things: the live file keeps its name,
`<name>.1` is the newest rotated segment, `<name>.2` the one before, and so on; at most
`keep` rotated segments are kept (the oldest beyond are deleted: only files named exactly
`<name>.<n>`, never anything else in the directory). Each new segment starts with a
header: the run's header plus `segment` (1, 2, ... within the run) and whatever the
`segment_header` callable adds (the daemon adds a snapshot of its state, so a segment
replays on its own). Crash-safe: the renames come first (oldest first), then the new
file is created and the directory fsynced; a crash in between leaves complete segments
with at most a gap in their numbers, and the next start opens a fresh live file.

Line numbers: the writer knows the number of each line it writes (`line`), and the byte
offset of its run's header in the live file (`header_offset`), so that a record can say
where it stands (the daemon's periodic snapshots do: a replay seeks to them without
counting lines). Opening an existing file counts its lines once, up to
`COUNT_LINES_UP_TO` bytes; past that, `line` stays None until the next rotation.

Thread use: one thread appends (the loop thread that owns the state). The writer takes
no locks; sharing it between threads would interleave nothing (each line is one write)
but would break the per-run `seq` check.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from journal.format import (
    FORMAT_VERSION,
    JOURNAL_NAME,
    JsonObject,
    dumps_line,
    header_problem,
    record_problem,
)

__all__ = [
    "JournalWriter",
    "SegmentHeader",
    "journal_segments",
    "make_parents",
    "rotated_path",
    "rotated_segments",
]

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC

# `<name>.<n>`: n without leading zeros, so `.01`, `.1.gz` or `.bak` are never ours.
_SEGMENT_SUFFIX = re.compile(r"[1-9][0-9]{0,8}")

SegmentHeader = Callable[[int], Mapping[str, Any]]
"""Given the seq of the last record before a rotation, the keys to add to the run's
header for the next segment (e.g. `{"snapshot": ...}`)."""


def rotated_path(path: str | os.PathLike[str], index: int) -> Path:
    """The name of rotated segment `index` (1 = newest) of the journal at `path`."""
    path = Path(path)
    return path.with_name(f"{path.name}.{index}")


def rotated_segments(path: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """The rotated segments of the journal at `path` that exist, as (index, path), newest
    (`.1`) first. Only names of the exact pattern `<name>.<n>` count."""
    path = Path(path)
    prefix = path.name + "."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found = [
        (int(name[len(prefix) :]), path.parent / name)
        for name in names
        if name.startswith(prefix) and _SEGMENT_SUFFIX.fullmatch(name[len(prefix) :])
    ]
    return sorted(found)


def journal_segments(path: str | os.PathLike[str]) -> list[Path]:
    """Every file of the journal at `path`, oldest first: `.N` ... `.1`, then the live file
    (if it exists). The order `election-replay` folds them in (it also works it out itself)."""
    path = Path(path)
    files = [p for _, p in reversed(rotated_segments(path))]
    return [*files, path] if os.path.lexists(path) else files


def make_parents(directory: Path) -> None:
    """Create `directory` and any missing ancestors, each with mode 0700.

    `os.makedirs(mode=...)` applies the mode to the leaf only, so walk down by hand.
    """
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for path in reversed(missing):
        # Made by someone else meanwhile: fine (open() fails later if it is no directory).
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)


def _sync_line(fd: int) -> None:
    """A line appended, durable: its bytes and the file's new size (fdatasync leaves out
    only the times, which no reader needs; half the cost of an fsync on ext4 here)."""
    os.fdatasync(fd)


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories
    finally:
        os.close(fd)


def _remove_segment(path: Path) -> None:
    """Delete a rotated segment, if it is a regular file (a symlink or directory that
    happens to have the name is not ours to delete)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISREG(os.lstat(path).st_mode):
            os.unlink(path)


# Counting the lines of an existing file costs a read of it at start-up: about 30 ms for
# 64 MiB from the page cache, the default size of a segment. A file much larger (rotation
# off) is not read: its lines stay unknown.
COUNT_LINES_UP_TO = 256 * 1024 * 1024


def _count_lines(path: Path, size: int) -> int | None:
    """Newlines in the first `size` bytes of the file, or None when it is too big to count."""
    if size > COUNT_LINES_UP_TO:
        return None
    lines, left = 0, size
    with path.open("rb") as f:
        while left > 0:
            chunk = f.read(min(1 << 20, left))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            left -= len(chunk)
    return lines


def _ends_mid_line(path: Path, size: int) -> bool:
    """True if the file's last byte is not a newline (a torn tail from a crash)."""
    if size == 0:
        return False
    with path.open("rb") as f:
        f.seek(size - 1)
        return f.read(1) != b"\n"


class JournalWriter:
    """Appends to the journal at `path`, writing `header` first (a new run).

    `header` is completed with `journal` and `format` if it lacks them (see
    `journal.format.make_header`) and must then be a valid header, else ValueError.
    The file is created with mode 0600 and missing parent directories with mode 0700.
    With `fsync=False` lines are only fsynced by `sync()` and `close()`.

    With `max_bytes`, the live file is rotated after the record that brings it to
    `max_bytes` or more (see the module docstring), keeping at most `keep` rotated
    segments; a live file already that large when the writer opens is rotated first.
    `segment_header` adds keys to each new segment's header.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Mapping[str, Any],
        *,
        fsync: bool = True,
        max_bytes: int | None = None,
        keep: int = 5,
        segment_header: SegmentHeader | None = None,
    ) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._bytes_written = 0
        self._segment_bytes = 0  # size of the live file, what was there before included
        self._segment = 0  # this run's segment in the live file (0: the run's first)
        self._rotations = 0
        self._last_seq: int | None = None
        self._failed = False
        self._line: int | None = 0  # the number of the last line in the live file
        self._header_offset = 0  # where this run's header starts in the live file
        if max_bytes is not None and max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1 (or None), got {max_bytes}")
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self._max_bytes = max_bytes
        self._keep = keep
        self._segment_header = segment_header
        full_header: JsonObject = {"journal": JOURNAL_NAME, "format": FORMAT_VERSION, **header}
        problem = header_problem(full_header)
        if problem is not None:
            raise ValueError(problem)
        self._header = full_header
        self._fd: int | None = None

        if not self.path.parent.exists():
            make_parents(self.path.parent)
        if max_bytes is not None and self._live_size() >= max_bytes:
            self._shift()  # a restart finds a full live file: start the run in a new one
        self._open_segment(dumps_line(full_header))

    def _live_size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def _open_segment(self, header_line: bytes) -> None:
        """Open (or create) the live file and write `header_line` into it."""
        created = not self.path.exists()
        fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        self._fd = fd
        try:
            size = os.fstat(fd).st_size
            self._segment_bytes = size
            # A crash left half a line: end it, so our header starts a line of its own
            # (the reader drops a corrupt line just before a header as that run's tail).
            prefix = b"\n" if _ends_mid_line(self.path, size) else b""
            self._line = 0 if size == 0 else _count_lines(self.path, size)
            if self._line is not None and prefix:
                self._line += 1  # the torn line, ended: a line of its own
            self._header_offset = size + len(prefix)
            self._write(prefix + header_line)
            self._next_line()
            os.fsync(fd)
            if created:
                _fsync_dir(self.path.parent)
        except BaseException:
            self.close()
            raise

    def _shift(self) -> None:
        """live -> `.1`, `.1` -> `.2`, ...; segments that would pass `keep` are deleted."""
        for index, rotated in reversed(rotated_segments(self.path)):
            if index >= self._keep:
                _remove_segment(rotated)
            else:
                os.replace(rotated, rotated_path(self.path, index + 1))
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, rotated_path(self.path, 1))
        _fsync_dir(self.path.parent)

    def _rotate(self) -> None:
        """Close the live file, shift the segments and open a new live file."""
        assert self._last_seq is not None
        # Build the header first: a failing callable leaves the files as they were.
        extra = {} if self._segment_header is None else self._segment_header(self._last_seq)
        header = {**self._header, **extra, "segment": self._segment + 1}
        problem = header_problem(header)
        if problem is not None:
            raise ValueError(f"segment header: {problem}")
        line = dumps_line(header)
        fd, self._fd = self._open_fd(), None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            self._shift()
            self._open_segment(line)
        except BaseException:
            self._failed = True
            raise
        self._segment += 1
        self._rotations += 1

    def _next_line(self) -> None:
        if self._line is not None:
            self._line += 1

    @property
    def line(self) -> int | None:
        """The number (1-based) of the last line written to the live file: its header,
        or the last record appended; None if the file was too big to count at open."""
        return self._line

    @property
    def header_offset(self) -> int:
        """The byte offset of this run's header (or this segment's) in the live file."""
        return self._header_offset

    @property
    def bytes_written(self) -> int:
        """Bytes this writer has written, header included."""
        return self._bytes_written

    @property
    def rotations(self) -> int:
        """How many times this writer has rotated the journal."""
        return self._rotations

    @property
    def closed(self) -> bool:
        """True once `close()` has run."""
        return self._fd is None

    def _open_fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"journal {self.path} is closed")
        return self._fd

    def _write(self, data: bytes) -> None:
        fd = self._open_fd()
        view = memoryview(data)
        try:
            while view:
                # One write per line in practice; a short write (disk nearly full, a
                # signal) is continued, which still tears nothing but this final line.
                written = os.write(fd, view)
                self._bytes_written += written
                self._segment_bytes += written
                view = view[written:]
        except BaseException:
            # Part of the line may be on disk; a further line would be glued onto it.
            self._failed = True
            raise

    def append(self, record: Mapping[str, Any]) -> None:
        """Write `record` as one line (and sync it unless `fsync=False`).

        Raises ValueError for a malformed record or a `seq` not above the previous
        one, OSError if the write fails (the writer is then unusable: reopen the
        journal to start a new run). When the record fills the live file, the journal
        is rotated before this returns; if that fails the record is written but the
        error is raised all the same (OSError: the writer is unusable; ValueError from
        a bad segment header: the next append tries again).
        """
        fd = self._open_fd()
        if self._failed:
            raise ValueError(f"journal {self.path}: an earlier write failed; reopen it")
        obj = dict(record)
        problem = record_problem(obj)
        if problem is not None:
            raise ValueError(problem)
        seq: int = obj["seq"]
        if self._last_seq is not None and seq <= self._last_seq:
            raise ValueError(f"record: seq {seq} does not follow {self._last_seq}")
        self._write(dumps_line(obj))
        self._next_line()
        self._last_seq = seq
        if self._fsync:
            _sync_line(fd)
        if self._max_bytes is not None and self._segment_bytes >= self._max_bytes:
            self._rotate()

    def sync(self) -> None:
        """fsync what has been written so far."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        """fsync and close; safe to call twice."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if not self._failed:
                os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
