"""Configuration parsing and validation: the `election run` half of the external contract."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.config import (
    DEFAULTS,
    FLAGS,
    ConfigError,
    Settings,
    build_settings,
    envvar_name,
    flag_name,
    parse_address,
    parse_duration,
    parse_election_path,
    parse_replica_id,
    parse_servers,
    parse_size,
)
from tests.read_only import read_only_dir


def _program(path: Path, mode: int = 0o755) -> Path:
    """A script at `path` (its directory made), with `mode`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def _snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def isolated(tmp_path: Path) -> dict[str, object]:
    """Raw values that keep the filesystem checks inside tmp_path."""
    return {"file_dir": str(tmp_path / "files"), "journal": str(tmp_path / "j" / "r.jsonl")}


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300ms", 0.3),
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("2h45m", 9900.0),
        ("1h2m3s4ms5us6ns", 3723.004005006),
        ("500ns", 5e-7),
        ("250us", 2.5e-4),
        ("250\u00b5s", 2.5e-4),
        ("250\u03bcs", 2.5e-4),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("+2s", 2.0),
        ("10", 10.0),
        ("0.25", 0.25),
        ("  7s\n", 7.0),
        ("1m0s", 60.0),
    ],
)
def test_parse_duration_accepts_go_syntax_and_bare_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)


def test_parse_duration_is_exact_for_milliseconds() -> None:
    assert parse_duration("300ms") == 0.3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0s", "must be > 0"),
        ("0", "must be > 0"),
        ("-1s", "must be > 0"),
        ("-5", "must be > 0"),
        ("0ms0s", "must be > 0"),
        ("", "empty"),
        ("   ", "empty"),
        ("ten", "not a duration"),
        ("s", "not a duration"),
        ("1s2", "not a duration"),
        ("1 s", "not a duration"),
        ("1.2.3s", "not a duration"),
        ("1e3", "not a duration"),
        ("inf", "not a duration"),
        ("nan", "not a duration"),
        ("1_000s", "not a duration"),
        ("\u0661s", "not a duration"),  # ARABIC-INDIC DIGIT ONE
        ("1d", "unknown unit 'd'"),
        ("1S", "unknown unit 'S'"),
        ("1sec", "unknown unit 'sec'"),
        ("9" * 65, "longer than"),
    ],
)
def test_parse_duration_refuses_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


_DURATION_ALPHABET = st.sampled_from([*"0123456789.+- \t", "ns", "us", "\u00b5s", "ms", "s", "m"])


@given(st.one_of(st.text(), st.lists(_DURATION_ALPHABET).map("".join)))
def test_parse_duration_gives_a_positive_finite_float_or_value_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError:
        return
    assert isinstance(value, float)
    assert math.isfinite(value)
    assert value > 0


# ---------------------------------------------------------------- servers and addresses


