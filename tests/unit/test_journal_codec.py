"""The journal codec: tagged dicts for frozen attrs classes, strict on the way in."""

import contextlib
import enum

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal import Codec, CodecError


class Outcome(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Event:
    at: float = 0.0


@attrs.frozen(kw_only=True)
class Effect:
    pass


@attrs.frozen(kw_only=True)
class Started(Event):
    pass


@attrs.frozen(kw_only=True)
class NodeCreated(Event):
    request: int
    outcome: Outcome
    token: int | None = None
    reason: str = ""


@attrs.frozen(kw_only=True)
class Checked(Event):
    ok: bool
    ratio: float = 1.0


@attrs.frozen(kw_only=True)
class StartTimer(Effect):
    name: str
    id: int
    delay: float


@attrs.frozen(kw_only=True)
class Exit(Effect):
    code: int = 0


@attrs.frozen(kw_only=True)
class Batch(Event):
    """An event holding effects, to pin nested tagged objects."""

    effects: tuple[Effect, ...] = ()


@attrs.frozen(kw_only=True)
class Unknown(Effect):
    """Never handed to the codec."""


CODEC = Codec([Started, NodeCreated, Checked, StartTimer, Exit, Batch])


def test_encode_puts_type_first_and_omits_at() -> None:
    data = CODEC.encode(NodeCreated(at=12.5, request=3, outcome=Outcome.OK, token=7))
    assert data == {"type": "NodeCreated", "request": 3, "outcome": "ok", "token": 7, "reason": ""}
    assert next(iter(data)) == "type"
    assert type(data["outcome"]) is str  # plain JSON, not the enum member


def test_decode_takes_at_from_the_caller() -> None:
    event = NodeCreated(at=12.5, request=3, outcome=Outcome.FAILED, reason="boom")
    assert CODEC.decode(CODEC.encode(event), at=12.5) == event


def test_optional_int_round_trips_none() -> None:
    event = NodeCreated(at=1.0, request=1, outcome=Outcome.OK)
    data = CODEC.encode(event)
    assert data["token"] is None
    assert CODEC.decode(data, at=1.0) == event


def test_missing_defaulted_fields_take_their_defaults() -> None:
    event = CODEC.decode({"type": "NodeCreated", "request": 1, "outcome": "ok"}, at=2.0)
    assert event == NodeCreated(at=2.0, request=1, outcome=Outcome.OK)


def test_omit_can_be_changed() -> None:
    codec = Codec([Started], omit=())
    assert codec.encode(Started(at=3.0)) == {"type": "Started", "at": 3.0}
    assert codec.decode({"type": "Started", "at": 3.0}) == Started(at=3.0)


def test_float_field_accepts_a_whole_number() -> None:
    timer = CODEC.decode({"type": "StartTimer", "name": "t", "id": 1, "delay": 5})
    assert timer == StartTimer(name="t", id=1, delay=5.0)
    assert isinstance(timer, StartTimer)
    assert type(timer.delay) is float


def test_nested_effects_are_tagged_and_round_trip() -> None:
    batch = Batch(at=4.0, effects=(StartTimer(name="t", id=2, delay=0.5), Exit(code=1)))
    data = CODEC.encode(batch)
    assert data["effects"] == [
        {"type": "StartTimer", "name": "t", "id": 2, "delay": 0.5},
        {"type": "Exit", "code": 1},
    ]
    assert CODEC.decode(data, at=4.0) == batch


def test_encode_many_and_decode_many_round_trip() -> None:
    effects = (StartTimer(name="attempt", id=1, delay=10.0), Exit(code=0))
    data = CODEC.encode_many(effects)
    assert [d["type"] for d in data] == ["StartTimer", "Exit"]
    assert CODEC.decode_many(data) == effects
    assert CODEC.decode_many([]) == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "Nope"}, "unknown type 'Nope'"),
        ({"request": 1}, "missing or non-string 'type'"),
        ({"type": 5}, "missing or non-string 'type'"),
        (["NodeCreated"], "expected an object, got list"),
        ({"type": "NodeCreated", "outcome": "ok"}, "NodeCreated.request: required field missing"),
        ({"type": "NodeCreated", "request": 1, "outcome": "ok", "x": 1}, "unexpected field(s) x"),
        ({"type": "NodeCreated", "request": "1", "outcome": "ok"}, "expected int, got str"),
        ({"type": "NodeCreated", "request": True, "outcome": "ok"}, "expected int, got bool"),
        ({"type": "NodeCreated", "request": 1, "outcome": "maybe"}, "'maybe' is not a Outcome"),
        ({"type": "NodeCreated", "request": 1, "outcome": "ok", "token": 1.5}, "got float"),
        ({"type": "NodeCreated", "request": 1, "outcome": "ok", "reason": 3}, "expected str"),
        ({"type": "Checked", "ok": 1}, "Checked.ok: expected bool, got int"),
        ({"type": "Checked", "ok": True, "ratio": "1"}, "expected float, got str"),
        ({"type": "Batch", "effects": [{"type": "Started"}]}, "Started is not a Effect"),
        ({"type": "Batch", "effects": [{"type": "Exit", "code": "0"}]}, "effects[0].code"),
    ],
)
def test_bad_data_is_a_short_codec_error(data: object, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.decode(data, at=1.0)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_field_given_both_in_data_and_extra_is_an_error() -> None:
    with pytest.raises(CodecError, match="given twice: at"):
        CODEC.decode({"type": "Started", "at": 1.0}, at=2.0)


def test_decode_many_names_the_bad_item() -> None:
    with pytest.raises(CodecError, match=r"^\[1\] unknown type 'Nope'"):
        CODEC.decode_many([{"type": "Exit"}, {"type": "Nope"}])
    with pytest.raises(CodecError, match="expected an array"):
        CODEC.decode_many({"type": "Exit"})


def test_encoding_an_unknown_class_is_an_error() -> None:
    with pytest.raises(CodecError, match="not a known type"):
        CODEC.encode(Unknown())
    with pytest.raises(CodecError, match="not a known type"):
        CODEC.encode(Batch(effects=(Unknown(),)))


def test_codec_refuses_non_attrs_classes_and_duplicate_names() -> None:
    with pytest.raises(TypeError):
        Codec([int])
    other = type("Exit", (), {})
    with pytest.raises(ValueError, match="two classes named 'Exit'"):
        Codec([Exit, attrs.frozen(other)])


def test_types_lists_the_known_classes_by_tag() -> None:
    assert CODEC.types["StartTimer"] is StartTimer
    assert "Unknown" not in CODEC.types


@given(
    at=st.floats(allow_nan=False, allow_infinity=False),
    request=st.integers(),
    outcome=st.sampled_from(Outcome),
    token=st.none() | st.integers(),
    reason=st.text(),
)
def test_any_event_round_trips(
    at: float, request: int, outcome: Outcome, token: int | None, reason: str
) -> None:
    event = NodeCreated(at=at, request=request, outcome=outcome, token=token, reason=reason)
    assert CODEC.decode(CODEC.encode(event), at=at) == event


@given(st.dictionaries(st.text(max_size=8), st.none() | st.integers() | st.text() | st.booleans()))
def test_arbitrary_dicts_decode_or_raise_codec_error(data: dict[str, object]) -> None:
    data.setdefault("type", "NodeCreated")
    with contextlib.suppress(CodecError):
        CODEC.decode(data, at=0.0)
