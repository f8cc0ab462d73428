"""A short chaos soak (tools/chaos): a 3-node ensemble, three proxied replicas, ~45 s of
seeded random faults; election-replay finds nothing and the summary says so. Once as the
seed's daemon (leader files), once with a job under `--exec` on each replica as on a
machine of its own, where the job's side is judged too: no job start found a process of
another term alive, and none outlived the soak (both are the soak's problems)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.zk]


# One soak in `make test`: the job's (its replicas also write leader files, and it judges
# the job's promise besides). The same 45 s without a job runs under `make soak`.
@pytest.mark.long
@pytest.mark.parametrize(
    ("seed", "extra"),
    [pytest.param(5, [], marks=pytest.mark.soak), (8, ["--job"])],
    ids=["files", "job"],
)
def test_short_chaos_soak_finds_no_violation(tmp_path: Path, seed: int, extra: list[str]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.chaos",
            "--duration",
            "45",
            "--seed",
            str(seed),
            "--json",
            "--workdir",
            str(tmp_path / "chaos"),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.stdout, proc.stderr[-4000:]
    summary = json.loads(proc.stdout)
    assert summary["violations"] == [], proc.stderr[-4000:]
    assert summary["unjournaled_files"] == [] and summary["problems"] == [], summary
    assert proc.returncode == 0, proc.stderr[-4000:]
    # It did inject faults of several kinds, and leadership did move.
    assert summary["faults_total"] >= 5, summary["faults"]
    assert len(summary["faults"]) >= 4, summary["faults"]
    assert summary["handovers"] >= 1
    assert summary["files_written"] > 50
    assert summary["replay_events"] > 0 and summary["replay_divergences"] == 0
    if extra:  # jobs did start, across the hand-overs (the family log was written)
        assert summary["job_starts"] >= 3, summary
