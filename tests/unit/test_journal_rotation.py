"""JournalWriter's size-based rotation: names, sizes, how many are kept, crash safety."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from journal import (
    JournalWriter,
    journal_segments,
    read_journal,
    rotated_path,
    rotated_segments,
)

HEADER = {"replica": "r1", "program": "test", "started_wall": 1.0, "config": {"k": 1}}


def record(seq: int, pad: int = 100) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": float(seq),
        "wall": 1000.0 + seq,
        "event": {"type": "Tick", "pad": "x" * pad},
        "state": "Init",
    }


def write(path: Path, seqs: range, **kwargs: Any) -> JournalWriter:
    writer = JournalWriter(path, HEADER, fsync=False, **kwargs)
    for seq in seqs:
        writer.append(record(seq))
    return writer


def all_seqs(files: list[Path]) -> list[int]:
    return [r["seq"] for f in files for run in read_journal(f).runs for r in run.records]


def test_the_live_file_keeps_its_name_and_dot_1_is_the_newest_segment(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    write(path, range(1, 31), max_bytes=1000, keep=100).close()
    files = journal_segments(path)
    assert files[-1] == path and files[0] == rotated_path(path, len(files) - 1)
    assert [p.name for p in files[-3:]] == ["r1.jsonl.2", "r1.jsonl.1", "r1.jsonl"]
    assert all_seqs(files) == list(range(1, 31))  # oldest first, nothing lost or doubled


def test_rotation_happens_between_records_once_the_size_is_reached(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    write(path, range(1, 31), max_bytes=1000, keep=100).close()
    for file in journal_segments(path):
        journal = read_journal(file)  # every line whole: no record split across files
        assert journal.notes == []
        if file != path:
            # Rotated segments passed the limit with their last record, not before it.
            last_line = file.read_bytes().splitlines(keepends=True)[-1]
            assert file.stat().st_size >= 1000 > file.stat().st_size - len(last_line)


def test_each_new_segment_starts_with_the_runs_header_and_the_callers_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r1.jsonl"
    asked: list[int] = []

    def segment_header(seq: int) -> dict[str, Any]:
        asked.append(seq)
        return {"snapshot": {"seq": seq, "state": {"n": seq}}}

    write(path, range(1, 31), max_bytes=1000, keep=100, segment_header=segment_header).close()
    files = journal_segments(path)
    first, *rest = (read_journal(f).runs[0] for f in files)
    assert "segment" not in first.header and "snapshot" not in first.header
    assert [run.header["segment"] for run in rest] == list(range(1, len(files)))
    for run in rest:
        assert run.header["config"] == HEADER["config"] and run.header["replica"] == "r1"
        # The snapshot is of the state after the record just before the segment (the
        # live file may have none yet: the last record filled the one before).
        assert [r["seq"] for r in run.records[:1]] in ([run.header["snapshot"]["seq"] + 1], [])
    assert asked == [run.header["snapshot"]["seq"] for run in rest]


def test_at_most_keep_rotated_segments_are_kept_the_oldest_go(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    writer = write(path, range(1, 101), max_bytes=1000, keep=3)
    assert writer.rotations > 3
    writer.close()
    assert [i for i, _ in rotated_segments(path)] == [1, 2, 3]
    seqs = all_seqs(journal_segments(path))
    assert seqs == list(range(seqs[0], 101)) and seqs[0] > 1  # the newest, contiguous


def test_foreign_files_are_never_touched(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    foreign = ["r1.jsonl.bak", "r1.jsonl.01", "r1.jsonl.1.gz", "r1.jsonl.x9", "other.jsonl.9"]
    for name in foreign:
        (tmp_path / name).write_text("keep me\n")
    (tmp_path / "elsewhere").write_text("target\n")
    (tmp_path / "r1.jsonl.7").symlink_to(tmp_path / "elsewhere")  # beyond keep, not a file
    write(path, range(1, 101), max_bytes=1000, keep=2).close()
    for name in foreign:
        assert (tmp_path / name).read_text() == "keep me\n"
    assert (tmp_path / "r1.jsonl.7").is_symlink() and (tmp_path / "elsewhere").exists()
    assert {p.name for p in tmp_path.iterdir()} == {
        *foreign,
        "elsewhere",
        "r1.jsonl.7",
        "r1.jsonl",
        "r1.jsonl.1",
        "r1.jsonl.2",
    }


def test_old_segments_beyond_a_smaller_keep_are_deleted(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    write(path, range(1, 101), max_bytes=1000, keep=6).close()
    assert len(rotated_segments(path)) == 6
    write(path, range(1, 11), max_bytes=1000, keep=2).close()  # a restart, keep lowered
    assert [i for i, _ in rotated_segments(path)] == [1, 2]


def test_a_crash_between_rename_and_open_leaves_a_readable_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r1.jsonl"
    writer = write(path, range(1, 11), max_bytes=1000, keep=5)
    before = all_seqs(journal_segments(path))

    def crash(line: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_open_segment", crash)
    with pytest.raises(OSError):
        for seq in range(11, 30):
            writer.append(record(seq))
    assert not path.exists()  # renamed away, the new live file never made
    files = journal_segments(path)
    written = all_seqs(files)
    assert written[: len(before)] == before and written == list(range(1, written[-1] + 1))
    monkeypatch.undo()
    # The next start opens a fresh live file; the set stays readable.
    write(path, range(1, 3), max_bytes=1000, keep=5).close()
    assert read_journal(path).runs[0].records[0]["seq"] == 1
    assert all_seqs(journal_segments(path))[-2:] == [1, 2]


def test_a_failing_segment_header_leaves_the_files_and_the_next_append_retries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r1.jsonl"
    calls = []

    def flaky(seq: int) -> dict[str, Any]:
        calls.append(seq)
        if len(calls) == 1:
            raise ValueError("not now")
        return {}

    writer = JournalWriter(path, HEADER, fsync=False, max_bytes=1000, segment_header=flaky)
    with pytest.raises(ValueError, match="not now"):
        for seq in range(1, 30):
            writer.append(record(seq))
    failed_at = calls[0]
    assert rotated_segments(path) == [] and all_seqs([path])[-1] == failed_at
    writer.append(record(failed_at + 1))
    writer.close()
    assert calls == [failed_at, failed_at + 1]
    assert len(rotated_segments(path)) == 1
    assert all_seqs(journal_segments(path)) == list(range(1, failed_at + 2))


def test_seq_must_still_grow_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    writer = write(path, range(1, 20), max_bytes=1000)
    assert writer.rotations >= 1
    with pytest.raises(ValueError, match="does not follow"):
        writer.append(record(5))
    writer.close()


def test_a_restart_with_a_full_live_file_starts_in_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    write(path, range(1, 20)).close()  # no rotation: one big file
    big = path.stat().st_size
    assert big > 1000
    write(path, range(1, 3), max_bytes=1000).close()
    assert rotated_path(path, 1).stat().st_size == big
    (run,) = read_journal(path).runs
    assert "segment" not in run.header and [r["seq"] for r in run.records] == [1, 2]


def test_without_max_bytes_nothing_rotates(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    writer = write(path, range(1, 200))
    writer.close()
    assert writer.rotations == 0 and os.listdir(tmp_path) == ["r1.jsonl"]


@pytest.mark.parametrize("kwargs", [{"max_bytes": 0}, {"max_bytes": 100, "keep": 0}])
def test_nonsense_limits_are_refused(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JournalWriter(tmp_path / "r1.jsonl", HEADER, **kwargs)
    assert not (tmp_path / "r1.jsonl").exists()
