"""`read_headers`: a journal's runs without its records, for replay to chain rotated files
before it streams them; it must agree with `read_journal` on what a journal is."""

from pathlib import Path

import pytest

from journal import JournalError, dumps_line, iter_lines, read_headers, read_journal
from tests.unit.test_journal_io import header_line, record, write_journal, write_lines


def test_headers_are_read_journals_headers_without_records(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_journal(
        path,
        [record(1), record(2, cause="journal full: the word in a string is no header")],
        [record(1)],
    )
    full, headers = read_journal(path), read_headers(path)
    assert [(r.header, r.first_line) for r in headers.runs] == [
        (r.header, r.first_line) for r in full.runs
    ]
    assert [r.first_line for r in headers.runs] == [1, 4]
    assert all(r.records == [] for r in headers.runs)


@pytest.mark.parametrize(
    "lines",
    [
        (),  # empty
        (dumps_line(record(1)),),  # records only
        (b'{"journal": "elect',),  # only a torn header
        (dumps_line(record(1)), header_line()),  # a record before any header
    ],
    ids=["empty", "records-only", "torn-header", "record-first"],
)
def test_a_file_that_is_no_journal_fails_as_read_journal_says(
    tmp_path: Path, lines: tuple[bytes, ...]
) -> None:
    path = write_lines(tmp_path / "j.jsonl", *lines)
    with pytest.raises(JournalError) as full:
        read_journal(path)
    if len(lines) == 2:  # a header exists: streaming the records finds the damage
        assert [r.first_line for r in read_headers(path).runs] == [2]
        with pytest.raises(JournalError) as streamed:
            list(iter_lines(path, []))
        assert str(streamed.value) == str(full.value)
        return
    with pytest.raises(JournalError) as headers:
        read_headers(path)
    assert str(headers.value) == str(full.value)


def test_missing_file_and_newer_format(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such file"):
        read_headers(tmp_path / "missing.jsonl")
    path = write_lines(tmp_path / "j.jsonl", header_line(), header_line(format=99))
    with pytest.raises(JournalError) as caught:
        read_headers(path)
    assert caught.value.line == 2 and "newer" in caught.value.message


def test_iter_lines_streams_what_read_journal_holds(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_journal(path, [record(1), record(2)], [record(1)])
    with path.open("ab") as f:
        f.write(b'{"seq": 2, "at"')  # torn tail
    notes: list[str] = []
    lines = list(iter_lines(path, notes))
    assert [(n, h) for n, _, h in lines] == [
        (1, True),
        (2, False),
        (3, False),
        (4, True),
        (5, False),
    ]
    full = read_journal(path)
    assert [obj for _, obj, h in lines if not h] == [r for run in full.runs for r in run.records]
    assert notes == full.notes and len(notes) == 1


def test_a_header_key_written_with_escapes_is_still_a_header(tmp_path: Path) -> None:
    """JSON may spell the key "journal" with \\u escapes: still a header to both."""
    escaped = header_line().replace(b'"journal"', b'"jour\\u006eal"', 1)
    path = write_lines(tmp_path / "j.jsonl", escaped, dumps_line(record(1)))
    full, headers = read_journal(path), read_headers(path)
    assert [r.first_line for r in full.runs] == [r.first_line for r in headers.runs] == [1]
    assert headers.runs[0].header == full.runs[0].header
