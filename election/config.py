"""Settings of `election run`: defaults, parsing and validation of the external contract.

Every flag reaches `build_settings` as the raw text the operator typed (or exported as
`ELECTION_*`), so one place decides what is valid and every refusal reads the same way:
flag, environment variable, reason. Validation only looks at the filesystem (and at PATH,
for the job's program); it never creates or deletes anything.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import stat
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
from election.values import (
    REPLICA_ID_MAX,
    format_address,
    parse_address,
    parse_choice,
    parse_command,
    parse_count,
    parse_election_path,
    parse_replica_id,
    parse_servers,
    parse_size,
    parse_switch,
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
        "exec_grace": "3s",
        "exec_exit": "release",
        "leader_files": "auto",
        "file_mode": "0644",
    }
)
EXEC_EXITS: Final = ("release", "restart", "stop")
LEADER_FILES: Final = ("auto", "on", "off")
# Stopping waits for the job's grace; the daemon's own part needs a few seconds more.
STOP_MARGIN: Final = 5.0
# The job's grace must fit in its lease (a little under the session timeout after the
# last answer from ZooKeeper): at most this share of --session-timeout, give or take a
# float's rounding, so that `--exec-grace 3.333s` fits a 10 s session.
GRACE_SHARE: Final = 1 / 3
GRACE_TOLERANCE: Final = 1e-9
REPLICA_ID_DEFAULT_HELP: Final = "<hostname>-<pid>"
JOURNAL_DEFAULT_HELP: Final = "/tmp/election-journal/<replica-id>.jsonl"

# On/off switches of how a replica shows itself, not of what it does: not in FLAGS (which
# take a value) nor in the journal header. `--tui` (ELECTION_TUI) draws the live view.
SWITCHES: Final = ("tui",)


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
def default_replica_id() -> str:
    """`<hostname>-<pid>`: unique per process on a host, readable in logs."""
    host = socket.gethostname().replace("/", "_") or "localhost"
    suffix = f"-{os.getpid()}"
    return host[: REPLICA_ID_MAX - len(suffix)] + suffix


def default_journal(replica_id: str) -> Path:
    """`/tmp/election-journal/<replica-id>.jsonl`: one journal per replica."""
    return Path("/tmp/election-journal") / f"{replica_id}.jsonl"


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


# ---------------------------------------------------------------- the job


def _check_program(command: tuple[str, ...]) -> None:
    """The job's program is there and we may run it, found as execvp will find it, so
    that a typo is one line at start-up rather than a job that fails in every term.

    A word with a `/` names a file (relative to our working directory, which the job
    inherits); any other is looked up on our PATH, which the job inherits too.
    """
    if not command:
        return
    program = command[0]
    if not program:
        raise ValueError("the program name is empty")
    if "\0" in program:
        raise ValueError(f"program {program!r} has a NUL character")
    if "/" not in program:
        if shutil.which(program) is None:
            raise ValueError(f"program {program!r} not found on PATH")
        return
    try:
        mode = os.stat(program).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"program {program!r} does not exist") from None
    except OSError as exc:  # e.g. a directory on the way we may not search
        raise ValueError(f"program {program!r} cannot be checked: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"program {program!r} is a directory")
    if not stat.S_ISREG(mode):
        raise ValueError(f"program {program!r} is not a regular file")
    if not os.access(program, os.X_OK):
        raise ValueError(f"program {program!r} is not executable")


def _check_grace(grace: float, session_timeout: float) -> None:
    """The job's grace fits in its lease (DESIGN.md, "The job's lease").

    The job's supervisor SIGTERMs it at `lease - grace` and SIGKILLs it at `lease`, about
    0.9 x the session timeout after the last answer from ZooKeeper: a grace beyond a
    third of the session timeout leaves the job too little of its lease to run in (and
    one beyond the lease, none at all).
    """
    limit = session_timeout * GRACE_SHARE
    if grace > limit + GRACE_TOLERANCE:
        raise ValueError(
            f"{grace:g}s does not fit in the job's lease: at most a third of "
            f"{flag_name('session_timeout')} {session_timeout:g}s ({_rounded_down(limit)})"
        )


def _rounded_down(seconds: float) -> str:
    """`seconds` for a message, rounded down to 4 significant digits so that the value
    shown is one that is accepted: 5/3 -> `1.666s`, not `1.667s`."""
    scale = 10.0 ** (3 - math.floor(math.log10(seconds)))
    return f"{math.floor((seconds + GRACE_TOLERANCE) * scale) / scale:g}s"


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
    exec_grace: float = attrs.field(default=3.0, validator=_positive_finite)
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
            # Not a flag: this build publishes its member node through the core.
            "member_node": True,
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
    storage_capacity = _field("storage_capacity", parse_count, text("storage_capacity"))
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
    journal_keep = _field("journal_keep", parse_count, text("journal_keep"))

    metrics_address = _field("metrics_address", parse_address, text("metrics_address"))
    log_level = _field("log_level", lambda t: parse_choice(t, LOG_LEVELS), text("log_level"))
    log_format = _field("log_format", lambda t: parse_choice(t, LOG_FORMATS), text("log_format"))
    tui_text = _text(raw, "tui")
    tui = False if tui_text is None else _field("tui", parse_switch, tui_text)
    exec_command = _field("exec", parse_command, raw.get("exec"))
    _field("exec", _check_program, exec_command)
    exec_grace = _field("exec_grace", parse_duration, text("exec_grace"))
    if exec_command:  # without a job, a grace exported for every replica is harmless
        _field("exec_grace", lambda grace: _check_grace(grace, session_timeout), exec_grace)
    exec_exit = _field("exec_exit", lambda t: parse_choice(t, EXEC_EXITS), text("exec_exit"))
    leader_files = _field(
        "leader_files", lambda t: parse_choice(t, LEADER_FILES), text("leader_files")
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
