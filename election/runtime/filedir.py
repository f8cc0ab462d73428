"""The file-dir adapter: checks file-dir, writes leader files atomically, prunes.

File work runs on one worker thread so a slow disk never stalls the loop; a request
that outlives its deadline is answered "unknown". Every path is opened relative to a
descriptor of file-dir with O_NOFOLLOW, so a symlink placed in file-dir is never
followed, and only names of our exact pattern are ever removed: leader files when
pruning, and at each check our own temporary files (regular, ours, older than
`STALE_TEMP_AGE`) that a crash between write and rename left behind.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import errno
import json
import logging
import os
import re
import socket
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar

from election.core import effects as fx
from election.core import events as ev
from election.core.leaderfiles import (
    TEMP_PREFIX,
    files_to_prune,
    highest_token,
    leader_file_name,
)
from election.runtime.dispatch import EffectHandler
from election.runtime.replies import Put, Reply
from election.runtime.timers import TimerService

FILE_MODE = 0o644
# A temp file lives for one write (milliseconds); one this old is a crash's leftover.
STALE_TEMP_AGE = 60.0
TEMP_PATTERN = re.compile(re.escape(TEMP_PREFIX) + r"\d+-\d+-\d+")

log = logging.getLogger("election.filedir")


class NotConnected(Exception):
    """The session dropped: the last-moment gate refused the write."""


class FileDir(EffectHandler):
    """Handles CheckFileDir, WriteLeaderFile and PruneFiles."""

    def __init__(
        self,
        path: Path,
        put: Put,
        timers: TimerService,
        deadline: float,
        may_write: Callable[[], bool] = lambda: True,
        wall: Callable[[], float] | None = None,
        mode: int = FILE_MODE,
    ) -> None:
        self.path = path
        self.mode = mode
        self._put = put
        self._timers = timers
        self._deadline = deadline
        self._may_write = may_write
        self._wall = wall or (lambda: dt.datetime.now(dt.UTC).timestamp())
        self._worker = concurrent.futures.ThreadPoolExecutor(1, "election-files")
        self.written = 0
        self.pruned = 0
        self.cleaned = 0  # stale temp files removed

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    RUNS: ClassVar[Mapping[type[fx.Effect], str]] = {
        fx.CheckFileDir: "_run_check",
        fx.WriteLeaderFile: "_run_write",
        fx.PruneFiles: "_run_prune",
    }

    def _run_check(self, effect: fx.CheckFileDir) -> None:
        reply = Reply(self._put, ev.FileDirChecked, effect.request, self._timers, self._deadline)
        self._submit(reply, self.check)

    def _run_write(self, effect: fx.WriteLeaderFile) -> None:
        reply = Reply(self._put, ev.FileWritten, effect.request, self._timers, self._deadline)
        self._submit(reply, lambda: self.write(effect))

    def _run_prune(self, effect: fx.PruneFiles) -> None:
        reply = Reply(self._put, ev.FilesPruned, effect.request, self._timers, self._deadline)
        self._submit(reply, lambda: self.prune(effect))

    def _submit(self, reply: Reply, work: Callable[[], dict[str, object]]) -> None:
        def job() -> None:
            try:
                fields = work()
            except OSError as exc:
                reply.failed(_describe(exc))
            except NotConnected:
                reply.failed("session not connected: write refused")
            else:
                if "reason" in fields and fields.get("newer_token") is not None:
                    reason = str(fields.pop("reason"))
                    reply.failed(reason, **fields)
                else:
                    reply.ok(**fields)

        try:
            self._worker.submit(job)
        except RuntimeError:  # shut down: we are stopping
            reply.failed("file worker stopped")

    # --- the work (worker thread); public for tests ------------------------------------

    def check(self) -> dict[str, object]:
        """Make file-dir if missing; it must be a directory we can write."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o755)
        if not self.path.is_dir() or self.path.is_symlink():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self.path))
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "not writable", str(self.path))
        removed = self.remove_stale_temps()
        if removed:
            log.info("removed %d stale temporary file(s) from %s", removed, self.path)
        return {}

    def remove_stale_temps(self) -> int:
        """Remove temp files of our exact pattern that are regular files owned by us and
        older than STALE_TEMP_AGE: never a symlink, another user's file, or a replica's
        write in progress."""
        dir_fd = self._open_dir()
        removed = 0
        now = self._wall()
        try:
            with os.scandir(dir_fd) as entries:
                candidates = [e.name for e in entries if TEMP_PATTERN.fullmatch(e.name)]
            for name in candidates:
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if (
                    stat.S_ISREG(info.st_mode)
                    and info.st_uid == os.geteuid()
                    and now - info.st_mtime > STALE_TEMP_AGE
                ):
                    try:
                        os.unlink(name, dir_fd=dir_fd)
                        removed += 1
                    except FileNotFoundError:
                        pass
        finally:
            os.close(dir_fd)
        self.cleaned += removed
        return removed

    def _open_dir(self) -> int:
        return os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)

    def write(self, effect: fx.WriteLeaderFile) -> dict[str, object]:
        """Write one leader file: temp name, fsync, rename, fsync the directory.
        Refuses when file-dir already holds a higher token (we were superseded)."""
        dir_fd = self._open_dir()
        try:
            newer = highest_token(os.listdir(dir_fd))
            if newer is not None and newer > effect.token:
                return {"newer_token": newer, "reason": f"file-dir holds token {newer}"}
            name = leader_file_name(effect.token, effect.seq)
            temp = f"{TEMP_PREFIX}{effect.token}-{effect.seq}-{os.getpid()}"
            body = json.dumps(
                {
                    "replica": effect.replica,
                    "token": effect.token,
                    "seq": effect.seq,
                    "written_at": _rfc3339(self._wall()),
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
                indent=1,
            ).encode()
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            # O_EXCL|O_NOFOLLOW: a name planted in file-dir (a symlink to elsewhere) fails
            # the open instead of redirecting our write.
            fd = os.open(temp, flags, self.mode, dir_fd=dir_fd)
            try:
                os.fchmod(fd, self.mode)  # the umask must not loosen or hide the mode
                os.write(fd, body)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                if not self._may_write():  # the session dropped meanwhile: do not publish
                    raise NotConnected
                # Look again at the last moment: the fsync may have been long, or this
                # process frozen, while a newer term wrote its first file (kazoo still
                # says "connected" for a moment after a SIGCONT).
                newer = highest_token(os.listdir(dir_fd))
                if newer is not None and newer > effect.token:
                    os.unlink(temp, dir_fd=dir_fd)
                    return {"newer_token": newer, "reason": f"file-dir holds token {newer}"}
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.unlink(temp, dir_fd=dir_fd)
                raise
            # Read at once: the file is visible from the rename on, and a freeze from
            # here to the journal append must not make it look written later.
            published_at = self._wall()
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.written += 1
        return {"name": name, "published_at": published_at}

    def prune(self, effect: fx.PruneFiles) -> dict[str, object]:
        """Remove our oldest regular files beyond `keep`; symlinks and foreign files stay."""
        dir_fd = self._open_dir()
        removed = 0
        try:
            with os.scandir(dir_fd) as entries:
                names = [e.name for e in entries if e.is_file(follow_symlinks=False)]
            for name in files_to_prune(names, effect.keep, effect.token):
                try:
                    os.unlink(name, dir_fd=dir_fd)
                    removed += 1
                except FileNotFoundError:  # another replica pruned it first
                    pass
            if removed:
                os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.pruned += removed
        return {"removed": removed}


def _rfc3339(wall: float) -> str:
    moment = dt.datetime.fromtimestamp(wall, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return f"{name}: {exc.strerror or exc}"
