"""Hostile member nodes: whatever a ZooKeeper client writes under `<parent>/members`
(names and data), `election top` turns it into rows and draws them without raising."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from election.observe.members import build_rows, parse_member
from election.observe.top import Snapshot, render
from tests.unit.fuzzing import FUZZ, no_hang

MARKUP = st.sampled_from(["[/red]", "[bold", "[/]", "[link=x]", "\x1b[2J", "\u202e", "\x00"])
NAMES = st.one_of(st.text(max_size=40), MARKUP, st.lists(MARKUP).map("".join))
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | MARKUP,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
DOCS = st.fixed_dictionaries(
    {},
    optional={
        key: JSON_VALUES | st.sampled_from(["Leader", "Attempter", "Failover"])
        for key in ("state", "since", "token", "host", "pid", "metrics", "version", "replica")
    },
)


def _encoded(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


DATA = st.one_of(
    st.none(),
    st.binary(max_size=2048),
    DOCS.map(_encoded),
    JSON_VALUES.map(_encoded),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
)


def _draw(rows: Any) -> None:
    snapshot = Snapshot(rows=tuple(rows), holder="[/red]", holder_token=1)
    Console(width=160, file=io.StringIO()).print(
        render(snapshot, "127.0.0.1:2181", "/election/leader", now=1.7e9)
    )


@FUZZ
@given(members=st.dictionaries(NAMES, DATA, max_size=6))
def test_any_member_nodes_make_rows_and_a_table(members: dict[str, bytes | None]) -> None:
    with no_hang():
        rows = build_rows(members)
        assert len(rows) == len(members)
        _draw(rows)


def test_markup_in_names_and_fields_is_shown_as_text() -> None:
    doc = {"state": "Leader", "host": "[/x]", "metrics": "[bold", "pid": 1, "since": 1.0}
    rows = [parse_member("[/red]", json.dumps(doc).encode())]
    console = Console(width=160, record=True, file=io.StringIO())
    snapshot = Snapshot(rows=tuple(rows), holder="[/red]", holder_token=1)
    console.print(render(snapshot, "a:1", "/e/l", now=2.0))
    text = console.export_text()
    assert "[/red]" in text and "[/x]/1" in text and "[bold" in text