@pytest.mark.parametrize(
    ("values", "servers"),
    [
        (["127.0.0.1:2181"], ("127.0.0.1:2181",)),
        (["a:1,b:2"], ("a:1", "b:2")),
        (["a:1", "b:2,c:3"], ("a:1", "b:2", "c:3")),
        ([" a:1 , ,b:2, "], ("a:1", "b:2")),
        (["zk-1.example.com:2181"], ("zk-1.example.com:2181",)),
        (["zoo_1:2181"], ("zoo_1:2181",)),
        (["[::1]:2181"], ("[::1]:2181",)),
        (["[fe80::1%eth0]:2181"], ("[fe80::1%eth0]:2181",)),
        (["a:1,a:1"], ("a:1",)),
        (["a:02181"], ("a:2181",)),
        ("a:1,b:2", ("a:1", "b:2")),  # one string, not a list of characters
    ],
)
def test_parse_servers_accepts_host_port_lists(values: list[str], servers: tuple[str, ...]) -> None:
    assert parse_servers(values) == servers


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([], "no servers"),
        ([""], "no servers"),
        ([" , "], "no servers"),
        (["localhost"], "want host:port"),
        (["a:0"], "port must be"),
        (["a:65536"], "port must be"),
        (["a:-1"], "port must be"),
        (["a:x"], "port must be"),
        (["a:"], "port must be"),
        ([":2181"], "not a host name"),
        (["a b:1"], "not a host name"),
        (["-a:1"], "not a host name"),
        (["300.1.1.1:2181"], "not an IPv4 address"),
        (["::1:2181"], "need brackets"),
        (["[::1]2181"], "want \\[ipv6\\]:port"),
        (["[::1:2181"], "want \\[ipv6\\]:port"),
        (["[nope]:2181"], "not an IPv6 address"),
        (["a:1/app"], "chroot"),
        (["a:1", "b:0"], "port must be"),
    ],
)
def test_parse_servers_refuses_with_a_reason(values: list[str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_servers(values)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:9100", ("127.0.0.1", 9100)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:65535", ("localhost", 65535)),
        ("[::]:9100", ("::", 9100)),
        ("off", None),
        (" OFF ", None),
    ],
)
def test_parse_address(text: str, address: tuple[str, int] | None) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "9100", ":9100", "a:65536", "a:b", "on", "::1:9100"])
def test_parse_address_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


# ---------------------------------------------------------------- znode names


@pytest.mark.parametrize("path", ["/election/leader", "/a", "/my app/leader-1"])
def test_parse_election_path_accepts_absolute_paths(path: str) -> None:
    assert parse_election_path(path) == path


@pytest.mark.parametrize(
    "path", ["", "/", "election", "/a/", "/a//b", "/a/./b", "/a/..", "/zookeeper/x", "/a\nb"]
)
def test_parse_election_path_refuses(path: str) -> None:
    with pytest.raises(ValueError):
        parse_election_path(path)


@pytest.mark.parametrize(
    "replica_id", ["", "  ", "a/b", ".", "..", "a\tb", "x" * 129, "a\x00", "a\ufffe"]
)
def test_parse_replica_id_refuses(replica_id: str) -> None:
    with pytest.raises(ValueError):
        parse_replica_id(replica_id)


def test_parse_replica_id_accepts_up_to_128_printable_characters() -> None:
    assert parse_replica_id("x" * 128) == "x" * 128
    assert parse_replica_id(" node-1 ") == "node-1"


# ---------------------------------------------------------------- errors and names


def test_env_var_names_mirror_the_flags() -> None:
    assert [envvar_name(flag_name(key)) for key in FLAGS] == [
        "ELECTION_ZK_SERVERS",
        "ELECTION_LEADER_TIMEOUT",
        "ELECTION_ATTEMPTER_TIMEOUT",
        "ELECTION_FILE_DIR",
        "ELECTION_STORAGE_CAPACITY",
        "ELECTION_ELECTION_PATH",
        "ELECTION_REPLICA_ID",
        "ELECTION_PRIORITY",
        "ELECTION_SESSION_TIMEOUT",
        "ELECTION_JOURNAL",
        "ELECTION_JOURNAL_MAX_BYTES",
        "ELECTION_JOURNAL_KEEP",
        "ELECTION_METRICS_ADDRESS",
        "ELECTION_LOG_LEVEL",
        "ELECTION_LOG_FORMAT",
        "ELECTION_EXEC",
        "ELECTION_EXEC_GRACE",
        "ELECTION_EXEC_EXIT",
        "ELECTION_LEADER_FILES",
        "ELECTION_ZK_AUTH",
        "ELECTION_ZK_AUTH_FILE",
        "ELECTION_ZK_TLS_CA",
        "ELECTION_ZK_TLS_CERT",
        "ELECTION_ZK_TLS_KEY",
        "ELECTION_FILE_MODE",
    ]


