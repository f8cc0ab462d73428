"""The verdict on a run of replicas: `election-replay`'s, over all their journals.

`election-replay` is the one judge of safety. Its invariants
(tools/election_replay/invariants.py and work.py: at most one leader per token, tokens
only grow, no two leaders doing the work, no leader file written or asked for outside
Leader, no Leader while disconnected, no older token's file after a newer token's first)
and its fold through today's reducer (no divergence) decide; it runs here in process,
through its API, and what it reports is the verdict as it stands: nothing here filters
or excuses it.

Beside it, one check of the evidence, not of safety: every leader file seen in file-dir
(`FileDirRecorder`) was asked for in a journal — the record carrying its
`WriteLeaderFile` effect is appended before the file is written (write-ahead) — so the
journals the replay judged account for every file that reached the disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from election.core.leaderfiles import parse_leader_file_name
from election_replay import analyse
from election_replay.report import to_json
from election_testkit.filedir import FileDirRecorder
from election_testkit.measures import journal_records

NO_JOURNAL: dict[str, Any] = {
    "ok": True,
    "events": 0,
    "divergences": [],
    "violations": [],
    "leadership": [],
}


@dataclass(frozen=True)
class Verdict:
    """`election-replay`'s JSON object over a run's journals, and the files on disk that
    no journal asked for."""

    replay: dict[str, Any]
    unjournaled: tuple[str, ...] = ()

    @property
    def violations(self) -> list[str]:
        """The replay's divergences and violations, one line each (empty: it found none)."""
        lines = [
            f"divergence at {d['replica']} {d['journal']}:{d['line']} "
            f"({d['event'].get('type')}, {', '.join(d['fields'])}): "
            f"expected {d['expected']}, recorded {d['recorded']}"
            for d in self.replay["divergences"]
        ]
        lines += [f"{v['kind']}: {v['message']}" for v in self.replay["violations"]]
        return lines

    @property
    def ok(self) -> bool:
        """The replay found nothing, and the journals account for every file on disk."""
        return bool(self.replay["ok"]) and not self.unjournaled

    def explain(self) -> str:
        lines = [f"election-replay: {len(self.violations)} finding(s):", *self.violations]
        if self.unjournaled:
            lines += ["leader files on disk that no journal asked for:", *self.unjournaled]
        return "\n".join(lines)


def replay(journals: Sequence[Path]) -> dict[str, Any]:
    """`election-replay --json` over the journals that exist, run in process."""
    existing = [p for p in journals if p.exists() and p.stat().st_size > 0]
    if not existing:
        return dict(NO_JOURNAL)
    return to_json(analyse(existing))


def unjournaled_files(journals: Sequence[Path], recorder: FileDirRecorder) -> list[str]:
    """Leader files the recorder saw whose (replica, token, seq) no journal asked for."""
    asked = {
        (str(effect.get("replica")), effect.get("token"), effect.get("seq"))
        for path in journals
        for _, record in journal_records(path)
        for effect in record.get("effects", [])
        if effect.get("type") == "WriteLeaderFile"
    }
    found = []
    for name, content in recorder.files():
        parsed = parse_leader_file_name(name)
        assert parsed is not None
        replica = str(content.get("replica"))
        if (replica, *parsed) not in asked:
            found.append(f"{name} (replica {replica})")
    return found


def judge(journals: Sequence[Path], recorder: FileDirRecorder | None = None) -> Verdict:
    """The replay's verdict over `journals`, with the files `recorder` saw checked
    against them."""
    unjournaled = () if recorder is None else tuple(unjournaled_files(journals, recorder))
    return Verdict(replay(journals), unjournaled)
