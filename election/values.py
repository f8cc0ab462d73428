"""Parsers of flag values: text in, a value out, or ValueError with a short reason.

Pure functions of their text (no filesystem, no environment), shared by `config` (which
turns their ValueError into a ConfigError naming the flag) and by the tests that fuzz
them.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Final

REPLICA_ID_MAX: Final = 128
_TRUE: Final = ("1", "true", "yes", "on")
_FALSE: Final = ("", "0", "false", "no", "off")

_HOSTNAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
_DOTTED_DIGITS: Final = re.compile(r"[0-9.]+")
_PORT: Final = re.compile(r"[0-9]{1,5}")


def _split_host_port(item: str, *, min_port: int) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host without brackets, port); ValueError otherwise."""
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"want [ipv6]:port, got {item!r}")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"not an IPv6 address: {host!r}") from None
    else:
        host, colon, port_text = item.rpartition(":")
        if not colon:
            raise ValueError(f"want host:port, got {item!r}")
        if ":" in host:
            raise ValueError(f"IPv6 addresses need brackets, as in [::1]:2181; got {item!r}")
        if not _HOSTNAME.fullmatch(host):
            raise ValueError(f"not a host name or IPv4 address: {host!r}")
        if _DOTTED_DIGITS.fullmatch(host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValueError(f"not an IPv4 address: {host!r}") from None
    if not _PORT.fullmatch(port_text) or not min_port <= int(port_text) <= 65535:
        raise ValueError(f"port must be an integer in {min_port}..65535, got {port_text!r}")
    return host, int(port_text)


def format_address(host: str, port: int) -> str:
    """`host:port`, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_servers(values: Iterable[str]) -> tuple[str, ...]:
    """ZooKeeper servers from repeated, comma-separated `host:port` values.

    Blank items are skipped and duplicates dropped (first one wins); the result is
    non-empty. A chroot suffix (`host:2181/app`) is refused: use --election-path.
    """
    if isinstance(values, str):  # one value is a common slip; iterating would give chars
        values = (values,)
    servers: dict[str, None] = {}
    for value in values:
        for raw in value.split(","):
            item = raw.strip()
            if not item:
                continue
            if "/" in item:
                raise ValueError(f"chroot paths are not supported, got {item!r}")
            servers[format_address(*_split_host_port(item, min_port=1))] = None
    if not servers:
        raise ValueError("no servers given; want host:port[,host:port...]")
    return tuple(servers)


def parse_address(text: str) -> tuple[str, int] | None:
    """A listening address `host:port` (port 0 means any free port), or `off` -> None."""
    item = text.strip()
    if item.lower() == "off":
        return None
    return _split_host_port(item, min_port=0)


# ---------------------------------------------------------------- names


def _check_znode_chars(name: str, what: str) -> None:
    # ZooKeeper refuses control characters and U+D800-U+F8FF, U+FFF0-U+FFFF in paths;
    # isprintable() covers all but the few printable ones at the top of the BMP.
    if not name.isprintable() or any("\ufff0" <= ch <= "\uffff" for ch in name):
        raise ValueError(f"{what} has a character ZooKeeper refuses, got {name!r}")


def parse_election_path(text: str) -> str:
    """An absolute znode path such as `/election/leader` (no trailing or double slash)."""
    path = text.strip()
    if not path.startswith("/"):
        raise ValueError(f"must be an absolute znode path such as /election/leader, got {path!r}")
    if path == "/":
        raise ValueError("must not be the root znode '/'")
    if path.endswith("/"):
        raise ValueError(f"must not end with '/', got {path!r}")
    parts = path[1:].split("/")
    if "" in parts:
        raise ValueError(f"must not have empty components ('//'), got {path!r}")
    if "." in parts or ".." in parts:
        raise ValueError(f"must not have '.' or '..' components, got {path!r}")
    if parts[0] == "zookeeper":
        raise ValueError(f"/zookeeper is reserved by ZooKeeper, got {path!r}")
    _check_znode_chars(path, "path")
    return path


def parse_replica_id(text: str) -> str:
    """A replica id: it names znodes and the default journal file, so no '/' in it."""
    replica_id = text.strip()
    if not replica_id:
        raise ValueError("must not be empty")
    if len(replica_id) > REPLICA_ID_MAX:
        raise ValueError(f"must be at most {REPLICA_ID_MAX} characters, got {len(replica_id)}")
    if "/" in replica_id or replica_id in (".", ".."):
        raise ValueError(f"must not contain '/' or be '.' or '..', got {replica_id!r}")
    _check_znode_chars(replica_id, "replica id")
    return replica_id


def parse_choice(text: str, choices: tuple[str, ...]) -> str:
    value = text.strip().lower()
    if value not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}; got {text!r}")
    return value


def parse_command(value: object) -> tuple[str, ...]:
    """`--exec 'CMD ARGS…'` (split as a POSIX shell would, without running one) or the
    words after `--`; None or no words: no job."""
    if value is None or value == ():
        return ()
    if isinstance(value, str):
        try:
            words = tuple(shlex.split(value))
        except ValueError as exc:
            raise ValueError(f"cannot split the command: {exc}") from None
        if not words:
            raise ValueError("the command is empty")
        return words
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expected a command line")


def parse_switch(text: str) -> bool:
    """An on/off value as a variable gives it: 1/true/yes/on or 0/false/no/off/empty."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"must be one of 1, true, yes, on, 0, false, no, off; got {text!r}")


# Sizes: SI multiples (k, M, G, with or without B: 1000s) and IEC ones (KiB, MiB, GiB: 1024s).
_SIZE: Final = re.compile(r"([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*([kmg]i?)?b?", re.IGNORECASE)
_SIZE_UNITS: Final = {
    **{"": 1, "k": 10**3, "m": 10**6, "g": 10**9},
    **{"ki": 2**10, "mi": 2**20, "gi": 2**30},
}

SIZE_MIN: Final = 1000


def parse_size(text: str) -> int | None:
    """A journal size in bytes: `64MiB`, `10MB`, `500k`, `4096`; `0` or `off` -> None (no
    rotation). k/M/G (with or without B) are powers of 1000, KiB/MiB/GiB of 1024."""
    value = text.strip()
    if value.lower() == "off":
        return None
    match = _SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"want a size such as 64MiB, 10MB, 500k or a byte count; got {text!r}")
    number, unit = match.groups()
    size = int(float(number) * _SIZE_UNITS[(unit or "").lower()])

    if size == 0:
        return None
    if size < SIZE_MIN:
        raise ValueError(f"must be at least {SIZE_MIN} bytes (1k), or 0/off; got {text!r}")
    return size