def test_config_error_is_one_line_naming_flag_and_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({"leader_timeout": "0s"})
    err = caught.value
    assert err.flag == "--leader-timeout"
    assert err.envvar == "ELECTION_LEADER_TIMEOUT"
    assert str(err) == (
        "invalid --leader-timeout (ELECTION_LEADER_TIMEOUT): duration must be > 0, got '0s'"
    )


def test_config_error_quotes_control_characters_so_it_stays_one_line(
    isolated: dict[str, object],
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({**isolated, "election_path": "/a\n/b"})
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------- build_settings


def test_build_settings_applies_the_documented_defaults() -> None:
    settings = build_settings({})
    assert settings.zk_servers == ("127.0.0.1:2181",)
    assert settings.leader_timeout == 10.0
    assert settings.attempter_timeout == 10.0
    assert settings.file_dir == Path("/tmp/election")
    assert settings.storage_capacity == 10
    assert settings.election_path == "/election/leader"
    assert settings.replica_id.endswith(f"-{os.getpid()}")
    assert settings.session_timeout == 10.0
    assert settings.journal == Path(f"/tmp/election-journal/{settings.replica_id}.jsonl")
    assert settings.metrics_address == ("127.0.0.1", 9100)
    assert settings.log_level == "info"
    assert settings.log_format == "text"
    assert settings.stop_deadline == 5.0
    assert settings.exec_grace == 3.0
    assert settings.journal_max_bytes == 64 * 1024 * 1024
    assert settings.journal_keep == 5


def test_build_settings_treats_none_and_empty_servers_as_not_given() -> None:
    default = build_settings({})
    explicit_none = build_settings({key: None for key in FLAGS} | {"zk_servers": ()})
    assert attrs.evolve(explicit_none, replica_id=default.replica_id) == default


def test_build_settings_takes_every_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_program(tmp_path / "bin" / "backup").parent))
    settings = build_settings(
        {
            "zk_servers": ("zk1:2181,zk2:2181", "zk3:2181"),
            "leader_timeout": "500ms",
            "attempter_timeout": "1m30s",
            "file_dir": str(tmp_path / "files"),
            "storage_capacity": "3",
            "election_path": "/jobs/compactor",
            "replica_id": "node-a",
            "session_timeout": "9",  # the grace may be a third of it
            "journal": str(tmp_path / "journal.jsonl"),
            "journal_max_bytes": "10MB",
            "journal_keep": "3",
            "metrics_address": "off",
            "log_level": "DEBUG",
            "log_format": "json",
            "exec": "backup --to '/srv/backups/my dir'",
            "exec_grace": "3s",
            "exec_exit": "restart",
            "leader_files": "on",
            "zk_auth": "digest:election:s3cret",
            "file_mode": "0640",
        }
    )
    assert settings.as_header_config() == {
        "zk_servers": ["zk1:2181", "zk2:2181", "zk3:2181"],
        "leader_timeout": 0.5,
        "attempter_timeout": 90.0,
        "file_dir": str(tmp_path / "files"),
        "storage_capacity": 3,
        "election_path": "/jobs/compactor",
        "replica_id": "node-a",
        "priority": 1,
        "session_timeout": 9.0,
        "journal": str(tmp_path / "journal.jsonl"),
        "journal_max_bytes": 10_000_000,
        "journal_keep": 3,
        "metrics_address": None,
        "log_level": "debug",
        "log_format": "json",
        "exec": ["backup", "--to", "/srv/backups/my dir"],  # as typed, not as found on PATH
        "exec_grace": 3.0,
        "exec_exit": "restart",
        "write_files": True,
        "stop_deadline": 8.0,  # the job's grace plus the daemon's own stop
        "zk_auth": "digest:election:***",  # never the credential
        "zk_auth_file": None,
        "zk_tls": None,
        "file_mode": "0640",
        "protocol": "queue",  # this build speaks the candidates' queue
    }


