"""Settings of `election run`: defaults, parsing and validation of the external contract.

Every flag reaches `build_settings` as the raw text the operator typed (or exported as
`ELECTION_*`), so one place decides what is valid and every refusal reads the same way:
flag, environment variable, reason. Validation only looks at the filesystem; it never
creates or deletes anything.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import shlex
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar

import attrs

from election.durations import parse_duration
from election.security import (
    TlsFiles,
    ZkAuth,
    check_ca,
    check_cert_file,
    check_tls_files,
    format_file_mode,
    parse_file_mode,
    parse_zk_auth,
    read_auth_file,
)

__all__ = [
    "DEFAULTS",
    "FLAGS",
    "JOURNAL_DEFAULT_HELP",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "REPLICA_ID_DEFAULT_HELP",
    "SWITCHES",
    "ConfigError",
    "Settings",
    "build_settings",
    "default_journal",
    "default_replica_id",
    "envvar_name",
    "flag_name",
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

ENV_PREFIX: Final = "ELECTION_"
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
LOG_FORMATS: Final = ("text", "json")
REPLICA_ID_MAX: Final = 128

# The flags of `election run`, in the order of DESIGN.md's table (and of validation),
# keyed by click's parameter names.
FLAGS: Final = (
    "zk_servers",
    "leader_timeout",
    "attempter_timeout",
    "file_dir",
    "storage_capacity",
    "election_path",
    "replica_id",
    "session_timeout",
    "journal",
    "journal_max_bytes",
    "journal_keep",
    "metrics_address",
    "log_level",
    "log_format",
    "exec",
    "exec_grace",
    "exec_exit",
    "leader_files",
    "zk_auth",
    "zk_auth_file",
    "zk_tls_ca",
    "zk_tls_cert",
    "zk_tls_key",
    "file_mode",
)


# Static defaults, as text, so that they pass through the same parsers as user input.
# `replica_id` and `journal` depend on the host and process: see the functions below.
DEFAULTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "zk_servers": "127.0.0.1:2181",
        "leader_timeout": "10s",
        "attempter_timeout": "10s",
        "file_dir": "/tmp/election",
        "storage_capacity": "10",
        "election_path": "/election/leader",
        "session_timeout": "10s",
        "journal_max_bytes": "64MiB",
        "journal_keep": "5",
        "metrics_address": "127.0.0.1:9100",
        "log_level": "info",
        "log_format": "text",
        "exec_grace": "10s",
        "exec_exit": "release",
        "leader_files": "auto",
        "file_mode": "0644",
    }
)
EXEC_EXITS: Final = ("release", "restart", "stop")
LEADER_FILES: Final = ("auto", "on", "off")
# Stopping waits for the job's grace; the daemon's own part needs a few seconds more.
STOP_MARGIN: Final = 5.0
REPLICA_ID_DEFAULT_HELP: Final = "<hostname>-<pid>"
JOURNAL_DEFAULT_HELP: Final = "/tmp/election-journal/<replica-id>.jsonl"

# On/off switches of how a replica shows itself, not of what it does: not in FLAGS (which
# take a value) nor in the journal header. `--tui` (ELECTION_TUI) draws the live view.
SWITCHES: Final = ("tui",)
_TRUE: Final = ("1", "true", "yes", "on")
_FALSE: Final = ("", "0", "false", "no", "off")


def flag_name(key: str) -> str:
    """The command-line flag of a settings key: `leader_timeout` -> `--leader-timeout`."""
    return "--" + key.replace("_", "-")


def envvar_name(flag: str) -> str:
    """The variable mirroring a flag: `--leader-timeout` -> `ELECTION_LEADER_TIMEOUT`."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


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


# ---------------------------------------------------------------- addresses


# Hostnames and IPv4 literals; IPv6 needs brackets because of the port's colon.
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


def default_replica_id() -> str:
    """`<hostname>-<pid>`: unique per process on a host, readable in logs."""
    host = socket.gethostname().replace("/", "_") or "localhost"
    suffix = f"-{os.getpid()}"
    return host[: REPLICA_ID_MAX - len(suffix)] + suffix


def default_journal(replica_id: str) -> Path:
    """`/tmp/election-journal/<replica-id>.jsonl`: one journal per replica."""
    return Path("/tmp/election-journal") / f"{replica_id}.jsonl"


