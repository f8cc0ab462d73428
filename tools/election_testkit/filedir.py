"""file-dir read back: the daemon's leader files there now, and all that ever were.

`leader_files` lists the files of the daemon's exact name pattern with their content.
`FileDirRecorder` samples file-dir on a thread while a run goes and keeps each leader file
it saw (name, content, ctime), pruned ones too. It judges nothing: the verdict is
`election-replay`'s over the journals (`election_testkit.verdict`); the recorder only
lets the verdict show that those journals account for every file that reached the disk.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

from election.core.leaderfiles import parse_leader_file_name

Record = dict[str, Any]


class LeaderFile:
    """One file of the daemon's exact name pattern, read from file-dir."""

    def __init__(self, name: str, token: int, seq: int, content: Record) -> None:
        self.name = name
        self.token = token
        self.seq = seq
        self.content = content

    @property
    def written_wall(self) -> float:
        """``written_at`` (RFC 3339 UTC) as Unix seconds."""
        text = str(self.content["written_at"]).replace("Z", "+00:00")
        return dt.datetime.fromisoformat(text).timestamp()

    def __repr__(self) -> str:
        return f"<LeaderFile {self.name} {self.content}>"


def leader_files(file_dir: Path) -> list[LeaderFile]:
    """The daemon's files in ``file_dir`` (exact pattern, regular files), in name order.
    A file pruned between listing and reading is skipped."""
    out = []
    try:
        names = sorted(os.listdir(file_dir))
    except FileNotFoundError:
        return []
    for name in names:
        parsed = parse_leader_file_name(name)
        if parsed is None:
            continue
        path = file_dir / name
        if path.is_symlink():
            continue
        try:
            content = json.loads(path.read_text())
        except FileNotFoundError:
            continue
        out.append(LeaderFile(name, parsed[0], parsed[1], content))
    return out


class FileDirRecorder:
    """Samples file-dir every `interval` seconds on a thread and keeps every leader file
    it ever saw (name -> content, ctime), so files pruned since are known too."""

    def __init__(self, file_dir: Path, interval: float = 0.02) -> None:
        self.file_dir = Path(file_dir)
        self.interval = interval
        self.seen: dict[str, tuple[dict[str, Any], float]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="filedir-recorder", daemon=True)

    def start(self) -> FileDirRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()  # whatever is there at the end

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        try:
            names = os.listdir(self.file_dir)
        except OSError:
            return  # deleted or unreadable for now
        for name in names:
            if name in self.seen or parse_leader_file_name(name) is None:
                continue
            path = self.file_dir / name
            try:
                info = os.lstat(path)
                content = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue  # pruned meanwhile (or not ours to read)
            with self._lock:
                self.seen[name] = (content, info.st_ctime)

    def files(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, content) of every leader file seen, in name order."""
        with self._lock:
            return sorted((name, content) for name, (content, _) in self.seen.items())