def test_leader_files_are_off_by_default_when_there_is_a_job(
    isolated: dict[str, object],
) -> None:
    assert build_settings(isolated).write_files
    with_job = build_settings({**isolated, "exec": ("sleep", "10")})
    assert with_job.exec_command == ("sleep", "10") and not with_job.write_files
    both = build_settings({**isolated, "exec": "sleep 10", "leader_files": "on"})
    assert both.write_files
    assert not build_settings({**isolated, "leader_files": "off"}).write_files


def test_header_config_formats_the_metrics_address(isolated: dict[str, object]) -> None:
    settings = build_settings({**isolated, "metrics_address": "[::1]:0"})
    assert settings.as_header_config()["metrics_address"] == "[::1]:0"


def test_default_journal_follows_the_replica_id() -> None:
    assert build_settings({"replica_id": "r7"}).journal == Path("/tmp/election-journal/r7.jsonl")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("zk_servers", ("a:1", "b:0")),
        ("leader_timeout", "0s"),
        ("attempter_timeout", "soon"),
        ("file_dir", ""),
        ("storage_capacity", "0"),
        ("storage_capacity", "-1"),
        ("storage_capacity", "ten"),
        ("storage_capacity", "1.5"),
        ("storage_capacity", "+5"),
        ("election_path", "leader"),
        ("replica_id", "a/b"),
        ("session_timeout", "-3s"),
        ("journal", ""),
        ("journal_max_bytes", "64XB"),
        ("journal_max_bytes", "999"),
        ("journal_max_bytes", "-1MiB"),
        ("journal_keep", "0"),
        ("journal_keep", "two"),
        ("metrics_address", "9100"),
        ("log_level", "verbose"),
        ("log_format", "xml"),
    ],
)
def test_build_settings_blames_the_invalid_flag(
    key: str, value: object, isolated: dict[str, object]
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({**isolated, key: value})
    assert caught.value.flag == flag_name(key)


def test_build_settings_reports_the_first_invalid_flag_in_table_order() -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({"log_format": "xml", "attempter_timeout": "0", "leader_timeout": "x"})
    assert caught.value.flag == "--leader-timeout"


def test_build_settings_refuses_unknown_keys() -> None:
    with pytest.raises(TypeError, match="leader_timeuot"):
        build_settings({"leader_timeuot": "1s"})


def test_build_settings_accepts_numbers_and_paths(tmp_path: Path) -> None:
    settings = build_settings(
        {
            "storage_capacity": 4,
            "leader_timeout": 2,
            "file_dir": tmp_path,
            "journal": tmp_path / "j",
        }
    )
    assert (settings.storage_capacity, settings.leader_timeout) == (4, 2.0)
    assert settings.file_dir == tmp_path


# ---------------------------------------------------------------- filesystem checks


def test_file_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("x")
    before = _snapshot(tmp_path)
    with pytest.raises(ConfigError, match="exists and is not a directory") as caught:
        build_settings({"file_dir": str(tmp_path / "occupied"), "journal": str(tmp_path / "j")})
    assert caught.value.flag == "--file-dir"
    assert _snapshot(tmp_path) == before


def test_file_dir_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("x")
    before = _snapshot(tmp_path)
    with pytest.raises(ConfigError, match="cannot be created") as caught:
        build_settings({"file_dir": str(tmp_path / "occupied" / "a" / "b")})
    assert caught.value.flag == "--file-dir"
    assert _snapshot(tmp_path) == before


def test_missing_file_dir_and_journal_are_fine_and_not_created(tmp_path: Path) -> None:
    settings = build_settings(
        {"file_dir": str(tmp_path / "a" / "b"), "journal": str(tmp_path / "c" / "d" / "j.jsonl")}
    )
    assert settings.file_dir == tmp_path / "a" / "b"
    assert _snapshot(tmp_path) == []


def test_journal_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory") as caught:
        build_settings({"file_dir": str(tmp_path / "files"), "journal": str(tmp_path)})
    assert caught.value.flag == "--journal"
    assert _snapshot(tmp_path) == []


def test_journal_whose_parent_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("x")
    before = _snapshot(tmp_path)
    with pytest.raises(ConfigError, match="cannot be created") as caught:
        build_settings(
            {
                "file_dir": str(tmp_path / "files"),
                "journal": str(tmp_path / "occupied" / "sub" / "j.jsonl"),
            }
        )
    assert caught.value.flag == "--journal"
    assert caught.value.envvar == "ELECTION_JOURNAL"
    assert _snapshot(tmp_path) == before


def test_journal_below_a_directory_we_cannot_write_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests often run as root, for whom a read-only mode means nothing: fake the answer.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(ConfigError, match="is not writable") as caught:
        build_settings({"file_dir": str(tmp_path), "journal": str(tmp_path / "x" / "j.jsonl")})
    assert caught.value.flag == "--journal"
    assert _snapshot(tmp_path) == []


def test_journal_check_does_not_follow_a_missing_parent_into_a_dangling_link(
    tmp_path: Path,
) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError) as caught:
        build_settings({"file_dir": str(tmp_path), "journal": str(tmp_path / "link" / "j.jsonl")})
    assert caught.value.flag == "--journal"
    assert not (tmp_path / "nowhere").exists()