def _parse_choice(text: str, choices: tuple[str, ...]) -> str:
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


def _parse_capacity(text: str) -> int:

    value = text.strip()
    # A regex rather than int(): int() also takes '+5', '1_000' and other scripts' digits.
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        raise ValueError(f"must be an integer >= 1, got {text!r}")
    return int(value)


# ---------------------------------------------------------------- filesystem


def _path(text: str) -> Path:
    if not text.strip():
        raise ValueError("must not be empty")
    if "\0" in text:
        raise ValueError("must not contain a NUL character")
    return Path(text)


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    # lexists: a dangling symlink is "there" too, and makedirs could not replace it.
    while not os.path.lexists(current) and current.parent != current:
        current = current.parent
    return current


def _check_file_dir(path: Path) -> None:
    try:
        if os.path.lexists(path):
            if not path.is_dir():
                raise ValueError(f"{str(path)!r} exists and is not a directory")
            return
        # Missing is fine (Init creates it), unless a file is in the way of makedirs.
        ancestor = _nearest_existing(path)
        if not ancestor.is_dir():
            raise ValueError(f"cannot be created: {str(ancestor)!r} is not a directory")
    except OSError as exc:  # e.g. a name too long for the filesystem
        raise ValueError(f"cannot be checked: {exc.strerror}") from None


def _check_journal(path: Path) -> None:
    try:
        if path.is_dir():
            raise ValueError(f"{str(path)!r} is a directory")
        if os.path.lexists(path):
            if not os.access(path, os.W_OK):
                raise ValueError(f"{str(path)!r} exists and is not writable")
            return
        # The file and its missing parents get made at start-up: the nearest existing
        # ancestor must let us add entries to it.
        ancestor = _nearest_existing(path.parent)
        if not ancestor.is_dir():
            raise ValueError(f"cannot be created: {str(ancestor)!r} is not a directory")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise ValueError(f"cannot be created: {str(ancestor)!r} is not writable")
    except OSError as exc:
        raise ValueError(f"cannot be checked: {exc.strerror}") from None


# ---------------------------------------------------------------- settings


def _positive_finite(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, float | int) and math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive finite number, got {value!r}")


