"""The README's state diagram is the one drawn from the reducer's table."""

from __future__ import annotations

from pathlib import Path

from election.core.state import StateName
from election.diagram import edges, mermaid

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_the_diagram_drawn_from_the_table() -> None:
    text = README.read_text()
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == mermaid(), "run `python -m election.diagram` and paste it into README.md"


def test_the_seed_transitions_are_all_in_the_table() -> None:
    seed = {
        ("Init", "Attempter"),
        ("Init", "Failover"),
        ("Attempter", "Failover"),
        ("Leader", "Failover"),
        ("Attempter", "Leader"),
        ("Init", "Stopping"),
        ("Attempter", "Stopping"),
        ("Leader", "Stopping"),
        ("Failover", "Stopping"),
        ("Failover", "Init"),  # "repairs itself"
    }
    drawn = {(str(a), str(b)) for a, b in edges()}
    assert seed <= drawn
    assert all(b is not StateName.INIT or a is StateName.FAILOVER for a, b in edges())
