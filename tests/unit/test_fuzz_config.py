"""Hostile configuration: every flag, given any text, yields Settings or one ConfigError
naming the flag (exit 2 at the CLI); nothing else escapes, and a refused credential is
never quoted back."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from election.config import FLAGS, ConfigError, build_settings, flag_name, parse_servers
from election.durations import parse_duration
from election.security import parse_file_mode, parse_zk_auth
from tests.unit.fuzzing import FUZZ, no_hang

# Text that looks like what each parser expects, and everything else.
_PIECES = st.sampled_from(
    [
        *"0123456789:.,/[]%- \t\n\x00",
        "ms",
        "s",
        "m",
        "h",
        "us",
        "MiB",
        "k",
        "digest",
        "0o",
        "\u0661",
    ]
)
LIKELY = st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=20).map("".join))

_SAFE_DIR = tempfile.mkdtemp(prefix="fuzz-config-")
# Filesystem flags stay out of the real filesystem's way unless the fuzzer picks them.
_SANDBOX = {"file_dir": f"{_SAFE_DIR}/files", "journal": f"{_SAFE_DIR}/j.jsonl"}


@FUZZ
@given(key=st.sampled_from(FLAGS), value=LIKELY)
def test_any_text_for_any_flag_is_settings_or_a_config_error_naming_it(
    key: str, value: str
) -> None:
    raw: dict[str, object] = {**_SANDBOX, key: (value,) if key == "zk_servers" else value}
    with no_hang():
        try:
            build_settings(raw)
        except ConfigError as err:
            assert err.flag == flag_name(key)
            assert "\n" not in str(err)
    assert not Path(_SAFE_DIR, "files").exists()  # validation never creates anything


@FUZZ
@given(values=st.lists(LIKELY, max_size=5))
def test_server_lists_parse_or_refuse(values: list[str]) -> None:
    try:
        servers = parse_servers(values)
    except ValueError:
        return
    assert servers and all(":" in server for server in servers)


@FUZZ
@given(text=LIKELY)
def test_durations_parse_or_refuse(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert 0 < seconds < float("inf")


@FUZZ
@given(scheme=st.sampled_from(["digest", "sasl", "x", "", "di gest"]), secret=st.text(max_size=80))
def test_a_refused_credential_is_never_quoted(scheme: str, secret: str) -> None:
    credential = "Zq" + secret  # "Zq" appears in no message of ours
    try:
        auth = parse_zk_auth(f"{scheme}:{credential}")
    except ValueError as exc:
        assert "Zq" not in str(exc)
        return
    assert auth.credential == credential
    assert "Zq" not in repr(auth) and "Zq" not in auth.redacted.replace(auth.user or "", "")


@FUZZ
@given(text=LIKELY)
def test_file_modes_parse_to_safe_permission_bits_or_refuse(text: str) -> None:
    try:
        mode = parse_file_mode(text)
    except ValueError:
        return
    assert 0 <= mode <= 0o777 and not mode & 0o133