def _checked_by(parse: Callable[[str], str]) -> Callable[[object, attrs.Attribute[str], str], None]:
    def check(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        if parse(value) != value:
            raise ValueError(f"{attribute.name} is not in canonical form: {value!r}")

    return check


def _check_capacity(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {value!r}")


def _check_size(_instance: object, attribute: attrs.Attribute[int], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{attribute.name} must be an integer >= 1 or None, got {value!r}")


_PATH = attrs.validators.instance_of(Path)


@attrs.frozen(kw_only=True)
class Settings:
    """Validated configuration of one `election run` replica. Durations are in seconds."""

    zk_servers: tuple[str, ...] = attrs.field(
        validator=attrs.validators.and_(
            attrs.validators.min_len(1),
            attrs.validators.deep_iterable(attrs.validators.instance_of(str)),
        )
    )
    leader_timeout: float = attrs.field(validator=_positive_finite)
    attempter_timeout: float = attrs.field(validator=_positive_finite)
    file_dir: Path = attrs.field(validator=_PATH)
    storage_capacity: int = attrs.field(validator=_check_capacity)
    election_path: str = attrs.field(validator=_checked_by(parse_election_path))
    replica_id: str = attrs.field(validator=_checked_by(parse_replica_id))
    session_timeout: float = attrs.field(validator=_positive_finite)
    journal: Path = attrs.field(validator=_PATH)
    # Rotate the journal at this size (None: never), keeping `journal_keep` old segments.
    journal_max_bytes: int | None = attrs.field(default=64 * 2**20, validator=_check_size)
    journal_keep: int = attrs.field(default=5, validator=_check_capacity)
    metrics_address: tuple[str, int] | None

    log_level: str = attrs.field(validator=attrs.validators.in_(LOG_LEVELS))
    log_format: str = attrs.field(validator=attrs.validators.in_(LOG_FORMATS))
    # The job run while Leader (`--exec`), its stop grace and its exit policy; whether the
    # leader also writes files (`--leader-files`: auto = only when there is no job).
    exec_command: tuple[str, ...] = ()
    exec_grace: float = attrs.field(default=10.0, validator=_positive_finite)
    exec_exit: str = attrs.field(default="release", validator=attrs.validators.in_(EXEC_EXITS))
    write_files: bool = True
    # How long Stopping may take before the daemon gives up and exits (not a flag yet).
    stop_deadline: float = attrs.field(default=5.0, validator=_positive_finite)
    tui: bool = False  # draw the live view (a switch: not part of the journal header)
    # Security (docs/security.md): the ZooKeeper credential (from --zk-auth or the file
    # --zk-auth-file names), TLS to ZooKeeper, and the mode of leader files.
    zk_auth: ZkAuth | None = None
    zk_auth_file: Path | None = None
    zk_tls: TlsFiles | None = None
    file_mode: int = 0o644

    def as_header_config(self) -> dict[str, object]:
        """The settings as JSON-friendly values for the journal header.

        Durations are float seconds, paths strings, the metrics address `host:port`
        (as the flag takes it) or None when off.
        """
        address = self.metrics_address
        return {
            "zk_servers": list(self.zk_servers),
            "leader_timeout": float(self.leader_timeout),
            "attempter_timeout": float(self.attempter_timeout),
            "file_dir": str(self.file_dir),
            "storage_capacity": self.storage_capacity,
            "election_path": self.election_path,
            "replica_id": self.replica_id,
            "session_timeout": float(self.session_timeout),
            "journal": str(self.journal),
            "journal_max_bytes": self.journal_max_bytes,
            "journal_keep": self.journal_keep,
            "metrics_address": None if address is None else format_address(*address),
            "log_level": self.log_level,
            "log_format": self.log_format,
            "exec": list(self.exec_command),
            "exec_grace": float(self.exec_grace),
            "exec_exit": self.exec_exit,
            "write_files": self.write_files,
            "stop_deadline": float(self.stop_deadline),
            # Never the credential itself: `digest:user:***`.
            "zk_auth": None if self.zk_auth is None else self.zk_auth.redacted,
            "zk_auth_file": None if self.zk_auth_file is None else str(self.zk_auth_file),
            "zk_tls": None if self.zk_tls is None else _tls_header(self.zk_tls),
            "file_mode": format_file_mode(self.file_mode),
        }


def _tls_header(files: TlsFiles) -> dict[str, str | None]:
    return {
        name: None if path is None else str(path)
        for name, path in (("ca", files.ca), ("cert", files.cert), ("key", files.key))
    }


def _zk_auth(raw: Mapping[str, object]) -> tuple[ZkAuth | None, Path | None]:
    """The credential from --zk-auth or from the first line of --zk-auth-file."""
    text = _text(raw, "zk_auth")
    file_text = _text(raw, "zk_auth_file")
    auth = None if not text else _field("zk_auth", parse_zk_auth, text)
    if not file_text:
        return auth, None
    if auth is not None:
        raise ConfigError(flag_name("zk_auth_file"), "give --zk-auth or --zk-auth-file, not both")
    path = _field("zk_auth_file", _path, file_text)
    return _field("zk_auth_file", read_auth_file, path), path


def _zk_tls(raw: Mapping[str, object]) -> TlsFiles | None:
    """TLS to ZooKeeper when any of --zk-tls-ca/-cert/-key is given."""
    paths: dict[str, Path | None] = {}
    for name, check in (
        ("zk_tls_ca", check_ca),
        ("zk_tls_cert", check_cert_file),
        ("zk_tls_key", check_cert_file),
    ):
        text = _text(raw, name)
        path = None if not text else _field(name, _path, text)
        if path is not None:
            _field(name, check, path)
        paths[name] = path
    cert, key = paths["zk_tls_cert"], paths["zk_tls_key"]
    if cert is not None and key is None:
        raise ConfigError(flag_name("zk_tls_cert"), "needs --zk-tls-key (the certificate's key)")
    if key is not None and cert is None:
        raise ConfigError(flag_name("zk_tls_key"), "needs --zk-tls-cert (the key's certificate)")
    if not any(paths.values()):
        return None
    files = TlsFiles(ca=paths["zk_tls_ca"], cert=cert, key=key)
    _field("zk_tls_key", check_tls_files, files)
    return files


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


def _server_values(raw: Mapping[str, object]) -> tuple[str, ...]:
    value = raw.get("zk_servers")
    if value is None or value == ():  # click passes () for a repeatable flag never given
        return (DEFAULTS["zk_servers"],)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(flag_name("zk_servers"), "expected text or a list of text")


def _field(key: str, parse: Callable[[_V], _T], value: _V) -> _T:
    """parse(value), with a ValueError turned into the ConfigError that blames `key`."""
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(flag_name(key), str(exc)) from None


def build_settings(raw: Mapping[str, object]) -> Settings:
    """Settings from the CLI's raw values (keyed as in FLAGS; None or missing = default).

    Validates in the order of FLAGS and raises ConfigError for the first invalid flag.
    Looks at, but never changes, the filesystem.
    """
    unknown = sorted(set(raw) - set(FLAGS) - set(SWITCHES))
    if unknown:
        raise TypeError(f"unknown settings keys: {', '.join(unknown)}")

    def text(key: str) -> str:
        value = _text(raw, key)
        return DEFAULTS[key] if value is None else value

    zk_servers = _field("zk_servers", parse_servers, _server_values(raw))
    leader_timeout = _field("leader_timeout", parse_duration, text("leader_timeout"))
    attempter_timeout = _field("attempter_timeout", parse_duration, text("attempter_timeout"))
    file_dir = _field("file_dir", _path, text("file_dir"))
    _field("file_dir", _check_file_dir, file_dir)
    storage_capacity = _field("storage_capacity", _parse_capacity, text("storage_capacity"))
    election_path = _field("election_path", parse_election_path, text("election_path"))
    replica_text = _text(raw, "replica_id")
    replica_id = _field(
        "replica_id",
        parse_replica_id,
        default_replica_id() if replica_text is None else replica_text,
    )
    session_timeout = _field("session_timeout", parse_duration, text("session_timeout"))
    journal_text = _text(raw, "journal")
    journal = (
        default_journal(replica_id)
        if journal_text is None
        else _field("journal", _path, journal_text)
    )
    _field("journal", _check_journal, journal)
    journal_max_bytes = _field("journal_max_bytes", parse_size, text("journal_max_bytes"))
    journal_keep = _field("journal_keep", _parse_capacity, text("journal_keep"))

    metrics_address = _field("metrics_address", parse_address, text("metrics_address"))
    log_level = _field("log_level", lambda t: _parse_choice(t, LOG_LEVELS), text("log_level"))
    log_format = _field("log_format", lambda t: _parse_choice(t, LOG_FORMATS), text("log_format"))
    tui_text = _text(raw, "tui")
    tui = False if tui_text is None else _field("tui", parse_switch, tui_text)
    exec_command = _field("exec", parse_command, raw.get("exec"))
    exec_grace = _field("exec_grace", parse_duration, text("exec_grace"))
    exec_exit = _field("exec_exit", lambda t: _parse_choice(t, EXEC_EXITS), text("exec_exit"))
    leader_files = _field(
        "leader_files", lambda t: _parse_choice(t, LEADER_FILES), text("leader_files")
    )
    zk_auth, zk_auth_file = _zk_auth(raw)
    zk_tls = _zk_tls(raw)
    file_mode = _field("file_mode", parse_file_mode, text("file_mode"))
    return Settings(
        zk_servers=zk_servers,
        leader_timeout=leader_timeout,
        attempter_timeout=attempter_timeout,
        file_dir=file_dir,
        storage_capacity=storage_capacity,
        election_path=election_path,
        replica_id=replica_id,
        session_timeout=session_timeout,
        journal=journal,
        journal_max_bytes=journal_max_bytes,
        journal_keep=journal_keep,
        metrics_address=metrics_address,
        log_level=log_level,
        log_format=log_format,
        tui=tui,
        exec_command=exec_command,
        exec_grace=exec_grace,
        exec_exit=exec_exit,
        write_files=leader_files == "on" or (leader_files == "auto" and not exec_command),
        stop_deadline=exec_grace + STOP_MARGIN if exec_command else STOP_MARGIN,
        zk_auth=zk_auth,
        zk_auth_file=zk_auth_file,
        zk_tls=zk_tls,
        file_mode=file_mode,
    )
