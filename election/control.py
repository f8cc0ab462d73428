"""The operator's controls as ZooKeeper holds them: where, and in what form.

Pure: no ZooKeeper, no clock. The commands (`election pause`, `resume`, `handover`,
`status`) write and read these nodes; every replica watches them and journals what it
reads (`ControlRead`), so the reducer decides from journaled facts.

Beside the election node `<parent>/leader` (the default `/election/leader`):

- `<parent>/control/pause` — **persistent**: while it exists the cluster is paused. The
  leader ends its term, and no replica takes leadership, until `election resume` deletes
  it. It survives restarts of replicas and of the command. Data: `Pause`.
- `<parent>/control/handover` — **ephemeral**, owned by the session of the
  `election handover` command that made it: a request stands while it exists, so a
  command that dies withdraws its request with its session. The leader of term `token`
  ends its term, gracefully, and stays a candidate; while the request stands, only
  `to` may take leadership (with `to` unset: anyone but `leader`, the one that yields,
  in priority order). Data: `Handover`.
- `<parent>/members/<replica>` — each replica's member node (`election.observe.members`),
  with its `priority`.

With `--zk-auth`, the control nodes get the election's ACL (ALL for the credential, READ
for the world): a stranger may read them (`status` works) but not pause the cluster or
ask for a hand-over.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

import attrs

CONTROL_NODE: Final = "control"
MAX_CONTROL_BYTES: Final = 4096  # our documents are ~150 bytes; more is not ours
_MAX_TEXT: Final = 256


def _parent(election_path: str) -> str:
    return election_path.rsplit("/", 1)[0]


def control_path(election_path: str) -> str:
    """`/election/leader` -> `/election/control`."""
    return f"{_parent(election_path)}/{CONTROL_NODE}"


def pause_path(election_path: str) -> str:
    return f"{control_path(election_path)}/pause"


def handover_path(election_path: str) -> str:
    return f"{control_path(election_path)}/handover"


@attrs.frozen(kw_only=True)
class Pause:
    """Who paused the cluster, when (Unix seconds) and why."""

    by: str
    at: float
    reason: str = ""


@attrs.frozen(kw_only=True)
class Handover:
    """A planned hand-over: the leader `leader` of term `token` is to end it; `to`, if
    set, is the only replica that may take over while the request stands. `id` tells
    one request from the next; `by` and `at` (Unix seconds) who asked and when."""

    id: str
    leader: str
    token: int
    to: str | None
    by: str
    at: float


class ControlDataError(ValueError):
    """A control node holds something that is not our document."""


def encode_pause(pause: Pause) -> bytes:
    return _encode(attrs.asdict(pause))


def encode_handover(handover: Handover) -> bytes:
    return _encode(attrs.asdict(handover))


def decode_pause(data: bytes) -> Pause:
    """The pause a node holds; ControlDataError for anything else (a pause node that
    holds garbage still pauses: the replicas read its existence, not its data)."""
    doc = _decode(data)
    return Pause(by=_text(doc, "by"), at=_number(doc, "at"), reason=_text(doc, "reason", ""))


def decode_handover(data: bytes) -> Handover:
    """The request a node holds; ControlDataError for anything else (a request that
    cannot be read is not acted on)."""
    doc = _decode(data)
    token = doc.get("token")
    if type(token) is not int or token < 0:
        raise ControlDataError(f"token must be an integer >= 0, got {token!r}")
    to = doc.get("to")
    if to is not None and not isinstance(to, str):
        raise ControlDataError(f"to must be a replica id or null, got {to!r}")
    return Handover(
        id=_text(doc, "id"),
        leader=_text(doc, "leader"),
        token=token,
        to=None if to is None else to[:_MAX_TEXT],
        by=_text(doc, "by"),
        at=_number(doc, "at"),
    )


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _decode(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_CONTROL_BYTES:
        raise ControlDataError(f"{len(data)} bytes: not a control document")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ControlDataError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ControlDataError("not a JSON object")
    return doc


def _text(doc: dict[str, Any], key: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise ControlDataError(f"{key} must be text, got {value!r}")
    return value[:_MAX_TEXT]


def _number(doc: dict[str, Any], key: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlDataError(f"{key} must be a number, got {value!r}")
    return float(value)
