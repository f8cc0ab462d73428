"""Hostile journals: the reader and `election-replay` give a clean result, or refuse with
exit 2 and a one-line message naming the file; never a traceback, never a hang.

Inputs: random bytes, truncations and byte flips of a real hand-over journal, and lines a
hostile or broken writer could leave: deep nesting, huge numbers, invalid UTF-8, huge
lines, wrong types in the right places.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from election_replay.cli import main as replay_main
from journal import JournalError, read_journal
from tests.unit.fuzzing import FUZZ, no_hang
from tests.unit.test_replay import handover


@pytest.fixture(scope="module")
def real_journal(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    first, _ = handover(tmp_path_factory.mktemp("fuzz-journal"))
    return first.read_bytes()


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-journal-") as directory:
        yield Path(directory) / "journal.jsonl"


def _check(path: Path, data: bytes) -> None:
    """The reader returns or raises JournalError; replay exits 0, 1 or 2 (with one line)."""
    path.write_bytes(data)
    with no_hang():
        try:
            read_journal(path)
        except JournalError as exc:
            assert str(path) in str(exc)
        result = CliRunner().invoke(replay_main, ["--json", str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("election-replay: "), result.stderr


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(scratch: Path, data: bytes) -> None:
    _check(scratch, data)


@FUZZ
@given(data=st.data())
def test_truncations_and_flipped_bytes_of_a_real_journal(
    scratch: Path, real_journal: bytes, data: st.DataObject
) -> None:
    raw = bytearray(real_journal[: data.draw(st.integers(0, len(real_journal)), "cut")])
    for _ in range(data.draw(st.integers(0, 4), "flips")):
        if raw:
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] = data.draw(st.integers(0, 255))
    _check(scratch, bytes(raw))


def _nested(depth: int, open_: bytes, close: bytes) -> bytes:
    return open_ * depth + b"1" + close * depth


HOSTILE_VALUES = [
    _nested(100_000, b"[", b"]"),  # far beyond orjson's recursion limit
    _nested(1000, b"[", b"]"),
    _nested(500, b'{"a":', b"}"),
    b"1" * 100_000,  # a huge integer
    b"-" + b"9" * 30,
    b"1e400",
    b"-1e400",
    b"NaN",
    b"18446744073709551616",  # 2**64
    b"9223372036854775808",  # 2**63
    b"-9223372036854775809",
    b"1.7976931348623157e308",
    b'"' + b"x" * 2_000_000 + b'"',  # a huge line
    b'"\xff\xfe"',  # invalid UTF-8 inside a string
    b'"\xed\xa0\x80"',  # an encoded surrogate
    b'"\\ud800"',  # an escaped lone surrogate
    b"null",
    b"true",
    b"{}",
    b"[]",
    b'""',
    b'"\\u0000"',
]
RECORD_KEYS = ["seq", "at", "wall", "event", "state", "effects", "cause", "type"]


@FUZZ
@given(
    data=st.data(),
    value=st.sampled_from(HOSTILE_VALUES),
    key=st.sampled_from(RECORD_KEYS),
)
def test_hostile_values_in_a_real_journal(
    scratch: Path, real_journal: bytes, data: st.DataObject, value: bytes, key: str
) -> None:
    lines = real_journal.splitlines(keepends=True)
    where = data.draw(st.integers(0, len(lines)), "line")
    mode = data.draw(st.sampled_from(["replace-field", "whole-line", "append"]), "mode")
    if mode == "replace-field" and where < len(lines):
        needle = f'"{key}":'.encode()
        line = lines[where]
        at = line.find(needle)
        if at >= 0:
            lines[where] = line[: at + len(needle)] + value + b"," + line[at + len(needle) :]
    elif mode == "whole-line":
        lines.insert(where, value + b"\n")
    else:
        lines.insert(where, b'{"seq":' + value + b',"at":0,"wall":0,"event":{},"state":"x"}\n')
    _check(scratch, b"".join(lines))


def test_every_hostile_value_as_a_whole_journal(scratch: Path) -> None:
    for value in HOSTILE_VALUES:
        _check(scratch, value + b"\n")
        _check(scratch, b'{"header":' + value + b"}\n")
