"""Property, over simulated incidents (every fault kind, rotation, periodic snapshots):
for any window, the window's invariants and terms agree with the full fold restricted to
the window, and its state at the window's end is the full fold's there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from election_replay import analyse
from election_replay.model import Analysis
from election_replay.window import Window
from tests.unit.test_journal_snapshots import sim
from tests.unit.test_replay_window import disagreements

INCIDENTS = int(os.environ.get("ELECTION_WINDOW_INCIDENTS", "6"))
EXAMPLES = int(os.environ.get("ELECTION_WINDOW_EXAMPLES", "60"))
DURATION = 90.0


class Incident:
    """One simulated incident: its journals and their full fold (a short repr: Hypothesis
    prints the arguments of a failing example)."""

    def __init__(self, seed: int, paths: list[Path], full: Analysis) -> None:
        self.seed, self.paths, self.full = seed, paths, full
        self.start = min(j.first_wall for j in full.journals if j.first_wall is not None)

    def __repr__(self) -> str:
        return f"<incident seed {self.seed}>"


@pytest.fixture(scope="module")
def incidents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Incident]]:
    made = []
    for seed in range(INCIDENTS):
        directory = tmp_path_factory.mktemp(f"incident-{seed}")
        # Half of them rotated small, so that windows start in the middle of segments.
        rotation = {"journal_max_bytes": 120_000} if seed % 2 else {}
        paths = sim(directory, seed=seed, duration=DURATION, fault_rate=0.15, **rotation)
        made.append(Incident(seed, paths, analyse(paths)))
    yield made


@pytest.mark.long
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    which=st.integers(min_value=0, max_value=INCIDENTS - 1),
    since=st.floats(min_value=-2.0, max_value=DURATION + 2.0),
    length=st.floats(min_value=0.01, max_value=DURATION / 2),
)
def test_a_window_agrees_with_the_full_fold_restricted_to_it(
    incidents: list[Incident], which: int, since: float, length: float
) -> None:
    incident = incidents[which]
    window = Window(since=incident.start + since, until=incident.start + since + length)
    assert disagreements(incident.paths, incident.full, window) == [], incident
