"""Journal files: the writer's guarantees and the reader's tolerances and errors."""

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import (
    FORMAT_VERSION,
    JournalError,
    JournalFile,
    JournalWriter,
    dumps_line,
    is_header,
    iter_records,
    make_header,
    read_journal,
)

HEADER = make_header(
    replica="a-1", program="0.1.0", started_wall=1700000000.25, config={"leader_timeout": 10.0}
)


def record(seq: int, state: str = "Init", **more: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": 10.0 + seq,
        "wall": 1700000000.0 + seq,
        "event": {"type": "Started"},
        "state": state,
        **more,
    }


def write_journal(path: Path, *runs: list[dict[str, Any]]) -> None:
    for records in runs:
        with JournalWriter(path, HEADER, fsync=False) as writer:
            for rec in records:
                writer.append(rec)


def write_lines(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def header_line(**changes: Any) -> bytes:
    return dumps_line({**HEADER, **changes})


def read_error(path: Path) -> JournalError:
    with pytest.raises(JournalError) as caught:
        read_journal(path)
    return caught.value


# --- format -----------------------------------------------------------------------------


def test_dumps_line_is_compact_json_ending_in_newline() -> None:
    assert dumps_line({"seq": 1, "state": "Init"}) == b'{"seq":1,"state":"Init"}\n'


def test_is_header_tells_headers_from_records() -> None:
    assert is_header(HEADER)
    assert not is_header(record(1))
    assert not is_header([HEADER])


def test_make_header_carries_journal_name_and_format() -> None:
    assert HEADER["journal"] == "election"
    assert HEADER["format"] == FORMAT_VERSION == 1
    assert make_header(replica="r", program="p", started_wall=0.0, config={}, host="h")["host"]


# --- writer -----------------------------------------------------------------------------


def test_writer_creates_file_0600_and_missing_parents_0700(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.jsonl"
    with JournalWriter(path, HEADER):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


def test_writer_fd_is_close_on_exec(tmp_path: Path) -> None:
    with JournalWriter(tmp_path / "j", HEADER) as writer:
        # A child process (e.g. a hook the daemon runs) must not inherit the journal.
        assert fcntl.fcntl(writer._fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC  # type: ignore[arg-type]


def test_header_is_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "j"
    write_journal(path, [record(1)])
    first = path.read_bytes().splitlines()[0]
    assert orjson.loads(first) == HEADER


def test_writer_completes_a_header_without_journal_and_format(tmp_path: Path) -> None:
    bare = {k: v for k, v in HEADER.items() if k not in ("journal", "format")}
    with JournalWriter(tmp_path / "j", bare):
        pass
    assert read_journal(tmp_path / "j").runs[0].header == HEADER


def test_records_round_trip_through_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "j"
    records = [record(1), record(2, "Attempter", effects=[{"type": "Exit"}], token=None)]
    write_journal(path, records)
    journal = read_journal(path)
    assert journal == JournalFile(path=path, runs=journal.runs, notes=[])
    assert len(journal.runs) == 1
    assert journal.runs[0].header == HEADER
    assert journal.runs[0].records == records
    assert journal.runs[0].first_line == 1


def test_reopening_starts_a_new_run_with_its_own_header(tmp_path: Path) -> None:
    path = tmp_path / "j"
    write_journal(path, [record(1), record(2)], [record(1)], [])
    runs = read_journal(path).runs
    assert [len(r.records) for r in runs] == [2, 1, 0]
    assert [r.first_line for r in runs] == [1, 4, 6]
    assert all(r.header == HEADER for r in runs)


def test_bytes_written_counts_header_and_records(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with JournalWriter(path, HEADER) as writer:
        writer.append(record(1))
        assert writer.bytes_written == path.stat().st_size


def test_each_append_is_one_write_then_a_data_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_write, real_fdatasync = os.write, os.fdatasync

    def write(fd: int, data: bytes) -> int:
        calls.append("write")
        return real_write(fd, data)

    def fdatasync(fd: int) -> None:
        calls.append("fdatasync")  # the line and the file's size: all a reader needs
        real_fdatasync(fd)

    with JournalWriter(tmp_path / "j", HEADER) as writer:
        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fdatasync", fdatasync)
        writer.append(record(1))
        writer.append(record(2))
        assert calls == ["write", "fdatasync", "write", "fdatasync"]


def test_fsync_false_syncs_only_on_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    writer = JournalWriter(tmp_path / "j", HEADER, fsync=False)
    monkeypatch.setattr(os, "fsync", fsync)
    writer.append(record(1))
    assert synced == []
    writer.close()
    assert len(synced) == 1


def test_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "j"
    real_write = os.write
    with JournalWriter(path, HEADER) as writer:
        monkeypatch.setattr(os, "write", lambda fd, b: real_write(fd, bytes(b[:7])))
        writer.append(record(1))
    assert read_journal(path).runs[0].records == [record(1)]


def test_failed_write_makes_the_writer_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    with JournalWriter(tmp_path / "j", HEADER) as writer:
        monkeypatch.setattr(os, "write", no_space)
        with pytest.raises(OSError):
            writer.append(record(1))
        monkeypatch.undo()
        with pytest.raises(ValueError, match="earlier write failed"):
            writer.append(record(2))


@pytest.mark.parametrize(
    "bad",
    [
        {"seq": 1},
        record(1, event={"no": "type"}),
        record(1, at=float("nan")),
        record(1, wall=float("inf")),
        record(1, token="7"),
    ],
)
def test_append_refuses_records_the_reader_would_reject(
    tmp_path: Path, bad: dict[str, Any]
) -> None:
    with JournalWriter(tmp_path / "j", HEADER) as writer, pytest.raises(ValueError):
        writer.append(bad)


def test_append_refuses_a_seq_that_does_not_grow(tmp_path: Path) -> None:
    with JournalWriter(tmp_path / "j", HEADER) as writer:
        writer.append(record(5))
        with pytest.raises(ValueError, match="seq 5 does not follow 5"):
            writer.append(record(5))


@pytest.mark.parametrize(
    "header",
    [{**HEADER, "format": FORMAT_VERSION + 1}, {**HEADER, "journal": "other"}, {"replica": "r"}],
)
def test_writer_refuses_a_bad_header(tmp_path: Path, header: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JournalWriter(tmp_path / "j", header)
    assert not (tmp_path / "j").exists()


def test_closed_writer_refuses_appends_and_closes_twice(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path / "j", HEADER)
    writer.close()
    writer.close()
    assert writer.closed
    with pytest.raises(ValueError, match="closed"):
        writer.append(record(1))


def test_reopening_after_a_torn_tail_keeps_the_new_run_readable(tmp_path: Path) -> None:
    path = tmp_path / "j"
    write_journal(path, [record(1)])
    with path.open("ab") as f:
        f.write(dumps_line(record(2))[:15])  # the crash
    write_journal(path, [record(1)])
    journal = read_journal(path)
    assert [len(r.records) for r in journal.runs] == [1, 1]
    assert journal.notes == ["line 3: torn final line of a run ignored (crash mid-append?)"]


# --- reader: tolerances -----------------------------------------------------------------


def test_unterminated_final_line_is_a_torn_tail(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "j", header_line(), dumps_line(record(1)), dumps_line(record(2))[:-1]
    )
    journal = read_journal(path)
    assert journal.runs[0].records == [record(1)]
    assert journal.notes == ["line 3: torn final line ignored (crash mid-append?)"]


def test_invalid_json_final_line_is_a_torn_tail(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", header_line(), dumps_line(record(1)), b'{"seq": 2, "at\n')
    journal = read_journal(path)
    assert journal.runs[0].records == [record(1)]
    assert journal.notes == ["line 3: torn final line ignored (crash mid-append?)"]


def test_reader_never_modifies_the_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", header_line(), dumps_line(record(1))[:-3])
    before = (path.read_bytes(), path.stat().st_mtime_ns, stat.S_IMODE(path.stat().st_mode))
    read_journal(path)
    list(iter_records(path))
    after = (path.read_bytes(), path.stat().st_mtime_ns, stat.S_IMODE(path.stat().st_mode))
    assert after == before


def test_iter_records_streams_header_record_pairs(tmp_path: Path) -> None:
    path = tmp_path / "j"
    write_journal(path, [record(1), record(2)], [record(1)])
    with path.open("ab") as f:
        f.write(b'{"seq"')
    notes: list[str] = []
    pairs = list(iter_records(path, notes))
    assert [(h["replica"], r["seq"]) for h, r in pairs] == [("a-1", 1), ("a-1", 2), ("a-1", 1)]
    assert notes == ["line 6: torn final line ignored (crash mid-append?)"]


# --- reader: errors ---------------------------------------------------------------------


def test_journal_error_is_one_line_with_path_and_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", header_line(), b"garbage\n", dumps_line(record(1)))
    error = read_error(path)
    assert (error.path, error.line) == (str(path), 2)
    assert str(error) == f"{path}:2: {error.message}"
    assert error.message.startswith("invalid JSON")
    assert "\n" not in str(error)


def test_corrupt_line_before_a_record_is_an_error_not_a_tail(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "j", header_line(), b'{"seq": 1\n', dumps_line(record(2)), b'{"se'
    )
    assert read_error(path).line == 2


def test_invalid_utf8_is_an_error(tmp_path: Path) -> None:
    bad = dumps_line(record(1)).replace(b"Init", b"In\xfft")
    path = write_lines(tmp_path / "j", header_line(), bad, dumps_line(record(2)))
    error = read_error(path)
    assert (error.line, error.message) == (2, "invalid UTF-8")


def test_blank_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", header_line(), b"\n", dumps_line(record(1)))
    assert read_error(path).message == "blank line"


def test_a_line_that_is_not_an_object_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", header_line(), b"[1, 2]\n")
    assert read_error(path).message == "expected a JSON object, got list"


def test_record_before_any_header_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", dumps_line(record(1)), header_line())
    error = read_error(path)
    assert (error.line, error.message) == (1, "record before any header")


def test_newer_format_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", header_line(format=FORMAT_VERSION + 1))
    assert "newer than this program reads" in read_error(path).message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"journal": "other"}, "not an election journal header"),
        ({"format": "1"}, "'format' must be a positive int"),
        ({"format": True}, "'format' must be a positive int"),
        ({"replica": 3}, "'replica' must be a string"),
        ({"config": []}, "'config' must be an object"),
    ],
)
def test_bad_header_is_an_error(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    path = write_lines(tmp_path / "j", header_line(**changes), dumps_line(record(1)))
    error = read_error(path)
    assert error.line == 1
    assert message in error.message


@pytest.mark.parametrize("key", ["seq", "at", "wall", "event", "state"])
def test_record_missing_a_required_key_is_an_error(tmp_path: Path, key: str) -> None:
    rec = record(1)
    del rec[key]
    path = write_lines(tmp_path / "j", header_line(), dumps_line(rec), dumps_line(record(2)))
    error = read_error(path)
    assert (error.line, error.message) == (2, f"record: missing {key!r}")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seq": "1"}, "'seq' must be an int, got str"),
        ({"seq": True}, "'seq' must be an int, got bool"),
        ({"seq": 1.0}, "'seq' must be an int, got float"),
        ({"at": None}, "'at' must be a number, got null"),
        ({"wall": "now"}, "'wall' must be a number, got str"),
        ({"event": "Started"}, "'event' must be an object, got str"),
        ({"event": {"kind": "Started"}}, "'event' has no string 'type'"),
        ({"state": 1}, "'state' must be a string, got int"),
        ({"effects": {}}, "'effects' must be an array of objects"),
        ({"effects": ["Exit"]}, "'effects' must be an array of objects"),
        ({"token": "5"}, "'token' must be an int or null, got str"),
    ],
)
def test_record_with_a_wrong_type_is_an_error(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = write_lines(tmp_path / "j", header_line(), dumps_line({**record(1), **changes}))
    error = read_error(path)
    assert error.line == 2
    assert message in error.message


@pytest.mark.parametrize("second", [1, 0])
def test_seq_must_strictly_increase_within_a_run(tmp_path: Path, second: int) -> None:
    path = write_lines(
        tmp_path / "j", header_line(), dumps_line(record(1)), dumps_line(record(second))
    )
    error = read_error(path)
    assert (error.line, error.message) == (3, f"seq {second} does not follow seq 1")


def test_seq_may_restart_in_a_new_run(tmp_path: Path) -> None:
    path = tmp_path / "j"
    write_journal(path, [record(1), record(2)], [record(1)])
    assert [len(r.records) for r in read_journal(path).runs] == [2, 1]


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j")
    assert str(read_error(path)) == f"{path}:1: empty file: expected a journal header"


def test_file_holding_only_a_torn_header_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "j", header_line()[:20])
    assert "no complete header" in read_error(path).message


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    assert str(read_error(path)) == f"{path}:0: no such file"
    with pytest.raises(JournalError):
        list(iter_records(path))


def test_directory_is_an_error(tmp_path: Path) -> None:
    assert "is a directory" in read_error(tmp_path).message


def test_fifo_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer, so opening to read won't block
    try:
        assert read_error(fifo).message == "not a regular file"
    finally:
        os.close(fd)


def test_unreadable_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_lines(tmp_path / "j", header_line())

    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)
    assert str(read_error(path)) == f"{path}:0: cannot open: Permission denied"


