"""Settings of `election run`: the flags' values, parsed and validated, as one value.

Every flag reaches `build_settings` as the raw text the operator typed (or exported as
`ELECTION_*`), so one place decides what is valid and every refusal reads the same way:
flag, environment variable, reason. The flags are declared once, in
`election.flags` as the fields of `Settings`; this module walks them in their order,
applies the few rules that span flags, and builds `Settings`. Validation
only looks at the filesystem (and at PATH, for the job's program); it never creates or
deletes anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

import attrs

from election.durations import parse_duration
from election.flags import (
    BY_NAME,
    CONNECTION,
    LOG_FORMATS,
    LOG_LEVELS,
    TABLE,
    Settings,
    default_journal,
    default_replica_id,
)
from election.flagspec import Derived, Flag, envvar_name, flag_name
from election.preflight import check_writable_dir
from election.security import TlsFiles, ZkAuth, check_tls_files, read_auth_file
from election.values import (
    format_address,
    parse_address,
    parse_election_path,
    parse_replica_id,
    parse_servers,
    parse_size,
    parse_switch,
)

__all__ = [
    "DEFAULTS",
    "FLAGS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "SWITCHES",
    "ConfigError",
    "Connection",
    "Settings",
    "build_connection",
    "build_settings",
    "default_journal",
    "default_replica_id",
    "envvar_name",
    "flag_name",
    "flag_value",
    "format_address",
    "parse_address",
    "parse_duration",
    "parse_election_path",
    "parse_replica_id",
    "parse_servers",
    "parse_size",
    "parse_switch",
]

_T = TypeVar("_T")
_V = TypeVar("_V")

# The flags that take a value, in the table's order (and that of validation), and the
# on/off switches (`--tui`); keyed by click's parameter names.
FLAGS: Final = tuple(name for name, flag in BY_NAME.items() if not flag.switch)
SWITCHES: Final = tuple(name for name, flag in BY_NAME.items() if flag.switch)
# The static defaults, as text, so that they pass through the same parsers as user input.
# `replica_id` and `journal` depend on the host and process: see election.flags.
DEFAULTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        name: flag.default
        for name, flag in BY_NAME.items()
        if not flag.switch and isinstance(flag.default, str)
    }
)

# The job's grace must fit in its lease (a little under the session timeout after the
# last answer from ZooKeeper): at most this share of --session-timeout, give or take a
# float's rounding, so that `--exec-grace 3.333s` fits a 10 s session.
GRACE_SHARE: Final = 1 / 3
GRACE_TOLERANCE: Final = 1e-9


class ConfigError(Exception):
    """An invalid configuration value; `str()` is the one line the CLI prints."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(flag, message)
        self.flag = flag
        self.message = message

    @property
    def envvar(self) -> str:
        """The environment variable that mirrors `flag`."""
        return envvar_name(self.flag)

    def __str__(self) -> str:
        return f"invalid {self.flag} ({self.envvar}): {self.message}"


# ---------------------------------------------------------------- raw values


def _text(raw: Mapping[str, object], key: str) -> str | None:
    """The raw value of one flag as text, or None when it was not given."""
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(flag_name(key), f"expected text, got {type(value).__name__}")


def _texts(raw: Mapping[str, object], key: str) -> tuple[str, ...]:
    """The raw values of a repeatable flag; () when it was not given."""
    value = raw.get(key)
    if value is None:  # click passes () for a repeatable flag never given
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(flag_name(key), "expected text or a list of text")


def _blame(key: str, parse: Callable[[_V], _T], value: _V) -> _T:
    """parse(value), with a ValueError turned into the ConfigError that blames `key`."""
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(flag_name(key), str(exc)) from None


def _default(flag: Flag, settings: Mapping[str, Any]) -> str:
    default = flag.default
    assert default is not None, flag.name  # an optional flag has no value instead
    return default if isinstance(default, str) else default(settings)


def _value(flag: Flag, raw: Mapping[str, object], settings: Mapping[str, Any]) -> Any:
    """One flag's value, from the raw one or from its default, then its place checked."""
    parse = flag.kind.parse
    assert parse is not None  # a Flag's kind has one
    if flag.multiple:
        value = _blame(flag.name, parse, _texts(raw, flag.name) or (_default(flag, settings),))
    elif flag.words:  # text to split, or the words given after `--`
        value = _blame(flag.name, parse, raw.get(flag.name))
    else:
        text = _text(raw, flag.name)
        if flag.optional and not text:
            return None
        value = _blame(flag.name, parse, _default(flag, settings) if text is None else text)
    if flag.check is not None:
        _blame(flag.name, flag.check, value)
    return value


# ---------------------------------------------------------------- rules across flags


def _check_grace(grace: float, session_timeout: float) -> None:
    """The job's grace fits in its lease (DESIGN.md, "The job's lease").

    The job's keeper SIGTERMs it at `lease - grace` and SIGKILLs it at `lease`, about
    0.9 x the session timeout after the last answer from ZooKeeper: a grace beyond a
    third of the session timeout leaves the job too little of its lease to run in (and
    one beyond the lease, none at all).
    """
    limit = session_timeout * GRACE_SHARE
    if grace > limit + GRACE_TOLERANCE:
        raise ValueError(
            f"{_shown(grace)} does not fit in the job's lease: at most a third of "
            f"{flag_name('session_timeout')} {_shown(session_timeout)} ({_rounded_down(limit)})"
        )


