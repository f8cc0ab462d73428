"""The journal's fast paths say yes only where the careful path would.

`record_ok` is the reader's one-call check of a usual record; `Codec.matches_many` is
replay's comparison of recorded effects with recomputed ones, without decoding them.
Each may answer "no" and leave the case to the careful path, never "yes" wrongly.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from election.core import effects as fx
from election.record_codec import CODEC
from journal import CodecError
from journal.format import record_ok, record_problem

GOOD: dict[str, Any] = {
    "seq": 3,
    "at": 1.5,
    "wall": 1700000000.25,
    "event": {"type": "TimerFired", "name": "write", "id": 7},
    "state": "Leader",
    "effects": [{"type": "ReadNode", "request": 8, "path": "/e"}],
}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
record_keys = st.sampled_from(
    ["seq", "at", "wall", "event", "state", "effects", "previous", "cause", "token"]
)


@pytest.mark.parametrize(
    "record",
    [
        GOOD,
        {**GOOD, "effects": []},
        {k: v for k, v in GOOD.items() if k != "effects"},
        {**GOOD, "previous": "Attempter", "cause": "election node created", "token": 12},
        {**GOOD, "token": None, "extra": {"any": "thing"}},
        {**GOOD, "at": 2, "wall": 1700000000},
    ],
)
def test_usual_records_are_ok(record: dict[str, Any]) -> None:
    assert record_problem(record) is None
    assert record_ok(record)


@pytest.mark.parametrize(
    "change",
    [
        {"seq": True},
        {"seq": 1.0},
        {"at": math.nan},
        {"wall": math.inf},
        {"at": "1"},
        {"event": []},
        {"event": {"name": "x"}},
        {"event": {"type": 5}},
        {"state": None},
        {"effects": {}},
        {"effects": [1]},
        {"effects": None},
        {"previous": 1},
        {"cause": None},
        {"token": "7"},
        {"token": False},
    ],
)
def test_each_problem_is_caught(change: dict[str, Any]) -> None:
    record = {**GOOD, **change}
    assert record_problem(record) is not None
    assert not record_ok(record)


@given(
    base=st.fixed_dictionaries({}, optional={k: st.just(v) for k, v in GOOD.items()}),
    changes=st.dictionaries(record_keys, json_values, max_size=3),
)
def test_record_ok_agrees_with_record_problem(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    record = {**base, **changes}
    assert record_ok(record) == (record_problem(record) is None)


EFFECTS: tuple[fx.Effect, ...] = (
    fx.StartTimer(name="write", id=4, delay=0.5),
    fx.CancelTimer(name="attempt", id=2),
    fx.ReadNode(request=5, path="/election/leader"),
    fx.WriteLeaderFile(request=6, token=12, seq=3, replica="a"),
    fx.StartChild(request=7, token=12, command=("sleep", "1")),
    fx.StopChild(pid=99, grace=2.0),
    fx.Exit(code=0, reason="stopped"),
)


def test_matches_its_own_encoding() -> None:
    assert CODEC.matches_many(EFFECTS, CODEC.encode_many(EFFECTS))
    assert CODEC.matches_many((), [])
    # A whole float written without ".0" decodes to the same float.
    timer = [{"type": "StartTimer", "name": "write", "id": 4, "delay": 1}]
    assert CODEC.matches_many((fx.StartTimer(name="write", id=4, delay=1.0),), timer)


@pytest.mark.parametrize(
    ("index", "change"),
    [
        (0, {"delay": 0.25}),
        (0, {"id": True}),  # True == 1 to Python, but not an int to the journal
        (1, {"id": 2.0}),
        (2, {"path": None}),
        (3, {"type": "PruneFiles"}),
        (3, {"extra": 1}),
        (4, {"command": ["sleep", "2"]}),
        (5, {"pid": "99"}),
        (6, {"code": 1}),
    ],
)
def test_any_difference_is_no_match(index: int, change: dict[str, Any]) -> None:
    data = CODEC.encode_many(EFFECTS)
    data[index] = {**data[index], **change}
    assert not CODEC.matches_many(EFFECTS, data)


def test_missing_extra_or_reordered_effects_are_no_match() -> None:
    data = CODEC.encode_many(EFFECTS)
    assert not CODEC.matches_many(EFFECTS, data[:-1])
    assert not CODEC.matches_many(EFFECTS[:-1], data)
    assert not CODEC.matches_many(EFFECTS, data[::-1])
    assert not CODEC.matches_many(EFFECTS, {"not": "a list"})
    assert not CODEC.matches_many(EFFECTS[:1], [{"type": "StartTimer", "name": "write"}])


_FIELD_VALUES: dict[object, st.SearchStrategy[Any]] = {
    int: st.integers(-(2**63), 2**63 - 1),  # what JSON (and orjson) can hold
    float: st.floats(allow_nan=False, allow_infinity=False),
    str: st.text(max_size=5),
    tuple[str, ...]: st.lists(st.text(max_size=3), max_size=3).map(tuple),
    tuple[tuple[str, int], ...]: st.lists(
        st.tuples(st.text(max_size=3), st.integers(0, 2**31)), max_size=3
    ).map(tuple),
    int | None: st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    bool: st.booleans(),
}
effect_strategy = st.one_of(
    *(
        st.builds(cls, **{f.name: _FIELD_VALUES[f.type] for f in attrs.fields(cls)})
        for cls in fx.EFFECT_TYPES
    )
)


@given(
    effects=st.lists(effect_strategy, max_size=3).map(tuple),
    tampered=st.lists(st.tuples(st.integers(0, 2), st.text(max_size=8), json_values), max_size=2),
)
def test_a_match_means_it_decodes_to_the_same(
    effects: tuple[fx.Effect, ...], tampered: list[tuple[int, str, Any]]
) -> None:
    data = orjson.loads(orjson.dumps(CODEC.encode_many(effects)))
    for index, key, value in tampered:
        if index < len(data):
            data[index][key] = value
    if CODEC.matches_many(effects, data):
        assert CODEC.decode_many(data) == effects
    else:
        with contextlib.suppress(CodecError):  # does not decode: no match is right
            assert CODEC.decode_many(data) != effects
