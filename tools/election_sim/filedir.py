"""The shared file-dir, simulated: leader file names and what they hold, nothing more.

Names, the fencing check and pruning are the runtime's own pure pieces
(`election.core.leaderfiles`); a write or prune happens at one instant, as the real
rename and unlink do. Every accepted write is logged as ground truth for the tests.
"""

from __future__ import annotations

import attrs

from election.core.leaderfiles import files_to_prune, highest_token, leader_file_name


@attrs.frozen
class Written:
    """A leader file that landed in file-dir (ground truth, in simulated time)."""

    time: float
    replica: str
    token: int
    seq: int


@attrs.frozen
class Refused:
    """A write that reached file-dir and was refused (fencing or the session gate)."""

    time: float
    replica: str
    token: int
    seq: int
    why: str


class SimFileDir:
    def __init__(self) -> None:
        self.names: dict[str, tuple[int, int]] = {}
        self.written: list[Written] = []
        self.refused: list[Refused] = []

    def write(
        self, now: float, replica: str, token: int, seq: int, connected: bool
    ) -> tuple[str, int | None, str]:
        """(name, newer_token, refusal): like `FileDir.write`, fencing first, then the gate."""
        newer = highest_token(self.names)
        if newer is not None and newer > token:
            self.refused.append(Refused(now, replica, token, seq, "fenced"))
            return "", newer, f"file-dir holds token {newer}"
        if not connected:
            self.refused.append(Refused(now, replica, token, seq, "not connected"))
            return "", None, "session not connected: write refused"
        name = leader_file_name(token, seq)
        self.names[name] = (token, seq)
        self.written.append(Written(now, replica, token, seq))
        return name, None, ""

    def prune(self, keep: int, token: int) -> int:
        doomed = files_to_prune(self.names, keep, token)
        for name in doomed:
            del self.names[name]
        return len(doomed)
