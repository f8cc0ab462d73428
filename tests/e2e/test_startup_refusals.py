"""A flag whose value only trying can check — a metrics port already taken, a journal
that cannot be opened — is refused like any invalid value: one line, exit 2, nothing
left behind. So is a job that cannot work: a program that is not there or not
executable, a grace that does not fit in the job's lease, words not after `--`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.read_only import read_only_dir


def _run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    return subprocess.run(
        [sys.executable, "-m", "election", "run", "--zk-servers", "127.0.0.1:1", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**clean, **(env or {})},
    )


def test_a_metrics_port_in_use_is_refused_and_no_journal_is_made(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(
            "--metrics-address", f"127.0.0.1:{port}", "--journal", str(tmp_path / "j.jsonl")
        )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "--metrics-address (ELECTION_METRICS_ADDRESS)" in lines[0]
    assert "in use" in lines[0] and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_file_dir_on_a_read_only_place_is_refused_at_once(tmp_path: Path) -> None:
    # It used to start and loop on `FileDirChecked failed: EROFS` for ever, while a bad
    # --journal exits 2 at once.
    with read_only_dir(tmp_path) as ro:
        journal = tmp_path / "journal" / "r.jsonl"
        done = _run(
            "--metrics-address", "off", "--file-dir", str(ro / "files"), "--journal", str(journal)
        )
    assert done.returncode == 2, done.stderr
    why = "read-only file system" if os.geteuid() == 0 else "no permission to write"
    assert done.stderr == (
        f"election: invalid --file-dir (ELECTION_FILE_DIR): cannot be created: {str(ro)!r} "
        f"is not writable ({why})\n"
    )
    assert not journal.parent.exists()  # nothing made


def test_a_journal_that_cannot_be_opened_is_refused() -> None:
    done = _run("--metrics-address", "off", "--journal", "/proc/election-test.jsonl")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "--journal (ELECTION_JOURNAL)" in lines[0], done.stderr


@pytest.mark.parametrize(
    ("args", "env", "flag", "reason"),
    [
        (
            ["--exec", "/bin/echo hi", "--exec-grace", "30s"],
            {},
            "--exec-grace (ELECTION_EXEC_GRACE)",
            "30s does not fit in the job's lease: at most a third of --session-timeout 10s "
            "(3.333s)",
        ),
        (
            ["--session-timeout", "2s", "--exec-grace", "1s", "--", "/bin/echo", "hi"],
            {},
            "--exec-grace (ELECTION_EXEC_GRACE)",
            "1s does not fit in the job's lease: at most a third of --session-timeout 2s (0.666s)",
        ),
        (
            [],
            {"ELECTION_EXEC": "/bin/echo", "ELECTION_EXEC_GRACE": "4s"},
            "--exec-grace (ELECTION_EXEC_GRACE)",
            "4s does not fit",
        ),
        (
            ["--", "no-such-program-here", "--flag"],
            {},
            "--exec (ELECTION_EXEC)",
            "program 'no-such-program-here' not found on PATH",
        ),
        (["--exec", "/etc/passwd"], {}, "--exec (ELECTION_EXEC)", "is not executable"),
        ([], {"ELECTION_EXEC": "/tmp"}, "--exec (ELECTION_EXEC)", "program '/tmp' is a directory"),
        (
            ["--tui", "true"],
            {},
            "--exec (ELECTION_EXEC)",
            "unexpected argument 'true': give the job with --exec 'CMD ARGS...' or after --",
        ),
        (["true"], {}, "--exec (ELECTION_EXEC)", "unexpected argument 'true'"),
        (["x", "--", "/bin/echo"], {}, "--exec (ELECTION_EXEC)", "unexpected argument 'x'"),
    ],
)
def test_a_job_that_cannot_work_is_refused_and_nothing_is_made(
    args: list[str], env: dict[str, str], flag: str, reason: str, tmp_path: Path
) -> None:
    done = _run(
        "--metrics-address",
        "127.0.0.1:0",
        "--file-dir",
        str(tmp_path / "files"),
        "--journal",
        str(tmp_path / "journal" / "r.jsonl"),
        *args,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"election: invalid {flag}: "), line
    assert reason in line, line
    assert list(tmp_path.iterdir()) == []  # no journal, no file-dir


def test_a_script_without_execute_permission_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)  # the execute bit forgotten
    done = _run(
        "--file-dir",
        str(tmp_path / "files"),
        "--journal",
        str(tmp_path / "j.jsonl"),
        "--",
        str(script),
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"election: invalid --exec (ELECTION_EXEC): program {str(script)!r} is not executable\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.sh"]