def _shown(seconds: float) -> str:
    """A duration for a message, to the millisecond like every number in it (`3s`,
    `0.5s`, `3.333s`); more digits only when the value has them (typed so)."""
    if round(seconds, 3) == seconds:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{seconds:g}s"


def _rounded_down(seconds: float) -> str:
    """`seconds` for a message, rounded down to the millisecond so that the value shown
    is one that is accepted: 5/3 -> `1.666s`, not `1.667s` (below a millisecond, to 4
    significant digits)."""
    millis = math.floor((seconds + GRACE_TOLERANCE) * 1000)
    if millis >= 1:
        return _shown(millis / 1000)
    scale = 10.0 ** (3 - math.floor(math.log10(seconds)))
    return f"{math.floor((seconds + GRACE_TOLERANCE) * scale) / scale:g}s"


def _grace_fits_the_lease(settings: dict[str, Any]) -> None:
    """With a job, --exec-grace fits in its lease; without one, a grace exported for
    every replica is harmless."""
    if settings["exec_command"]:
        timeout = settings["session_timeout"]
        _blame("exec_grace", lambda grace: _check_grace(grace, timeout), settings["exec_grace"])


def _file_dir_writable(settings: dict[str, Any]) -> None:
    """When the leader writes files, --file-dir can take them: a directory on a read-only
    filesystem, or one we may not write to, is refused like any invalid value. Without
    leader files (a job only) it is none of our business."""
    if settings["write_files"]:
        _blame("file_dir", check_writable_dir, settings["file_dir"])


def _credential_from_file(settings: dict[str, Any]) -> None:
    """--zk-auth-file gives --zk-auth's credential, from the first line of a file."""
    path = settings["zk_auth_file"]
    if path is None:
        return
    if settings["zk_auth"] is not None:
        raise ConfigError(flag_name("zk_auth_file"), "give --zk-auth or --zk-auth-file, not both")
    settings["zk_auth"] = _blame("zk_auth_file", read_auth_file, path)


def _tls_client_pair(settings: dict[str, Any]) -> None:
    """A client certificate comes with its key, and the two load together."""
    cert, key = settings["zk_tls_cert"], settings["zk_tls_key"]
    if cert is not None and key is None:
        raise ConfigError(flag_name("zk_tls_cert"), "needs --zk-tls-key (the certificate's key)")
    if key is not None and cert is None:
        raise ConfigError(flag_name("zk_tls_key"), "needs --zk-tls-cert (the key's certificate)")
    files = TlsFiles(ca=settings["zk_tls_ca"], cert=cert, key=key)
    _blame("zk_tls_key", check_tls_files, files)


# Each runs once the entry it is keyed by (a flag, or a setting derived from flags) has
# its value, so the first flag to blame in the table's order is the one refused.
_RULES: Final[Mapping[str, Callable[[dict[str, Any]], None]]] = MappingProxyType(
    {
        "exec_grace": _grace_fits_the_lease,
        "write_files": _file_dir_writable,
        "zk_auth_file": _credential_from_file,
        "zk_tls_key": _tls_client_pair,
    }
)


def _walk(entries: Iterable[Flag | Derived], raw: Mapping[str, object]) -> dict[str, Any]:
    """The values of `entries` (in the table's order), each flag's rule applied once it
    has its value; raises ConfigError for the first invalid flag."""
    settings: dict[str, Any] = {}
    for entry in entries:
        if isinstance(entry, Derived):
            settings[entry.field] = entry.compute(settings)
        else:
            settings[entry.field] = _value(entry, raw, settings)
        rule = _RULES.get(entry.name)
        if rule is not None:
            rule(settings)
    return settings


def build_settings(raw: Mapping[str, object]) -> Settings:
    """Settings from the CLI's raw values (keyed as in FLAGS and SWITCHES; None or
    missing = default).

    Validates in the table's order and raises ConfigError for the first invalid flag.
    Looks at, but never changes, the filesystem.
    """
    unknown = sorted(set(raw) - set(FLAGS) - set(SWITCHES))
    if unknown:
        raise TypeError(f"unknown settings keys: {', '.join(unknown)}")
    return Settings(**_walk(TABLE, raw))


@attrs.frozen(kw_only=True)
class Connection:
    """How an operator's command reaches one election: `run`'s connection flags
    (`election.flags.CONNECTION`), validated as `run` validates them."""

    servers: tuple[str, ...]
    election_path: str
    auth: ZkAuth | None = attrs.field(default=None, repr=False)
    tls: TlsFiles | None = None


def build_connection(raw: Mapping[str, object]) -> Connection:
    """The connection from the CLI's raw values of `run`'s connection flags (keyed by
    their names; None or missing = default): the same parsers, checks and rules across
    them as `build_settings` (`--zk-auth-file` gives the credential; a client
    certificate comes with its key). Raises ConfigError for the first invalid flag."""
    unknown = sorted(set(raw) - set(CONNECTION))
    if unknown:
        raise TypeError(f"unknown connection keys: {', '.join(unknown)}")
    values = _walk((entry for entry in TABLE if entry.field in CONNECTION), raw)
    return Connection(
        servers=values["zk_servers"],
        election_path=values["election_path"],
        auth=values["zk_auth"],
        tls=values["zk_tls"],
    )


def flag_value(name: str, raw: object) -> Any:
    """The value of one flag of `run` on its own, from its raw value (None: its default),
    as `build_settings` would take it; ConfigError when invalid. For the commands that
    take a few of run's flags (`election top`)."""
    return _value(BY_NAME[name], {name: raw}, {})
