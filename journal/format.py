"""The journal's line format: JSONL, one header line per run, then one record per line.

A header starts every run (the daemon writes one each time it opens the journal)::

    {"journal": "election", "format": 1, "replica": "a-12", "program": "0.1.0",
     "started_wall": 1700000000.5, "config": {...}}

Every other line is a record: the stamped event and the state it led to::

    {"seq": 1, "at": 12.5, "wall": 1700000000.6, "event": {"type": "Started"},
     "state": "Init", "effects": [...], "previous": "", "cause": "", "token": null}

A rotated journal (see `journal.writer`) continues a run in a new file whose header is
the run's header plus `"segment": n` (1, 2, ... within the run) and, from the daemon,
`"snapshot": {"seq": <the last record's seq>, "state": {...}}`, so it replays on its own.

Headers may carry further keys; records may carry further keys beyond the ones checked
here. A reader refuses a header whose `format` is newer than `FORMAT_VERSION`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from math import isfinite
from typing import Any

import orjson

__all__ = [
    "FORMAT_VERSION",
    "JOURNAL_NAME",
    "JsonObject",
    "dumps_line",
    "header_problem",
    "is_header",
    "make_header",
    "record_ok",
    "record_problem",
]

FORMAT_VERSION = 1
"""The version this package writes and the newest it reads."""

JOURNAL_NAME = "election"
"""The value of a header's `journal` key."""

JsonObject = dict[str, Any]
"""A decoded JSON object: a header or a record."""


def dumps_line(obj: Mapping[str, Any]) -> bytes:
    """One journal line: compact JSON ending in a newline.

    Raises `orjson.JSONEncodeError` (a TypeError) for values JSON cannot hold, non-str
    keys or invalid UTF-8. NaN and infinities would be written as null: the writer's
    record check refuses them first.
    """
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def is_header(obj: object) -> bool:
    """True if `obj` (a decoded line) is a run header rather than a record."""
    return isinstance(obj, dict) and "journal" in obj


def make_header(
    *,
    replica: str,
    program: str,
    started_wall: float,
    config: Mapping[str, Any],
    **extra: Any,
) -> JsonObject:
    """A header for a new run, with this package's journal name and format version."""
    return {
        "journal": JOURNAL_NAME,
        "format": FORMAT_VERSION,
        "replica": replica,
        "program": program,
        "started_wall": started_wall,
        "config": dict(config),
        **extra,
    }


def _is_int(value: object) -> bool:
    # bool is an int subclass; a `true` seq is a corrupt journal, not seq 1.
    return type(value) is int


def _is_number(value: object) -> bool:
    # A NaN or infinite time cannot be replayed (and orjson would write it as null).
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def header_problem(obj: JsonObject) -> str | None:
    """Why `obj` is not a valid header this version can read, or None if it is."""
    if obj.get("journal") != JOURNAL_NAME:
        return f"not an {JOURNAL_NAME} journal header (journal={obj.get('journal')!r})"
    version = obj.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"header: 'format' must be a positive int, got {version!r}"
    if version > FORMAT_VERSION:
        return (
            f"journal format {version} is newer than this program reads "
            f"({FORMAT_VERSION}); upgrade to read it"
        )
    for key, ok, expected in _HEADER_FIELDS:
        if key not in obj:
            return f"header: missing {key!r}"
        if not ok(obj[key]):
            return f"header: {key!r} must be {expected}, got {_type_name(obj[key])}"
    segment = obj.get("segment", 0)
    if not _is_int(segment) or segment < 0:
        return f"header: 'segment' must be an int >= 0, got {segment!r}"
    return None


def record_problem(obj: JsonObject) -> str | None:
    """Why `obj` is not a well-formed record, or None if it is.

    Checks the shape only (keys and JSON types); whether the event decodes is the
    codec's business.
    """
    for key, ok, expected in _RECORD_FIELDS:
        if key not in obj:
            return f"record: missing {key!r}"
        if not ok(obj[key]):
            return f"record: {key!r} must be {expected}, got {_type_name(obj[key])}"
    if not isinstance(obj["event"].get("type"), str):
        return "record: 'event' has no string 'type'"
    for key, ok, expected in _OPTIONAL_RECORD_FIELDS:
        if key in obj and not ok(obj[key]):
            return f"record: {key!r} must be {expected}, got {_type_name(obj[key])}"
    return None


def record_ok(obj: JsonObject) -> bool:
    """`record_problem(obj) is None`, computed without naming the problem: the reader's
    hot path (one call per line of a journal); ask `record_problem` why when it is False."""
    try:  # subscripts, cheaper than .get; a missing key is not ok
        seq, at, wall, event, state = obj["seq"], obj["at"], obj["wall"], obj["event"], obj["state"]
    except KeyError:
        return False
    if not (
        type(seq) is int
        and type(state) is str
        and type(event) is dict
        and type(event.get("type")) is str
        and (type(at) is int or (type(at) is float and isfinite(at)))
        and (type(wall) is int or (type(wall) is float and isfinite(wall)))
    ):
        return False
    if len(obj) == 6 and "effects" in obj:  # seq, at, wall, event, state, effects: the usual
        effects = obj["effects"]
    else:
        token = obj.get("token")
        if not (
            ("previous" not in obj or type(obj["previous"]) is str)
            and ("cause" not in obj or type(obj["cause"]) is str)
            and (token is None or type(token) is int)
        ):
            return False
        effects = obj.get("effects", ())
    if type(effects) is not list and effects != ():
        return False
    for effect in effects:  # noqa: SIM110 (a loop, not all(): no generator per record)
        if type(effect) is not dict:
            return False
    return True


_Check = tuple[str, Callable[[Any], bool], str]

_HEADER_FIELDS: tuple[_Check, ...] = (
    ("replica", lambda v: isinstance(v, str), "a string"),
    ("program", lambda v: isinstance(v, str), "a string"),
    ("started_wall", _is_number, "a number"),
    ("config", lambda v: isinstance(v, dict), "an object"),
)

_RECORD_FIELDS: tuple[_Check, ...] = (
    ("seq", _is_int, "an int"),
    ("at", _is_number, "a number"),
    ("wall", _is_number, "a number"),
    ("event", lambda v: isinstance(v, dict), "an object"),
    ("state", lambda v: isinstance(v, str), "a string"),
)

_OPTIONAL_RECORD_FIELDS: tuple[_Check, ...] = (
    (
        "effects",
        lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v),
        "an array of objects",
    ),
    ("previous", lambda v: isinstance(v, str), "a string"),
    ("cause", lambda v: isinstance(v, str), "a string"),
    ("token", lambda v: v is None or _is_int(v), "an int or null"),
)