# --- properties: damage never escapes as anything but JournalError ----------------------


def sample_journal(path: Path) -> bytes:
    write_journal(
        path,
        [record(1, "Init"), record(2, "Attempter", effects=[{"type": "Exit", "code": 0}])],
        [record(1, "Init", previous="", cause="restart", token=None)],
    )
    return path.read_bytes()


def read_or_error(path: Path) -> JournalFile | None:
    try:
        return read_journal(path)
    except JournalError as error:
        assert "\n" not in str(error)
        return None


def test_truncation_at_every_offset_reads_a_prefix_or_errors(tmp_path: Path) -> None:
    data = sample_journal(tmp_path / "full")
    full = [(r.header, rec) for r in read_journal(tmp_path / "full").runs for rec in r.records]
    path = tmp_path / "cut"
    for offset in range(len(data) + 1):
        path.write_bytes(data[:offset])
        journal = read_or_error(path)
        if journal is None:
            continue
        pairs = [(r.header, rec) for r in journal.runs for rec in r.records]
        assert pairs == full[: len(pairs)], offset  # damage only ever loses the tail
        assert journal.notes == [] or len(journal.notes) == 1


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_random_bytes_read_cleanly_or_raise_journal_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("random") / "j"
    path.write_bytes(data)
    read_or_error(path)


@given(
    position=st.integers(min_value=0, max_value=10_000),
    junk=st.binary(min_size=1, max_size=8),
    replace=st.booleans(),
)
def test_damaged_journal_reads_cleanly_or_raises_journal_error(
    tmp_path_factory: pytest.TempPathFactory, position: int, junk: bytes, replace: bool
) -> None:
    directory = tmp_path_factory.mktemp("damaged")
    data = sample_journal(directory / "full")
    position %= len(data)
    end = position + len(junk) if replace else position
    damaged = data[:position] + junk + data[end:]
    (directory / "j").write_bytes(damaged)
    read_or_error(directory / "j")
    with contextlib.suppress(JournalError):
        list(iter_records(directory / "j"))