def parse_count(text: str) -> int:
    """An integer >= 1 in plain ASCII digits: `10`."""
    value = text.strip()
    # A regex rather than int(): int() also takes '+5', '1_000' and other scripts' digits.
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        raise ValueError(f"must be an integer >= 1, got {text!r}")
    return int(value)


def parse_priority(text: str) -> int:
    """An integer >= 0 in plain ASCII digits: `0` never leads, higher leads first."""
    value = text.strip()
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise ValueError(f"must be an integer >= 0, got {text!r}")
    return int(value)


# ---------------------------------------------------------------- filesystem


def parse_path(text: str) -> Path:
    """A path as typed (whether it can work is `election.preflight`'s question)."""
    if not text.strip():
        raise ValueError("must not be empty")
    if "\0" in text:
        raise ValueError("must not contain a NUL character")
    return Path(text)


# ---------------------------------------------------------------- operator commands

REASON_MAX: Final = 256  # as much as a control document keeps (election.control)


def parse_reason(text: str) -> str:
    """Why the cluster is paused (`election pause --reason`): one line of printable
    text, at most REASON_MAX characters."""
    reason = text.strip()
    if len(reason) > REASON_MAX:
        raise ValueError(f"must be at most {REASON_MAX} characters, got {len(reason)}")
    if not reason.isprintable():
        raise ValueError("must be one line of printable text")
    return reason
