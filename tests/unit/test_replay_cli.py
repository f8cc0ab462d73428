"""The `election-replay` command: its JSON contract, exit codes, messages and pictures."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from election_replay.cli import main
from journal import FORMAT_VERSION, make_header
from tests.unit.test_replay import T0, Replica, handover, header_config


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def run_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = run("--json", *args)
    return result.exit_code, json.loads(result.stdout)


def digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_a_clean_handover_exits_0_with_the_report(tmp_path: Path) -> None:
    result = run(*handover(tmp_path))
    assert result.exit_code == 0, result.output
    for heading in ("Journals", "Timeline", "Leadership terms", "Hand-overs", "OK"):
        assert heading in result.stdout


def test_json_holds_the_contract(tmp_path: Path) -> None:
    paths = handover(tmp_path)
    code, out = run_json(*paths)
    assert code == 0
    assert out["ok"] is True and out["divergences"] == [] and out["violations"] == []
    assert isinstance(out["events"], int) and out["events"] > 20
    first, second = out["leadership"]
    assert (first["replica"], first["token"], second["replica"], second["token"]) == (
        "a",
        10,
        "b",
        12,
    )
    for term in (first, second):
        assert isinstance(term["start"], float) and T0 < term["start"] < T0 + 10
    assert isinstance(first["end"], float) and first["end"] < second["start"]
    assert second["end"] is None
    (handover_,) = out["handovers"]
    assert handover_["gap"] == pytest.approx(second["start"] - first["end"])
    assert [r["replica"] for r in out["replicas"]] == ["a", "b"]
    assert all(r["replayed"] for r in out["replicas"])
    assert out["notes"] == []


def test_a_hand_edited_state_exits_1_naming_the_record(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    lines = a.lines()
    lines[4]["state"] = "Failover"
    path = a.write(tmp_path, lines)
    code, out = run_json(path)
    assert code == 1
    (div,) = out["divergences"]
    assert (div["journal"], div["line"], div["seq"]) == (str(path), 6, 5)
    assert div["recorded"]["state"] == "Failover" and div["expected"]["state"] != "Failover"
    human = run(path)
    assert human.exit_code == 1 and "DIVERGENCE" in human.stdout and f"{path}:6" in human.stdout


def test_a_violation_exits_1_and_is_shown(tmp_path: Path) -> None:
    a = Replica("a").lead(10).stop()
    b = Replica("b", start=a.wall + 1).lead(10)
    paths = [a.write(tmp_path), b.write(tmp_path)]
    code, out = run_json(*paths)
    assert code == 1
    (v,) = out["violations"]
    assert v["kind"] == "two-leaders-same-token" and v["replicas"] == ["a", "b"]
    assert {r["journal"] for r in v["records"]} == {str(p) for p in paths}
    human = run(*paths)
    assert "VIOLATIONS (1)" in human.stdout and "two-leaders-same-token" in human.stdout


def test_until_prints_the_state_at_that_seq(tmp_path: Path) -> None:
    a = Replica("a").lead(10)
    leader_seq = next(r.seq for r in a.records if r.state == "Leader")
    path = a.write(tmp_path)
    code, out = run_json("--until", str(leader_seq), path)
    assert code == 0 and out["until"] == leader_seq and out["events"] == leader_seq
    state = out["replicas"][0]["state"]
    assert (state["seq"], state["state"], state["token"], state["connected"]) == (
        leader_seq,
        "Leader",
        10,
        True,
    )
    human = run("--until", str(leader_seq), path)
    assert f"Replayed state after seq {leader_seq}" in human.stdout


def test_a_torn_tail_exits_0_with_a_note(tmp_path: Path) -> None:
    path = Replica("a").lead(10).write(tmp_path)
    with path.open("ab") as f:
        f.write(b'{"seq": 99, "at": 1.0, "wa')
    before = digest([path])
    code, out = run_json(path)
    assert code == 0
    (note,) = out["notes"]
    assert "torn final line" in note and str(path) in note
    assert digest([path]) == before  # never repaired in place


def write_lines(path: Path, *objects: Any) -> Path:
    path.write_bytes(
        b"".join(o if isinstance(o, bytes) else orjson.dumps(o) + b"\n" for o in objects)
    )
    return path


def good_header(**changes: Any) -> dict[str, Any]:
    header = make_header(
        replica="a", program="election 0.1.0", started_wall=T0, config=header_config("a")
    )
    return {**header, **changes}


def unreadable_journals(tmp_path: Path) -> dict[str, tuple[Path, int, str]]:
    """Journals that must exit 2: name -> (path, line named, words in the message)."""
    lines = Replica("a").lead(10).lines()
    bad_type = [*lines[:2], {**lines[2], "event": {"type": "Teleported"}}]
    bad_field = [{**lines[0], "event": {"type": "StopRequested", "signal": 15}}]
    return {
        "corrupt middle line": (
            write_lines(
                tmp_path / "corrupt.jsonl", good_header(), lines[0], b"{not json\n", lines[1]
            ),
            3,
            "invalid JSON",
        ),
        "unknown event type": (
            write_lines(tmp_path / "type.jsonl", good_header(), *bad_type),
            4,
            "unknown event type 'Teleported'",
        ),
        "newer format": (
            write_lines(tmp_path / "newer.jsonl", good_header(format=FORMAT_VERSION + 1), *lines),
            1,
            "newer than this program reads",
        ),
        "empty file": (write_lines(tmp_path / "empty.jsonl"), 1, "empty file"),
        "missing file": (tmp_path / "missing.jsonl", 0, "no such file"),
        "field of the wrong type": (
            write_lines(tmp_path / "field.jsonl", good_header(), *bad_field),
            2,
            "StopRequested.signal",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "corrupt middle line",
        "unknown event type",
        "newer format",
        "empty file",
        "missing file",
        "field of the wrong type",
    ],
)
def test_unreadable_input_exits_2_naming_file_and_line(tmp_path: Path, case: str) -> None:
    path, line, words = unreadable_journals(tmp_path)[case]
    good = Replica("b").lead(10).write(tmp_path)
    existing = [p for p in (good, path) if p.exists()]
    before = digest(existing)
    result = run("--json", good, path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"election-replay: {path}:{line}: ")
    assert words in result.stderr and result.stderr.count("\n") == 1
    assert digest(existing) == before


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    path, _, _ = unreadable_journals(tmp_path)["corrupt middle line"]
    command = Path(sys.executable).parent / "election-replay"
    done = subprocess.run([command, path], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith(f"election-replay: {path}:3: invalid JSON")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_the_picture_is_written(tmp_path: Path, suffix: str) -> None:
    picture = tmp_path / f"incident{suffix}"
    option = "--svg" if suffix == ".svg" else "--html"
    result = run(option, picture, "--json", *handover(tmp_path))
    assert result.exit_code == 0
    text = picture.read_text()
    assert ("<svg" in text) if suffix == ".svg" else ("<html" in text.lower())
    assert "Leadership" in text and "demo" not in text


def test_an_unwritable_picture_exits_2(tmp_path: Path) -> None:
    result = run("--svg", tmp_path / "no" / "such" / "dir.svg", *handover(tmp_path))
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_ctrl_c_exits_130_not_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted is neither "found" (1) nor "unreadable" (2) to a script."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("election_replay.cli.analyse", interrupted)
    result = run(*handover(tmp_path))
    assert result.exit_code == 130
    assert result.stderr == "election-replay: interrupted\n"
