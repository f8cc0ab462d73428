"""The flag table is the one declaration of a flag: `--help`, the variables, `Settings`,
the journal header and the core's configuration all come from it, so a flag added as one
entry shows up everywhere it should, and nowhere else is a flag named on its own."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from election.cli import main
from election.config import DEFAULTS, FLAGS, SWITCHES, build_settings
from election.core.state import CoreConfig
from election.flags import BY_NAME, CONNECTION, TABLE, Settings, core_config_from_header
from election.flagspec import ENTRY, REQUIRED, Derived, Flag

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, object]:
    return {"file_dir": str(tmp_path / "files"), "journal": str(tmp_path / "j.jsonl")}


def _options_help() -> str:
    """`run --help`'s options, as one line."""
    result = CliRunner().invoke(main, ["run", "--help"], terminal_width=1000)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.partition("Options:")[2].split())


def test_settings_has_exactly_the_tables_fields() -> None:
    fields = attrs.fields(Settings)
    assert all(ENTRY in field.metadata for field in fields), "a field without its entry"
    assert [entry.field for entry in TABLE] == [field.name for field in fields]
    derived = [entry.field for entry in TABLE if isinstance(entry, Derived)]
    assert derived == [
        "write_files",
        "stop_deadline",
        "zk_tls",
        "protocol",
    ]
    assert [*FLAGS, *SWITCHES] == [*(n for n in BY_NAME if n != "tui"), "tui"]
    assert [*SWITCHES] == ["tui"]


@pytest.mark.parametrize("flag", BY_NAME.values(), ids=list(BY_NAME))
def test_every_flag_is_in_run_help_with_its_variable_and_default(flag: Flag) -> None:
    text = _options_help()
    line = text[text.index(f"{flag.flag} ") :]
    line = line[: line.index("]") + 1]
    assert flag.help.split()[0] in line
    if flag.switch:
        assert f"[env var: {flag.envvar}=1]" in line
        return
    assert line.startswith(f"{flag.flag} {flag.metavar} ")
    assert f"env var: {flag.envvar}" in line
    if isinstance(flag.default, str):
        assert f"default: {flag.default}" in line
        assert DEFAULTS[flag.name] == flag.default
    elif flag.shown_default is not None:
        assert f"default: ({flag.shown_default})" in line
    else:
        assert "default:" not in line


@pytest.mark.parametrize("flag", BY_NAME.values(), ids=list(BY_NAME))
def test_every_static_default_is_valid_text(flag: Flag, sandbox: dict[str, object]) -> None:
    if isinstance(flag.default, str) and flag.name not in sandbox:
        assert build_settings({**sandbox, flag.name: flag.default}) == build_settings(sandbox)


def test_the_header_holds_the_declared_entries_in_the_tables_order(
    sandbox: dict[str, object],
) -> None:
    header = build_settings(sandbox).as_header_config()
    declared = [entry.header_key for entry in TABLE if entry.header_key is not None]
    assert list(header) == declared
    assert {"tui", "leader_files", "zk_tls_ca"}.isdisjoint(header)  # only what they decide


def test_a_secret_never_reaches_the_header_or_the_repr_in_the_clear(
    sandbox: dict[str, object],
) -> None:
    settings = build_settings({**sandbox, "zk_auth": "digest:election:Zq-s3cret"})
    secrets = [entry for entry in TABLE if entry.secret]
    assert [entry.name for entry in secrets] == ["zk_auth"]
    assert "Zq-s3cret" not in str(settings.as_header_config())
    assert "Zq-s3cret" not in repr(settings)
    assert settings.as_header_config()["zk_auth"] == "digest:election:***"


class _Recording(Mapping[str, Any]):
    """A header config that records which keys are read."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.config[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self.config

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the core's config reads declared keys, it does not list them")

    def __len__(self) -> int:
        return len(self.config)


def test_the_cores_config_reads_only_the_header_keys_the_table_declares(
    sandbox: dict[str, object],
) -> None:
    settings = build_settings({**sandbox, "exec": "true", "exec_exit": "restart"})
    header = _Recording(settings.as_header_config())
    config = core_config_from_header(header)
    assert header.read == {e.header_key for e in TABLE if e.core is not None}
    assert config.exec_command == ("true",) and config.exec_exit == "restart"
    assert config.replica == settings.replica_id and not config.write_files


def test_a_header_from_before_the_newer_flags_reads_as_their_absent_values(
    sandbox: dict[str, object],
) -> None:
    today = build_settings(sandbox).as_header_config()
    required = {e.header_key for e in TABLE if e.core is not None and e.core.absent is REQUIRED}
    assert required == {
        "leader_timeout",
        "attempter_timeout",
        "storage_capacity",
        "election_path",
        "replica_id",
        "session_timeout",
    }
    old = {key: value for key, value in today.items() if key in required}
    # With the defaults, today's header says what an old one meant: no job, files on.
    assert core_config_from_header(old) == core_config_from_header(today)
    for key in required:
        with pytest.raises(KeyError):
            core_config_from_header({k: v for k, v in old.items() if k != key})


def test_the_core_gets_what_the_settings_say(sandbox: dict[str, object]) -> None:
    settings = build_settings(
        {**sandbox, "session_timeout": "30s", "exec": "true", "exec_grace": "7s"}
    )
    config = core_config_from_header(settings.as_header_config())
    assert config == CoreConfig(
        replica=settings.replica_id,
        election_path="/election/leader",
        leader_timeout=10.0,
        attempter_timeout=10.0,
        storage_capacity=10,
        init_deadline=30.0,
        answers_fresh_for=10.0,  # a third of the session
        stop_deadline=12.0,
        backoff_max=5.0,
        write_files=False,
        exec_command=("true",),
        exec_grace=7.0,
    )


def _string_constants(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_cli_names_no_flag_of_run() -> None:
    # The operator's commands take run's connection flags from the table (CONNECTION).
    names = {flag.name for flag in BY_NAME.values()} | {flag.flag for flag in BY_NAME.values()}
    named = _string_constants(ROOT / "election" / "cli.py") & names
    assert named == set()


def test_the_connection_flags_are_entries_of_the_table_in_its_order() -> None:
    fields = [entry.field for entry in TABLE]
    assert set(CONNECTION) <= set(fields)
    assert sorted(CONNECTION, key=fields.index) == list(CONNECTION)
    # Everything a client needs to reach ZooKeeper as `run` does, and nothing else.
    assert {name for name in CONNECTION if name in BY_NAME} == {
        "zk_servers",
        "election_path",
        "zk_auth",
        "zk_auth_file",
        "zk_tls_ca",
        "zk_tls_cert",
        "zk_tls_key",
    }
