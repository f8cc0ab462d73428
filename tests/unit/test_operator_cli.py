"""The operator's commands on the command line, before any ZooKeeper: `run`'s connection
flags validated as `run` validates them, their own options refused in one line with exit
2 (kazoo's connection warnings, read into the real cause of an unreachable server, are
tests/unit/test_connection_log.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from election.cli import main
from election.config import ConfigError, Connection, build_connection
from election.operate.connection import format_seconds
from election.security import ZkAuth

COMMANDS = (["status"], ["status", "--json"], ["handover"], ["pause"], ["resume"], ["top"])


def _secret(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "zk-auth"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def test_the_connection_is_run_s_flags_with_their_defaults() -> None:
    assert build_connection({}) == Connection(
        servers=("127.0.0.1:2181",), election_path="/election/leader"
    )
    connection = build_connection(
        {"zk_servers": ("a:1,b:2", "c:3"), "election_path": "/jobs/x/leader"}
    )
    assert connection.servers == ("a:1", "b:2", "c:3")
    assert connection.election_path == "/jobs/x/leader"


def test_the_credential_comes_from_the_flag_or_a_private_file(tmp_path: Path) -> None:
    assert build_connection({"zk_auth": "digest:ops:pw"}).auth == ZkAuth(
        scheme="digest", credential="ops:pw"
    )
    from_file = build_connection({"zk_auth_file": str(_secret(tmp_path, "digest:ops:pw"))})
    assert from_file.auth == ZkAuth(scheme="digest", credential="ops:pw")
    assert "pw" not in repr(from_file)
    with pytest.raises(ConfigError, match=r"--zk-auth-file .*chmod 0600"):
        build_connection({"zk_auth_file": str(_secret(tmp_path, "digest:ops:pw", 0o644))})
    with pytest.raises(ConfigError, match="not both"):
        build_connection(
            {"zk_auth": "digest:a:b", "zk_auth_file": str(_secret(tmp_path, "digest:ops:pw"))}
        )


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not checked before the key\n")
    with pytest.raises(ConfigError, match=r"--zk-tls-cert .*needs --zk-tls-key"):
        build_connection({"zk_tls_cert": str(cert)})


def test_only_connection_flags_are_taken() -> None:
    with pytest.raises(TypeError, match="file_dir"):
        build_connection({"file_dir": "/tmp/x"})


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_refuses_a_bad_connection_flag_in_one_line(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--zk-servers", "no-port"])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        f"election {command[0]}: invalid --zk-servers (ELECTION_ZK_SERVERS)"
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_reads_the_election_variables(command: list[str]) -> None:
    result = CliRunner().invoke(main, command, env={"ELECTION_ELECTION_PATH": "relative"})
    assert result.exit_code == 2
    assert "invalid --election-path (ELECTION_ELECTION_PATH)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "--timeout", "soon"], "election status: invalid --timeout: not a duration"),
        (["pause", "--timeout", "0s"], "election pause: invalid --timeout: duration must be > 0"),
        (["handover", "--wait", "-1s"], "election handover: invalid --wait:"),
        (["handover", "--to", "a/b"], "election handover: invalid --to: must not contain '/'"),
        (["handover", "--to", ""], "election handover: invalid --to: must not be empty"),
        (["pause", "--reason", "x" * 300], "election pause: invalid --reason: must be at most 256"),
        (["pause", "--reason", "two\nlines"], "election pause: invalid --reason: must be one line"),
    ],
)
def test_a_bad_option_is_refused_in_one_line_before_any_connection(
    args: list[str], message: str
) -> None:
    # No ZooKeeper listens on port 1: had the command tried, it would exit 3.
    result = CliRunner().invoke(main, [*args, "--zk-servers", "127.0.0.1:1"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_help_names_the_exit_codes_and_the_connection_flags() -> None:
    for command in ("status", "handover", "pause", "resume"):
        text = CliRunner().invoke(main, [command, "--help"]).output
        for flag in ("--zk-servers", "--election-path", "--zk-auth-file", "--zk-tls-ca"):
            assert flag in text, (command, flag)
        assert "--timeout" in text and "ELECTION_ZK_AUTH" in text
    assert "1 when none does" in CliRunner().invoke(main, ["status", "--help"]).output


def test_durations_read_as_typed() -> None:
    shown = [format_seconds(s) for s in (0.0287, 0.25, 1.0, 1.234, 5.0, 30.0, 90.5)]
    assert shown == ["29ms", "250ms", "1s", "1.23s", "5s", "30s", "90s"]
