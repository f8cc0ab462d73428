"""The kinds of value a flag of `election run` takes: a duration, a count, a path, ...

A kind bundles what the flag table (`election.flags`) needs to know of a value besides
its flag: how text becomes the value, which values are valid (`Settings` checks its
fields by it), its JSON form in the journal header, and the metavar `--help` shows.
The parsers are `election.values`' and `election.security`'s pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import attrs

from election.durations import parse_duration
from election.security import (
    FILE_MODE_FORBIDDEN,
    TlsFiles,
    ZkAuth,
    format_file_mode,
    parse_file_mode,
    parse_zk_auth,
)
from election.values import (
    format_address,
    parse_address,
    parse_choice,
    parse_command,
    parse_count,
    parse_election_path,
    parse_path,
    parse_priority,
    parse_replica_id,
    parse_servers,
    parse_size,
    parse_switch,
)

__all__ = [
    "ADDRESS",
    "BOOL",
    "COMMAND",
    "COUNT",
    "CREDENTIAL",
    "DURATION",
    "FILE_MODE",
    "PATH",
    "PRIORITY",
    "REPLICA_ID",
    "SERVERS",
    "SIZE",
    "SWITCH",
    "TLS",
    "ZNODE",
    "Kind",
    "choice",
]


def _as_is(value: Any) -> object:
    return value


@attrs.frozen(kw_only=True)
class Kind:
    """What a flag's value is, apart from the flag."""

    what: str  # "a duration > 0 in seconds": says what a bad value should have been
    # Text (a repeatable flag: the tuple of its texts) -> the value; ValueError refuses
    # it with a short reason. None for a value computed from others, never typed.
    parse: Callable[[Any], Any] | None
    # Whether a value is one `parse` could give: Settings refuses any other in a field.
    valid: Callable[[Any], bool]
    to_json: Callable[[Any], object] = _as_is  # the value's form in the journal header
    # A secret's form for the header instead, which must not let it be recovered.
    redact: Callable[[Any], str] | None = None
    metavar: str = ""


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _canonical(parse: Callable[[str], str]) -> Callable[[object], bool]:
    """Valid when the parser gives the text back unchanged (stripped, checked)."""

    def valid(value: object) -> bool:
        try:
            return isinstance(value, str) and parse(value) == value
        except ValueError:
            return False

    return valid


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _address(value: object) -> bool:
    if value is None:
        return True
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and _integer(value[1])
    )


def _words(value: object) -> bool:
    return isinstance(value, tuple) and all(isinstance(word, str) for word in value)


def _tls_json(files: TlsFiles) -> dict[str, str | None]:
    return {
        name: None if path is None else str(path)
        for name, path in (("ca", files.ca), ("cert", files.cert), ("key", files.key))
    }


SERVERS: Final = Kind(
    what="a non-empty tuple of host:port",
    parse=parse_servers,
    valid=lambda v: _words(v) and len(v) > 0,
    to_json=list,
    metavar="HOST:PORT,...",
)
DURATION: Final = Kind(
    what="a finite number of seconds > 0",
    parse=parse_duration,
    valid=lambda v: _seconds(v) and v > 0,
    to_json=float,
    metavar="DURATION",
)
COUNT: Final = Kind(
    what="an integer >= 1", parse=parse_count, valid=lambda v: _integer(v) and v >= 1, metavar="N"
)
PRIORITY: Final = Kind(
    what="an integer >= 0",
    parse=parse_priority,
    valid=lambda v: _integer(v) and v >= 0,
    metavar="N",
)
SIZE: Final = Kind(
    what="a byte count >= 1, or None (never)",
    parse=parse_size,
    valid=lambda v: v is None or (_integer(v) and v >= 1),
    metavar="SIZE|off",
)
PATH: Final = Kind(
    what="a path",
    parse=parse_path,
    valid=lambda v: isinstance(v, Path),
    to_json=str,
    metavar="FILE",
)
ZNODE: Final = Kind(
    what="an absolute znode path",
    parse=parse_election_path,
    valid=_canonical(parse_election_path),
    metavar="ZNODE",
)
REPLICA_ID: Final = Kind(
    what="a replica id", parse=parse_replica_id, valid=_canonical(parse_replica_id), metavar="ID"
)
ADDRESS: Final = Kind(
    what="(host, port), or None (off)",
    parse=parse_address,
    valid=_address,
    # As the flag takes it, `host:port`; None when off.
    to_json=lambda address: None if address is None else format_address(*address),
    metavar="HOST:PORT|off",
)
COMMAND: Final = Kind(
    what="a command's words",
    parse=parse_command,
    valid=_words,
    to_json=list,
    metavar="'CMD ARGS...'",
)
CREDENTIAL: Final = Kind(
    what="a ZooKeeper credential",
    parse=parse_zk_auth,
    valid=lambda v: isinstance(v, ZkAuth),
    redact=lambda auth: str(auth.redacted),  # `digest:user:***`
    metavar="SCHEME:CREDENTIAL",
)
FILE_MODE: Final = Kind(
    what="permission bits with no execute bit and no write for group or others",
    parse=parse_file_mode,
    valid=lambda v: _integer(v) and 0 <= v <= 0o777 and not v & FILE_MODE_FORBIDDEN,
    to_json=format_file_mode,
    metavar="OCTAL",
)
SWITCH: Final = Kind(what="on or off", parse=parse_switch, valid=lambda v: isinstance(v, bool))

# Kinds of values computed from flags.
BOOL: Final = Kind(what="true or false", parse=None, valid=lambda v: isinstance(v, bool))
TEXT: Final = Kind(what="a word", parse=None, valid=lambda v: isinstance(v, str) and v != "")
TLS: Final = Kind(
    what="TLS files, or None (no TLS)",
    parse=None,
    valid=lambda v: v is None or isinstance(v, TlsFiles),
    to_json=_tls_json,
)


def choice(*options: str) -> Kind:
    """One word of `options`, in any case: `--log-level DEBUG` is `debug`."""
    return Kind(
        what=f"one of {', '.join(options)}",
        parse=lambda text: parse_choice(text, options),
        valid=lambda value: value in options,
        metavar="|".join(options),
    )
