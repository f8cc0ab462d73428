"""Folding journals in several processes gives exactly what one process gives: the same
report, and the same error (the first in journal order) when one cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from election_replay import report
from election_replay.cli import main as replay_main
from election_replay.replay import ReplayError, _processes, analyse
from election_replay.segments import chain_journals
from election_sim import SimConfig, simulate


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("processes")
    simulate(SimConfig(seed=5, duration=60.0, leader_timeout=0.2), directory)
    paths = sorted(directory.glob("*.jsonl"))
    assert len(paths) == 3
    return paths


@pytest.mark.parametrize("until", [None, 40])
def test_several_processes_give_the_same_report(journals: list[Path], until: int | None) -> None:
    alone = analyse(journals, until=until, processes=1)
    together = analyse(journals, until=until, processes=3)
    assert alone.events > 100
    assert report.dumps(together) == report.dumps(alone)


def _corrupt(path: Path, line: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[line - 1] = b"{not json\n"
    path.write_bytes(b"".join(lines))


def test_the_first_bad_journal_in_order_is_the_one_reported(
    journals: list[Path], tmp_path: Path
) -> None:
    copies = []
    for path in journals:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    _corrupt(copies[2], 5)
    _corrupt(copies[1], 7)
    errors = []
    for processes in (1, 3):
        with pytest.raises(ReplayError) as caught:
            analyse(copies, processes=processes)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith(f"{copies[1]}:7: ")
    result = CliRunner().invoke(replay_main, ["--processes", "2", *map(str, copies)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"election-replay: {errors[0]}"


def test_how_many_processes(journals: list[Path]) -> None:
    chains = chain_journals(journals)
    assert _processes(None, chains) == 1  # small journals: not worth a process
    assert _processes(8, chains) == 3  # never more than there are journals
    assert _processes(2, chains) == 2