def test_path_with_nul_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NUL"):
        build_settings({"file_dir": "/tmp/a\0b"})


# ---------------------------------------------------------------- Settings itself


def test_settings_validate_their_fields(tmp_path: Path) -> None:
    good = build_settings({"file_dir": str(tmp_path), "journal": str(tmp_path / "j")})
    changes: list[dict[str, Any]] = [
        {"leader_timeout": 0.0},
        {"session_timeout": math.inf},
        {"storage_capacity": 0},
        {"election_path": "/a/"},
        {"replica_id": "a/b"},
        {"log_level": "loud"},
        {"zk_servers": ()},
    ]
    for change in changes:
        with pytest.raises((ValueError, TypeError)):
            attrs.evolve(good, **change)


def test_settings_are_frozen_and_keyword_only(tmp_path: Path) -> None:
    settings = build_settings({"file_dir": str(tmp_path), "journal": str(tmp_path / "j")})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.leader_timeout = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Settings(("a:1",))  # type: ignore[call-arg]


def test_static_defaults_are_all_valid_text() -> None:
    # The CLI passes these to click as defaults; they must survive build_settings as-is.
    assert build_settings(dict(DEFAULTS)).zk_servers == ("127.0.0.1:2181",)


# ---------------------------------------------------------------- the job (--exec)


def _refusal(raw: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        build_settings(raw)
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("session", "grace"),
    [
        ("10s", "3.333s"),  # the example of the README: a third, rounded down
        ("10s", "3s"),  # the default grace in the default session
        ("9s", "3s"),  # exactly a third
        ("3s", "1s"),
        ("0.3s", "100ms"),  # a third that floats cannot hold exactly
        ("2s", "0.5s"),  # what the end-to-end tests run with
        ("90s", "30s"),
        ("1h", "20m"),
    ],
)
def test_a_grace_up_to_a_third_of_the_session_timeout_fits(
    session: str, grace: str, isolated: dict[str, object]
) -> None:
    settings = build_settings(
        {**isolated, "exec": "true", "session_timeout": session, "exec_grace": grace}
    )
    assert settings.exec_grace <= settings.session_timeout / 3 + 1e-9


@pytest.mark.parametrize(
    ("session", "grace", "shown"),
    [
        ("10s", "30s", "30s does not fit in the job's lease"),
        ("10s", "3.334s", "(3.333s)"),
        ("9s", "3.001s", "(3s)"),
        ("5s", "1.667s", "(1.666s)"),  # rounded down: the value shown is one that fits
        (
            "2s",
            "0.667s",
            "0.667s does not fit in the job's lease: at most a third of "
            "--session-timeout 2s (0.666s)",
        ),
        ("2s", "1s", "1s does not fit"),
        ("10s", "10s", "(3.333s)"),  # the old default
        ("90s", "1m30s", "90s does not fit"),
    ],
)
def test_a_grace_above_a_third_of_the_session_timeout_is_refused(
    session: str, grace: str, shown: str, isolated: dict[str, object]
) -> None:
    raw = {**isolated, "exec": "true", "session_timeout": session, "exec_grace": grace}
    error = _refusal(raw)
    assert error.flag == "--exec-grace" and error.envvar == "ELECTION_EXEC_GRACE"
    assert shown in error.message


