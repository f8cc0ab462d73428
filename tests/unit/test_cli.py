"""The `election` command line: flags, env vars, one-line refusals and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import election
from election.cli import main
from election.config import FLAGS, Settings, envvar_name, flag_name

REPO = Path(__file__).resolve().parents[2]

# One invalid value per flag; each must be refused the same way from a flag or a variable.
INVALID: dict[str, str] = {
    "zk_servers": "a:1,b:0",
    "leader_timeout": "0s",
    "attempter_timeout": "soon",
    "file_dir": "/dev/null",
    "storage_capacity": "0",
    "election_path": "leader",
    "replica_id": "a/b",
    "priority": "-1",
    "session_timeout": "-1s",
    "journal": "/",
    "journal_max_bytes": "64XB",
    "journal_keep": "0",
    "metrics_address": "9100",
    "log_level": "verbose",
    "log_format": "xml",
    "exec": "'unterminated",
    "exec_grace": "0s",
    "exec_exit": "sometimes",
    "leader_files": "maybe",
    "zk_auth": "digest",
    "zk_auth_file": "/nonexistent/election-secret",
    "zk_tls_ca": "/nonexistent/ca.pem",
    "zk_tls_cert": "/nonexistent/cert.pem",
    "zk_tls_key": "/nonexistent/key.pem",
    "file_mode": "0777",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ELECTION_* variable from the caller's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("ELECTION_"):
            monkeypatch.delenv(name)


@pytest.fixture
def daemon_calls(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """A stand-in for election.runtime.daemon that records the settings it was given."""
    calls: list[Settings] = []

    def run_daemon(settings: Settings) -> int:
        calls.append(settings)
        return 0

    fake = types.ModuleType("election.runtime.daemon")
    fake.run_daemon = run_daemon  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "election.runtime.daemon", fake)
    return calls


def _sandbox(tmp_path: Path) -> list[str]:
    """Flags that keep the filesystem-touching settings inside tmp_path."""
    return ["--file-dir", str(tmp_path / "files"), "--journal", str(tmp_path / "j.jsonl")]


def _invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env, prog_name="election")


def _assert_refused(result: Result, key: str) -> None:
    flag = flag_name(key)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"election: invalid {flag} ({envvar_name(flag)}): ")
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_help_lists_every_flag_with_its_env_var() -> None:
    result = _invoke(["run", "--help"])
    assert result.exit_code == 0
    for key in FLAGS:
        flag = flag_name(key)
        assert flag in result.output
        assert envvar_name(flag) in result.output
    assert "<hostname>-<pid>" in result.output
    assert "default: 10s" in result.output


def test_top_level_help_lists_every_command_with_its_whole_summary() -> None:
    # Click cut every summary short with "..." at 80 columns.
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    commands = lines[lines.index("Commands:") + 1 :]
    assert [line.split()[0] for line in commands] == [
        "run", "status", "top", "handover", "pause", "resume"
    ]  # fmt: skip
    assert not any("..." in line or "…" in line for line in commands), result.output
    assert all(len(line) <= 80 for line in lines), result.output
    assert all(line.rstrip().endswith(".") for line in commands), result.output


def test_run_help_names_the_leader_probe_the_jobs_environment_and_the_exit_codes() -> None:
    result = CliRunner().invoke(main, ["run", "--help"], terminal_width=80)
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    text = " ".join(result.output.split())
    assert "/metrics, /healthz, /readyz and /leader (200 only on the leader)" in text
    for variable in (
        "ELECTION_LEADER=1",
        "ELECTION_TOKEN",
        "ELECTION_REPLICA",
        "ELECTION_ELECTION_PATH",
        "ELECTION_LOCK_FD",
    ):
        assert variable in text
    assert "a bare number is seconds" in text
    for code in (
        "0 stopped gracefully",
        "1 a second signal forced the exit",
        "2 invalid configuration",
        "3 an unrecoverable internal error",
        "N under --exec-exit stop: the job's own exit code",
    ):
        assert code in text, code


def test_version() -> None:
    result = _invoke(["--version"])
    assert result.exit_code == 0
    assert result.output == f"election {election.__version__}\n"


@pytest.mark.parametrize("key", FLAGS)
def test_invalid_flag_is_refused_in_one_line(
    key: str, tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path), flag_name(key), INVALID[key]])
    _assert_refused(result, key)
    assert daemon_calls == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", FLAGS)
def test_invalid_env_var_is_refused_in_one_line(
    key: str, tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    env = {
        "ELECTION_FILE_DIR": str(tmp_path / "files"),
        "ELECTION_JOURNAL": str(tmp_path / "j.jsonl"),
        envvar_name(flag_name(key)): INVALID[key],
    }
    result = _invoke(["run"], env=env)
    _assert_refused(result, key)
    assert daemon_calls == []
    assert list(tmp_path.iterdir()) == []


def test_the_message_is_the_documented_one(tmp_path: Path) -> None:
    result = _invoke(["run", *_sandbox(tmp_path), "--leader-timeout", "0s"])
    assert result.stderr == (
        "election: invalid --leader-timeout (ELECTION_LEADER_TIMEOUT): "
        "duration must be > 0, got '0s'\n"
    )


def test_unknown_flag_is_a_usage_error() -> None:
    result = _invoke(["run", "--leader-timeot", "1s"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_valid_config_reaches_run_daemon(tmp_path: Path, daemon_calls: list[Settings]) -> None:
    result = _invoke(
        [
            "run",
            *_sandbox(tmp_path),
            "--zk-servers",
            "zk1:2181,zk2:2181",
            "--zk-servers",
            "zk3:2181",
            "--leader-timeout",
            "1m30s",
            "--replica-id",
            "node-a",
            "--metrics-address",
            "off",
        ]
    )
    assert result.exit_code == 0, result.output
    [settings] = daemon_calls
    assert settings.zk_servers == ("zk1:2181", "zk2:2181", "zk3:2181")
    assert settings.leader_timeout == 90.0
    assert settings.replica_id == "node-a"
    assert settings.metrics_address is None
    assert settings.file_dir == tmp_path / "files"
    assert list(tmp_path.iterdir()) == []  # the CLI itself creates nothing


def test_env_vars_configure_run_including_comma_separated_servers(
    tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    env = {
        "ELECTION_ZK_SERVERS": "a:1,b:2",
        "ELECTION_STORAGE_CAPACITY": "3",
        "ELECTION_LOG_FORMAT": "json",
    }
    result = _invoke(["run", *_sandbox(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    [settings] = daemon_calls
    assert settings.zk_servers == ("a:1", "b:2")
    assert settings.storage_capacity == 3
    assert settings.log_format == "json"


def test_journal_rotation_comes_from_flags_or_env_vars(
    tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    env = {"ELECTION_JOURNAL_MAX_BYTES": "10MB", "ELECTION_JOURNAL_KEEP": "7"}
    assert _invoke(["run", *_sandbox(tmp_path)], env=env).exit_code == 0
    flags = ["--journal-max-bytes", "off", "--journal-keep", "2"]
    assert _invoke(["run", *_sandbox(tmp_path), *flags], env=env).exit_code == 0
    from_env, from_flags = daemon_calls
    assert (from_env.journal_max_bytes, from_env.journal_keep) == (10_000_000, 7)
    assert (from_flags.journal_max_bytes, from_flags.journal_keep) == (None, 2)


def test_a_bad_journal_size_in_the_environment_is_refused_in_one_line(tmp_path: Path) -> None:
    result = _invoke(["run", *_sandbox(tmp_path)], env={"ELECTION_JOURNAL_MAX_BYTES": "big"})
    assert result.exit_code == 2
    assert result.stderr == (
        "election: invalid --journal-max-bytes (ELECTION_JOURNAL_MAX_BYTES): "
        "want a size such as 64MiB, 10MB, 500k or a byte count; got 'big'\n"
    )


def test_a_flag_beats_its_env_var(tmp_path: Path, daemon_calls: list[Settings]) -> None:
    env = {"ELECTION_LEADER_TIMEOUT": "0s"}  # invalid, but overridden
    result = _invoke(["run", *_sandbox(tmp_path), "--leader-timeout", "2s"], env=env)
    assert result.exit_code == 0, result.output
    assert daemon_calls[0].leader_timeout == 2.0


def test_defaults_reach_run_daemon(tmp_path: Path, daemon_calls: list[Settings]) -> None:
    result = _invoke(["run", *_sandbox(tmp_path)])
    assert result.exit_code == 0, result.output
    [settings] = daemon_calls
    assert settings.zk_servers == ("127.0.0.1:2181",)
    assert settings.session_timeout == 10.0
    assert settings.metrics_address == ("127.0.0.1", 9100)


def test_run_exits_with_the_daemons_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("election.runtime.daemon")
    fake.run_daemon = lambda settings: 70  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "election.runtime.daemon", fake)
    assert _invoke(["run", *_sandbox(tmp_path)]).exit_code == 70


def test_python_dash_m_refuses_bad_config_without_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELECTION_")}
    env["PYTHONPATH"] = str(REPO)  # the checkout, installed or not
    proc = subprocess.run(
        [sys.executable, "-m", "election", "run", "--leader-timeout", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "election: invalid --leader-timeout (ELECTION_LEADER_TIMEOUT): "
        "duration must be > 0, got '0'"
    ]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the job


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--tui", "true"], "true"),  # once ran /bin/true as the job
        (["true"], "true"),
        (["x", "--", "y"], "x"),
        (["--exec-exit", "stop", "sleep", "1"], "sleep"),
    ],
)
def test_words_not_after_dashes_are_refused(
    args: list[str], word: str, tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path), *args])
    _assert_refused(result, "exec")
    assert result.stderr == (
        f"election: invalid --exec (ELECTION_EXEC): unexpected argument {word!r}: "
        "give the job with --exec 'CMD ARGS...' or after --\n"
    )
    assert daemon_calls == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "job"),
    [
        (["--", "/bin/echo", "hi"], ("/bin/echo", "hi")),
        (["--exec", "/bin/echo hi"], ("/bin/echo", "hi")),
        (["--", "echo", "--tui", "--", "x"], ("echo", "--tui", "--", "x")),  # all the job's
        (["--replica-id", "--", "--", "echo"], ("echo",)),  # the second -- separates
    ],
)
def test_a_job_after_dashes_or_in_exec_reaches_run_daemon(
    args: list[str], job: tuple[str, ...], tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path), *args])
    assert result.exit_code == 0, result.output
    [settings] = daemon_calls
    assert settings.exec_command == job
    assert settings.exec_grace == 3.0
    assert list(tmp_path.iterdir()) == []


def test_a_job_from_the_environment_reaches_run_daemon(
    tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path)], env={"ELECTION_EXEC": "/bin/echo 'a b'"})
    assert result.exit_code == 0, result.output
    assert daemon_calls[0].exec_command == ("/bin/echo", "a b")


def test_a_job_given_both_ways_is_refused(tmp_path: Path, daemon_calls: list[Settings]) -> None:
    for args, env in (
        (["--exec", "/bin/echo a", "--", "/bin/echo", "b"], None),
        (["--", "/bin/echo", "b"], {"ELECTION_EXEC": "/bin/echo a"}),
    ):
        result = _invoke(["run", *_sandbox(tmp_path), *args], env=env)
        _assert_refused(result, "exec")
        assert "not both" in result.stderr
    assert daemon_calls == []


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--", "no-such-program-here", "arg"], None),
        (["--exec", "no-such-program-here arg"], None),
        ([], {"ELECTION_EXEC": "no-such-program-here arg"}),
    ],
)
def test_a_program_not_found_is_refused_naming_exec_however_the_job_was_given(
    args: list[str], env: dict[str, str] | None, tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path), *args], env=env)
    _assert_refused(result, "exec")
    assert result.stderr.endswith(": program 'no-such-program-here' not found on PATH\n")
    assert daemon_calls == []
    assert list(tmp_path.iterdir()) == []


def test_a_bare_program_is_looked_up_on_the_daemons_path(
    tmp_path: Path, daemon_calls: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "my-job").write_text("#!/bin/sh\n")
    (bin_dir / "my-job").chmod(0o755)
    sandbox = ["--file-dir", str(tmp_path / "files"), "--journal", str(tmp_path / "j.jsonl")]
    monkeypatch.setenv("PATH", str(bin_dir))
    assert _invoke(["run", *sandbox, "--", "my-job", "x"]).exit_code == 0
    assert daemon_calls[0].exec_command == ("my-job", "x")  # as typed
    monkeypatch.setenv("PATH", str(tmp_path / "files"))
    _assert_refused(_invoke(["run", *sandbox, "--", "my-job", "x"]), "exec")


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--exec", "/bin/echo", "--exec-grace", "30s"], None),
        (["--exec-grace", "30s", "--", "/bin/echo"], None),
        ([], {"ELECTION_EXEC": "/bin/echo", "ELECTION_EXEC_GRACE": "30s"}),
    ],
)
def test_a_grace_that_does_not_fit_is_refused(
    args: list[str], env: dict[str, str] | None, tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path), *args], env=env)
    _assert_refused(result, "exec_grace")
    assert result.stderr == (
        "election: invalid --exec-grace (ELECTION_EXEC_GRACE): 30s does not fit in the "
        "job's lease: at most a third of --session-timeout 10s (3.333s)\n"
    )
    assert daemon_calls == []


def test_a_grace_that_fits_a_longer_session_is_taken(
    tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    flags = ["--session-timeout", "90s", "--exec-grace", "30s", "--", "/bin/echo"]
    assert _invoke(["run", *_sandbox(tmp_path), *flags]).exit_code == 0
    assert (daemon_calls[0].exec_grace, daemon_calls[0].stop_deadline) == (30.0, 35.0)


def test_a_grace_exported_without_a_job_is_not_checked(
    tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path)], env={"ELECTION_EXEC_GRACE": "1h"})
    assert result.exit_code == 0, result.output
    assert daemon_calls[0].exec_command == ()


def test_help_shows_the_default_grace_and_its_limit() -> None:
    result = CliRunner().invoke(main, ["run", "--help"], terminal_width=300)  # one line a flag
    lines = result.output.splitlines()
    line = next(line for line in lines if line.lstrip().startswith("--exec-grace"))
    assert "at most a third of --session-timeout" in line
    assert "default: (3s, or a third of --session-timeout if less)" in line


def test_a_short_session_timeout_takes_a_default_grace_that_fits(
    tmp_path: Path, daemon_calls: list[Settings]
) -> None:
    result = _invoke(["run", *_sandbox(tmp_path), "--session-timeout", "2s", "--", "/bin/echo"])
    assert result.exit_code == 0, result.output
    assert daemon_calls[0].exec_grace == 0.666


def test_help_states_the_jobs_promise_and_the_grace_rule() -> None:
    text = " ".join(CliRunner().invoke(main, ["run", "--help"]).output.split())
    assert "when a job starts, no job of another term is alive, on any machine" in text
    assert "lease" in text and "at most a third of --session-timeout" in text
    assert "Only a whole machine frozen escapes" in text
