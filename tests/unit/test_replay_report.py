"""The human report as a pipe gets it: 80 columns, no file name broken across lines, the
cause of every term's end; and `election-replay --version`."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from rich.console import Console

from election import __version__
from election_replay import analyse
from election_replay.cli import main
from election_replay.model import Analysis, JobRun
from election_replay.report import print_report
from tests.unit.test_replay import T0, Replica, handover, write_run

REPLAY = Path(sys.executable).parent / "election-replay"


def piped(paths: list[Path], until: int | None = None) -> str:
    """The report as `election-replay ... | cat` prints it: rich's 80 columns."""
    out = io.StringIO()
    print_report(analyse(paths, until=until), Console(file=out, width=80))
    return out.getvalue()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory of a short name (pytest's own are long), so that a journal's path is
    long, yet short enough to fit a line of its own."""
    directory = Path(tempfile.mkdtemp(prefix="rp-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def incident(tmp_path: Path) -> list[Path]:
    """Two hosts' journals under long paths of the same file name; b's hand-edited (a
    divergence) and both leading at once with work (a violation)."""
    paths = []
    for host in ("host-a", "host-b"):
        directory = tmp_path / "incident-2026-11-26" / host / "var" / "lib" / "election"
        directory.mkdir(parents=True)
        paths.append(directory / "journal.jsonl")
    a = Replica("a").lead(10).tick()
    b = Replica("b", start=T0 + 0.5).lead(12)
    a.at(T0 + 1.0).tick()
    b.at(T0 + 1.5).tick()
    write_run(paths[0], "a", a.lines())
    lines = b.lines()
    assert lines[FIRST_LEADER - 2]["state"] == "Leader"  # (line 1 is the header)
    lines[FIRST_LEADER - 2]["state"] = "Failover"
    write_run(paths[1], "b", lines)
    return paths


# The journal line of b's first record in Leader: the hand-edited one (after the header,
# Init's four records, and in Attempter the checks passed, the controls read, the claim,
# the create, the queue read, the publish of Attempter and the priorities read).
FIRST_LEADER = 12


def test_piped_the_report_fits_80_columns_and_breaks_no_file_name(short_tmp: Path) -> None:
    paths = incident(short_tmp)
    assert all(len(str(p)) < 78 for p in paths)  # names that fit a line, if given one
    report = piped(paths)
    lines = report.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    for path in paths:  # every mention of a file is whole, on one line
        mentions = sum(line.count(str(path)) for line in lines)
        assert mentions >= 2, (path, report)
        assert report.count(str(path)) == mentions
    for heading in ("Journals", "Files", "Timeline", "Leadership terms", "DIVERGENCE"):
        assert heading in report
    assert "VIOLATIONS (2)" in report
    at_seq = piped(paths, until=5)
    assert "Replayed state after seq 5" in at_seq
    assert max(len(line.rstrip()) for line in at_seq.splitlines()) <= 80


def test_a_file_name_longer_than_the_line_is_printed_whole(tmp_path: Path) -> None:
    """A path wider than the pipe's 80 columns (a deep directory, a parallel test
    worker's): where the report names a file, it prints it whole rather than fold it."""
    deep = tmp_path / ("d" * 40) / ("e" * 40)
    deep.mkdir(parents=True)
    paths = incident(deep)
    assert all(len(str(p)) > 80 for p in paths)
    lines = piped(paths).splitlines()
    for path in paths:
        assert any(line.strip().startswith(str(path)) for line in lines), path
    assert any(line.strip() == f"{paths[1]}:{FIRST_LEADER}" for line in lines)  # the divergence


def test_short_file_names_stay_in_the_journals_table(tmp_path: Path) -> None:
    report = piped(handover(tmp_path))
    assert "a.jsonl" in report and "Files" not in report
    assert max(len(line.rstrip()) for line in report.splitlines()) <= 80


def _with_jobs(paths: list[Path]) -> Analysis:
    """The hand-over's analysis with a job run under each replica's row, as `--exec` gives."""
    analysis = analyse(paths)
    journals = []
    for j in analysis.journals:
        first = j.first_wall or T0
        run = JobRun(replica=j.replica, pid=100, token=10, start=first, end=first + 0.5)
        journals.append(attrs.evolve(j, jobs=(run,)))
    return attrs.evolve(analysis, journals=tuple(journals))


def _timeline_lines(report: str) -> list[str]:
    lines = report.splitlines()
    start = lines.index("Timeline") + 1
    return lines[start : start + 7]  # a, a job, b, b job, the axis, the times, the legend


@pytest.mark.parametrize("width", [None, 50, 300])
def test_the_timeline_keeps_its_labels_at_80_columns_with_job_rows(
    tmp_path: Path, width: int | None
) -> None:
    # The legend, a row of the grid wider than 80 columns with `J Job`, made rich squeeze
    # the labels out: rows began ` LL` and ` JJ`, with no names and no `UTC`.
    out = io.StringIO()
    print_report(_with_jobs(handover(tmp_path)), Console(file=out, width=80), width)
    report = out.getvalue()
    assert max(len(line.rstrip()) for line in report.splitlines()) <= 80, report
    rows = _timeline_lines(report)
    assert [row.split()[0] for row in rows[:4]] == ["a", "a", "b", "b"], report
    assert [row.split()[1] for row in (rows[1], rows[3])] == ["job", "job"], report
    assert set(rows[1].split()[2]) == {"J"}, report
    assert set(rows[0].split()[1]) <= set("IALFS"), report
    assert rows[5].split()[0] == "UTC", report
    assert "J Job" in rows[6], report
    if width == 50:
        assert len(rows[4].strip()) == 50, report  # the axis: as wide as asked, as it fits


def test_the_terms_table_says_why_each_term_ended(tmp_path: Path) -> None:
    report = piped(handover(tmp_path))
    (header,) = [line for line in report.splitlines() if line.startswith("replica  token")]
    assert header.split()[-2:] == ["ended", "by"]
    rows = [line.split() for line in report.splitlines() if line.startswith(("a ", "b "))]
    terms = [row for row in rows if row[1] in ("10", "12")]
    assert terms[0][-1] == "stop"
    assert terms[1][-3:] == ["leader", "-", "-"]  # still leader, no cause


def _late_leader(tmp_path: Path, *, works: bool) -> list[Path]:
    """a leads from T0; b leads from T0 + 2 (its fourth answer after it, 40 ms on: the
    create, the queue, its member node, the priorities); a's journal says Leader until
    T0 + 5 (cut off or frozen, it heard late), writing a file meanwhile if `works`."""
    a = Replica("a").lead(10)
    b = Replica("b", start=T0 + 1).wait()
    b.at(T0 + 2).lead(12)
    if works:
        a.at(T0 + 3).tick()
    a.at(T0 + 5).stop()
    b.at(T0 + 6).tick()
    return [a.write(tmp_path), b.write(tmp_path)]


def _handover_lines(report: str) -> list[str]:
    lines = [line.rstrip() for line in report.splitlines()]
    start = lines.index("Hand-overs") + 2  # the title, the header
    return lines[start : start + 3]


def test_a_term_that_ended_late_is_no_negative_gap(tmp_path: Path) -> None:
    # A frozen leader's row showed a gap of `-12.408s`: every figure in the gap column is
    # a gap; where there was none, the cell says what happened, and a line gives the figure.
    report = piped(_late_leader(tmp_path, works=False))
    row, footnote, _ = _handover_lines(report)
    assert row.split()[-2:] == ["ended", "late*"], report
    assert "-" not in row.split()[-1] and "s" not in row.split()[-1].rstrip("*"), report
    assert footnote.startswith("* a's term (token 10) ended 2.97"), report
    assert "did no work meanwhile" in report, report


def test_a_leader_that_worked_into_the_next_term_shows_an_overlap(tmp_path: Path) -> None:
    report = piped(_late_leader(tmp_path, works=True))
    row, footnote, _ = _handover_lines(report)
    assert row.split()[-1] == "OVERLAP*", report
    assert footnote.startswith("* a's term (token 10) ended 2.97"), report
    assert "worked meanwhile: a violation" in " ".join(report.split()), report
    assert "VIOLATION" in report


def test_the_installed_command_prints_its_version() -> None:
    done = subprocess.run([REPLAY, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"election-replay {__version__}"
    assert CliRunner().invoke(main, ["--version"]).output.strip().endswith(__version__)


def test_docs_replay_names_only_files_that_exist() -> None:
    """Every repository file docs/replay.md names (a module, a document, a test) exists:
    as given from the root, or beside the document, the replay's modules or the tests."""
    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "replay.md").read_text()
    named = set(re.findall(r"[\w./-]+\.(?:py|md|sh|toml)\b", text))
    places = [root, root / "docs", root / "tools" / "election_replay", root / "tests" / "unit"]
    missing = sorted(n for n in named if not any((place / n).exists() for place in places))
    assert missing == []