@given(session_ms=st.integers(1, 10**7), grace_ms=st.integers(1, 10**7))
def test_a_grace_fits_exactly_when_it_is_at_most_a_third_of_the_session_timeout(
    session_ms: int, grace_ms: int
) -> None:
    raw = {
        "file_dir": "/nonexistent/files",
        "journal": "/tmp/election-test-unused.jsonl",
        "exec": "true",
        "session_timeout": f"{session_ms}ms",
        "exec_grace": f"{grace_ms}ms",
    }
    try:
        build_settings(raw)
    except ConfigError as err:
        assert err.flag == "--exec-grace", err
        assert 3 * grace_ms > session_ms
    else:
        assert 3 * grace_ms <= session_ms


def test_the_grace_message_is_the_documented_one(isolated: dict[str, object]) -> None:
    error = _refusal({**isolated, "exec": ("true",), "exec_grace": "30s"})
    assert str(error) == (
        "invalid --exec-grace (ELECTION_EXEC_GRACE): 30s does not fit in the job's lease: "
        "at most a third of --session-timeout 10s (3.333s)"
    )


def test_the_rounded_down_limit_in_the_message_fits(isolated: dict[str, object]) -> None:
    for session in ("5s", "7s", "0.3s", "2s", "11s", "1m40s", "250ms"):
        message = _refusal(
            {**isolated, "exec": "true", "session_timeout": session, "exec_grace": "1h"}
        ).message
        shown = message.rpartition("(")[2].rstrip(")")
        raw = {**isolated, "exec": "true", "session_timeout": session, "exec_grace": shown}
        assert build_settings(raw).exec_grace == parse_duration(shown), (session, shown)


def test_without_a_job_the_grace_is_not_checked(isolated: dict[str, object]) -> None:
    # ELECTION_EXEC_GRACE may be exported for every replica; only those with a job use it.
    settings = build_settings({**isolated, "exec_grace": "30s", "session_timeout": "2s"})
    assert settings.exec_grace == 30.0 and settings.exec_command == ()


def test_the_default_grace_fits_the_default_session_timeout(isolated: dict[str, object]) -> None:
    settings = build_settings({**isolated, "exec": "true"})
    assert (settings.exec_grace, settings.session_timeout) == (3.0, 10.0)


@pytest.mark.parametrize(
    ("session", "grace"),
    [
        ("10s", 3.0),
        ("9s", 3.0),
        ("1m", 3.0),
        ("6s", 2.0),
        ("2s", 0.666),  # a third, rounded down to the millisecond: it fits
        ("300ms", 0.1),
        ("2ms", 2 / 3 / 1000),  # below a millisecond: the third itself
    ],
)
def test_the_default_grace_is_the_smaller_of_3s_and_a_third_of_the_session_timeout(
    session: str, grace: float, isolated: dict[str, object]
) -> None:
    # `election run --session-timeout 2s --exec job` used to be refused for a grace the
    # user never typed: a default must always be valid.
    settings = build_settings({**isolated, "exec": "true", "session_timeout": session})
    assert settings.exec_grace == pytest.approx(grace, rel=1e-9)


@given(session_ms=st.integers(1, 10**7))
def test_the_default_grace_fits_every_session_timeout(session_ms: int) -> None:
    raw = {
        "file_dir": "/nonexistent/files",
        "journal": "/tmp/election-test-unused.jsonl",
        "exec": "true",
        "session_timeout": f"{session_ms}ms",
    }
    settings = build_settings(raw)
    assert 0 < settings.exec_grace <= min(3.0, session_ms / 3000 + 1e-9)
    assert settings.exec_grace > min(3.0, session_ms / 3000) - 0.001


def test_a_refused_grace_prints_its_numbers_alike(isolated: dict[str, object]) -> None:
    # Every figure to the millisecond: not `(0.6666s)` beside `(3.333s)`.
    error = _refusal({**isolated, "exec": "true", "session_timeout": "2s", "exec_grace": "3s"})
    assert str(error) == (
        "invalid --exec-grace (ELECTION_EXEC_GRACE): 3s does not fit in the job's lease: "
        "at most a third of --session-timeout 2s (0.666s)"
    )
    error = _refusal({**isolated, "exec": "true", "session_timeout": "2.5s", "exec_grace": "1s"})
    assert error.message.endswith("--session-timeout 2.5s (0.833s)")


def test_an_invalid_grace_is_refused_before_its_fit_is_checked(
    isolated: dict[str, object],
) -> None:
    error = _refusal({**isolated, "exec": "true", "exec_grace": "soon"})
    assert error.flag == "--exec-grace" and "does not fit" not in error.message


def test_a_program_that_does_not_exist_is_refused(
    tmp_path: Path, isolated: dict[str, object]
) -> None:
    missing = tmp_path / "no-such-job"
    error = _refusal({**isolated, "exec": f"{missing} --flag"})
    assert error.flag == "--exec" and error.envvar == "ELECTION_EXEC"
    assert error.message == f"program {str(missing)!r} does not exist"
    below_a_file = _program(tmp_path / "job") / "x"
    assert "does not exist" in _refusal({**isolated, "exec": str(below_a_file)}).message


def test_a_program_that_is_not_executable_is_refused(
    tmp_path: Path, isolated: dict[str, object]
) -> None:
    script = _program(tmp_path / "job.sh", mode=0o644)
    error = _refusal({**isolated, "exec": (str(script), "arg")})
    assert error.message == f"program {str(script)!r} is not executable"


def test_a_program_that_is_a_directory_is_refused(
    tmp_path: Path, isolated: dict[str, object]
) -> None:
    error = _refusal({**isolated, "exec": str(tmp_path)})
    assert error.message == f"program {str(tmp_path)!r} is a directory"


def test_a_program_that_is_not_a_regular_file_is_refused(isolated: dict[str, object]) -> None:
    assert _refusal({**isolated, "exec": "/dev/null"}).message == (
        "program '/dev/null' is not a regular file"
    )


def test_an_empty_program_name_is_refused(isolated: dict[str, object]) -> None:
    assert _refusal({**isolated, "exec": "'' arg"}).message == "the program name is empty"
    assert "NUL" in _refusal({**isolated, "exec": ("a\0b",)}).message


def test_a_relative_program_path_is_found_from_the_working_directory(
    tmp_path: Path, isolated: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    _program(tmp_path / "bin" / "job")
    monkeypatch.chdir(tmp_path)
    assert build_settings({**isolated, "exec": "bin/job"}).exec_command == ("bin/job",)
    assert build_settings({**isolated, "exec": "./bin/job"}).exec_command == ("./bin/job",)
    monkeypatch.chdir(tmp_path / "bin")
    assert "does not exist" in _refusal({**isolated, "exec": "bin/job"}).message


def test_a_bare_program_name_is_looked_up_on_path_and_kept_as_typed(
    tmp_path: Path, isolated: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = _program(tmp_path / "bin" / "my-job").parent
    _program(bin_dir / "not-runnable", mode=0o644)
    (bin_dir / "a-directory").mkdir()
    monkeypatch.setenv("PATH", f"{tmp_path / 'empty'}:{bin_dir}")
    settings = build_settings({**isolated, "exec": "my-job --once"})
    assert settings.exec_command == ("my-job", "--once")  # not the path it was found at
    assert settings.as_header_config()["exec"] == ["my-job", "--once"]
    for name in ("true", "not-runnable", "a-directory"):  # true: not on this PATH
        error = _refusal({**isolated, "exec": name})
        assert error.message == f"program {name!r} not found on PATH"


def test_the_program_is_checked_before_the_grace(isolated: dict[str, object]) -> None:
    # In table order: --exec comes before --exec-grace.
    error = _refusal({**isolated, "exec": "no-such-program-here", "exec_grace": "1h"})
    assert error.flag == "--exec"


def test_checking_the_job_creates_nothing(tmp_path: Path) -> None:
    raw = {"file_dir": str(tmp_path / "f"), "journal": str(tmp_path / "j" / "r.jsonl")}
    for bad in ({"exec": "nope"}, {"exec": "true", "exec_grace": "1h"}):
        _refusal({**raw, **bad})
    assert _snapshot(tmp_path) == []


# ---------------------------------------------------------------- journal rotation


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64MiB", 64 * 2**20),
        ("10MB", 10_000_000),
        ("500k", 500_000),
        ("500kB", 500_000),
        ("4 KiB", 4096),
        ("1.5MiB", 3 * 2**19),
        ("2G", 2_000_000_000),
        ("4096", 4096),
        ("1000", 1000),
        (" 8ki ", 8192),
    ],
)
def test_parse_size_takes_si_and_iec_suffixes_or_bytes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["0", "off", "OFF", "0MiB"])
def test_a_zero_or_off_size_means_no_rotation(text: str) -> None:
    assert parse_size(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "want a size"),
        ("64XB", "want a size"),
        ("-1", "want a size"),
        ("1e6", "want a size"),
        ("MiB", "want a size"),
        ("999", "at least 1000 bytes"),
        ("0.5k", "at least 1000 bytes"),
    ],
)
def test_parse_size_refuses_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_size(text)


def test_journal_rotation_flags_reach_the_settings(isolated: dict[str, object]) -> None:
    settings = build_settings({**isolated, "journal_max_bytes": "4k", "journal_keep": "2"})
    assert (settings.journal_max_bytes, settings.journal_keep) == (4000, 2)
    off = build_settings({**isolated, "journal_max_bytes": "off"})
    assert off.journal_max_bytes is None
    assert off.as_header_config()["journal_max_bytes"] is None


def test_an_invalid_journal_size_names_flag_and_variable(isolated: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({**isolated, "journal_max_bytes": "lots"})
    assert str(caught.value).startswith(
        "invalid --journal-max-bytes (ELECTION_JOURNAL_MAX_BYTES): want a size"
    )


# ---------------------------------------------------------------- file-dir that can never work


def test_a_file_dir_on_a_read_only_place_is_refused(tmp_path: Path) -> None:
    # The daemon used to start and loop on `FileDirChecked failed: EROFS` for ever.
    with read_only_dir(tmp_path) as ro:
        journal = str(tmp_path / "j" / "r.jsonl")
        error = _refusal({"file_dir": str(ro / "files"), "journal": journal})
        assert error.flag == "--file-dir" and error.envvar == "ELECTION_FILE_DIR"
        assert error.message.startswith(f"cannot be created: {str(ro)!r} is not writable (")
        error = _refusal({"file_dir": str(ro), "journal": journal})
        assert error.message.startswith(f"{str(ro)!r} is not writable (")
        reason = error.message.rpartition("(")[2]
        assert reason in ("read-only file system)", "no permission to write)")
        # Without leader files (a job only), file-dir is none of the daemon's business.
        settings = build_settings({"file_dir": str(ro), "journal": journal, "exec": "true"})
        assert not settings.write_files
        error = _refusal(
            {"file_dir": str(ro), "journal": journal, "exec": "true", "leader_files": "on"}
        )
        assert error.flag == "--file-dir"
    assert not (tmp_path / "j").exists()  # nothing made
