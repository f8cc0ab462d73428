"""The flags of `election run`, each declared once: the fields of `Settings`.

A field says all there is to say about a flag: its name (`exec_grace` gives
`--exec-grace` and `ELECTION_EXEC_GRACE`), the type of its value, its default as text
(parsed like anything typed), its kind of value (parser, validity, form in the journal
header), metavar and help, whether it reaches the journal header, whether it is a
secret, and what the core's configuration takes from it. A few derived fields follow the
flags they are computed from. `TABLE` lists the entries in order.

Everything else is drawn from the table: the click options and `--help` (`election.cli`),
the order flags are validated in (`election.config.build_settings`), the journal header
(`header_config`) and the core's configuration read back from a header
(`core_config_from_header`), where the daemon and `election-replay` both start, so a
replay folds with exactly the configuration its replica ran with. What older builds
wrote is read in today's terms there too, and nowhere else (`not_foldable`): the reducer
holds no switch for an older journal's behaviour.

A new flag is one field plus its use. `--priority N`, read by the core, would be

    priority: int = attrs.field(
        **flag(
            PRIORITY,  # a Kind whose parser takes integers >= 0
            default="1",
            help="Who takes free leadership first: the highest; 0 never leads.",
            core=to_core("priority", int, absent=1),  # journals from before it: 1
        )
    )

and `settings.priority`, `--priority`, `ELECTION_PRIORITY`, its line in `--help` and
`"priority"` in the journal header then exist (tests/unit/test_flag_table.py holds every
entry to that). A rule across flags, if it needs one, goes into `election.config`.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import attrs

from election.core.queue import PROTOCOL, SINGLE_NODE
from election.core.state import CoreConfig, ExecExit
from election.flagspec import (
    ENTRY,
    REQUIRED,
    Derived,
    Flag,
    ToCore,
    derived,
    flag,
    to_core,
)
from election.kinds import (
    ADDRESS,
    BOOL,
    COMMAND,
    COUNT,
    CREDENTIAL,
    DURATION,
    FILE_MODE,
    PATH,
    PRIORITY,
    REPLICA_ID,
    SERVERS,
    SIZE,
    SWITCH,
    TEXT,
    TLS,
    ZNODE,
    choice,
)
from election.preflight import check_file_dir, check_journal, check_program
from election.security import TlsFiles, ZkAuth, check_ca, check_cert_file
from election.values import REPLICA_ID_MAX

__all__ = [
    "ALWAYS_ON",
    "BY_NAME",
    "CONNECTION",
    "DEFAULT_GRACE",
    "EXEC_EXITS",
    "LEADER_FILES",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "STOP_MARGIN",
    "TABLE",
    "Settings",
    "core_config_from_header",
    "default_grace",
    "default_journal",
    "default_replica_id",
    "header_config",
    "not_foldable",
]

LOG_LEVELS: Final = ("debug", "info", "warning", "error")
LOG_FORMATS: Final = ("text", "json")
EXEC_EXITS: Final = tuple(policy.value for policy in ExecExit)
LEADER_FILES: Final = ("auto", "on", "off")
# Stopping waits for the job's grace; the daemon's own part needs a few seconds more.
STOP_MARGIN: Final = 5.0


def default_replica_id(_settings: Mapping[str, Any] | None = None) -> str:
    """`<hostname>-<pid>`: unique per process on a host, readable in logs."""
    host = socket.gethostname().replace("/", "_") or "localhost"
    suffix = f"-{os.getpid()}"
    return host[: REPLICA_ID_MAX - len(suffix)] + suffix


def default_journal(replica_id: str) -> Path:
    """`/tmp/election-journal/<replica-id>.jsonl`: one journal per replica."""
    return Path("/tmp/election-journal") / f"{replica_id}.jsonl"


def _journal_of_replica(settings: Mapping[str, Any]) -> str:
    return str(default_journal(settings["replica_id"]))


# The job's longest stop grace by default; a shorter session gets a third of its timeout,
# so that the default always fits in the job's lease (election.config's rule).
DEFAULT_GRACE: Final = 3.0


def default_grace(settings: Mapping[str, Any]) -> str:
    """`--exec-grace`'s default: the smaller of 3 s and a third of --session-timeout,
    rounded down to the millisecond (`2s` gives `0.666s`), as text to parse."""
    third = float(settings["session_timeout"]) / 3
    if third >= DEFAULT_GRACE:
        return f"{DEFAULT_GRACE:g}s"
    millis = math.floor(third * 1000 + 1e-6)  # 0.3 s / 3 is 0.1 s, not 0.0999...
    return f"{millis}ms" if millis >= 1 else f"{third!r}s"  # below 1 ms: the exact third


def _session_deadlines(timeout: Any) -> dict[str, float]:
    seconds = float(timeout)
    return {
        # Connecting may take up to a session timeout when a server is slow to answer.
        "init_deadline": max(seconds, 2.0),
        "backoff_max": min(5.0, max(seconds, 1.0)),
        # An answer that waited longer than this for the loop (a frozen process) no
        # longer proves the node ours: kazoo would have suspended the session by then.
        "answers_fresh_for": seconds / 3,
    }


def _words(value: Any) -> tuple[str, ...]:
    return tuple(str(word) for word in value)


def _writes_files(settings: Mapping[str, Any]) -> bool:
    """--leader-files auto: the leader writes files only when it has no job."""
    mode = settings["leader_files"]
    return bool(mode == "on" or (mode == "auto" and not settings["exec_command"]))


def _stop_deadline(settings: Mapping[str, Any]) -> float:
    """How long Stopping may take: the daemon's own part, and the job's grace."""
    grace: float = settings["exec_grace"]
    return grace + STOP_MARGIN if settings["exec_command"] else STOP_MARGIN


def _tls_files(settings: Mapping[str, Any]) -> TlsFiles | None:
    """TLS to ZooKeeper when any of --zk-tls-ca/-cert/-key is given."""
    ca, cert, key = settings["zk_tls_ca"], settings["zk_tls_cert"], settings["zk_tls_key"]
    return None if ca is cert is key is None else TlsFiles(ca=ca, cert=cert, key=key)


@attrs.frozen(kw_only=True)
class Settings:
    """Validated configuration of one `election run` replica: a field per flag, in the
    order of DESIGN.md's table (and of validation). Durations are in seconds.

    Journals written before a flag existed lack its header key: its `core`'s `absent`
    says what they meant.
    """

    zk_servers: tuple[str, ...] = attrs.field(
        **flag(
            SERVERS,
            default="127.0.0.1:2181",
            multiple=True,
            help="ZooKeeper servers; comma-separated, and the flag may repeat.",
        )
    )
    leader_timeout: float = attrs.field(
        **flag(
            DURATION,
            default="10s",
            help="How often the leader writes a file (500ms, 10s, 1m30s).",
            core=to_core("leader_timeout", float),
        )
    )
    attempter_timeout: float = attrs.field(
        **flag(
            DURATION,
            default="10s",
            help="How often a non-leader tries to take leadership.",
            core=to_core("attempter_timeout", float),
        )
    )
    file_dir: Path = attrs.field(
        **flag(
            PATH,
            default="/tmp/election",
            metavar="DIR",
            check=check_file_dir,
            help="Directory the leader writes its files into.",
        )
    )
    storage_capacity: int = attrs.field(
        **flag(
            COUNT,
            default="10",
            help="How many leader files to keep (integer >= 1).",
            core=to_core("storage_capacity", int),
        )
    )
    election_path: str = attrs.field(
        **flag(
            ZNODE,
            default="/election/leader",
            help="Absolute path of the ephemeral leader znode.",
            core=to_core("election_path", str),
        )
    )
    replica_id: str = attrs.field(
        **flag(
            REPLICA_ID,
            default=default_replica_id,
            shown_default="<hostname>-<pid>",
            help="This replica's name in znodes, logs, metrics and the journal.",
            core=to_core("replica", str),
        )
    )
    priority: int = attrs.field(
        **flag(
            PRIORITY,
            default="1",
            help="Free leadership goes to the live candidate of the highest priority; "
            "0: a standby that never leads.",
            core=to_core("priority", int, absent=1),  # journals from before it: all 1
        )
    )
    session_timeout: float = attrs.field(
        **flag(
            DURATION,
            default="10s",
            help="ZooKeeper session timeout to ask for.",
            core=ToCore(fields=_session_deadlines),
        )
    )
    journal: Path = attrs.field(
        **flag(
            PATH,
            default=_journal_of_replica,
            shown_default="/tmp/election-journal/<replica-id>.jsonl",
            check=check_journal,
            help="The JSONL journal this replica appends every event to.",
        )
    )
    journal_max_bytes: int | None = attrs.field(  # None: never rotate
        **flag(
            SIZE,
            default="64MiB",
            help="Rotate the journal at this size (64MiB, 10MB, 500k, bytes); 0 or off: never.",
        )
    )
    journal_keep: int = attrs.field(
        **flag(
            COUNT,
            default="5",
            help="How many rotated journal segments to keep (FILE.1 newest).",
        )
    )
    metrics_address: tuple[str, int] | None = attrs.field(  # None: off
        **flag(
            ADDRESS,
            default="127.0.0.1:9100",
            help="Where to serve /metrics, /healthz, /readyz and /leader (200 only on "
            "the leader); port 0 picks a free one; off: none.",
        )
    )
    log_level: str = attrs.field(
        **flag(
            choice(*LOG_LEVELS),
            default="info",
            help="Lowest level of log records to emit.",
        )
    )
    log_format: str = attrs.field(
        **flag(
            choice(*LOG_FORMATS),
            default="text",
            help="Log as rich text or as one JSON object a line.",
        )
    )
    # How the replica shows itself, not what it does: not in the journal header.
    tui: bool = attrs.field(
        **flag(
            SWITCH,
            default="off",
            switch=True,
            header=False,
            help="Draw a live view of this replica on the terminal (logs beneath it).",
        )
    )
    # The job run while Leader, its stop grace and its exit policy.
    exec_command: tuple[str, ...] = attrs.field(
        **flag(
            COMMAND,
            name="exec",
            default=None,
            words=True,
            check=check_program,  # kept as typed, not as found on PATH
            help="A job to run while leader (or give it after --); "
            "it gets SIGTERM when leadership ends.",
            core=to_core("exec_command", _words, absent=[]),
        )
    )
    exec_grace: float = attrs.field(
        **flag(
            DURATION,
            default=default_grace,
            shown_default="3s, or a third of --session-timeout if less",
            help="How long the job may take to stop before SIGKILL; "
            "at most a third of --session-timeout.",
            core=to_core("exec_grace", float, absent=3.0),
        )
    )
    exec_exit: str = attrs.field(
        **flag(
            choice(*EXEC_EXITS),
            default="release",
            help="When the job exits by itself: "
            "give up leadership, restart it, or stop the daemon.",
            core=to_core("exec_exit", ExecExit, absent=ExecExit.RELEASE.value),
        )
    )
    leader_files: str = attrs.field(
        **flag(
            choice(*LEADER_FILES),
            default="auto",
            header=False,  # what it decides is: write_files
            help="Whether the leader writes files into --file-dir (auto: only without --exec).",
        )
    )
    write_files: bool = attrs.field(
        **derived(
            BOOL,
            _writes_files,
            core=to_core("write_files", bool, absent=True),  # before jobs: files, always
        )
    )
    stop_deadline: float = attrs.field(
        **derived(
            DURATION,
            _stop_deadline,
            core=to_core("stop_deadline", float, absent=STOP_MARGIN),
        )
    )
    # Security (docs/security.md): the ZooKeeper credential, TLS to ZooKeeper, and the
    # mode of leader files.
    zk_auth: ZkAuth | None = attrs.field(
        **flag(
            CREDENTIAL,
            default=None,
            secret=True,  # from this flag, or from --zk-auth-file's file
            help="ZooKeeper credential (digest:user:password); nodes get ALL for it, READ for all.",
        )
    )
    zk_auth_file: Path | None = attrs.field(
        **flag(
            PATH,
            default=None,
            help="Read the --zk-auth credential from the first line of FILE (not world-readable).",
        )
    )
    zk_tls_ca: Path | None = attrs.field(
        **flag(
            PATH,
            default=None,
            check=check_ca,
            header=False,  # in zk_tls
            help="TLS to ZooKeeper: PEM CA certificate(s) to verify the server.",
        )
    )
    zk_tls_cert: Path | None = attrs.field(
        **flag(
            PATH,
            default=None,
            check=check_cert_file,
            header=False,
            help="TLS to ZooKeeper: our PEM client certificate.",
        )
    )
    zk_tls_key: Path | None = attrs.field(
        **flag(
            PATH,
            default=None,
            check=check_cert_file,
            header=False,
            help="TLS to ZooKeeper: the client certificate's PEM key (private).",
        )
    )
    zk_tls: TlsFiles | None = attrs.field(**derived(TLS, _tls_files, optional=True))
    file_mode: int = attrs.field(
        **flag(
            FILE_MODE,
            default="0644",
            help="Mode of leader files (no exec bits, no group/world write).",
        )
    )
    # Not a flag: the election protocol this build speaks, the candidates' queue. A header
    # without it is of the single-node protocol (one ephemeral node at --election-path),
    # which today's reducer does not fold again: election-replay tells such runs apart.
    protocol: str = attrs.field(**derived(TEXT, lambda _: PROTOCOL))

    def as_header_config(self) -> dict[str, object]:
        """The settings as JSON-friendly values for the journal header (`header_config`):
        never the credential itself."""
        return header_config(self)


# The entries, in the order of the fields.
TABLE: Final[tuple[Flag | Derived, ...]] = tuple(
    field.metadata[ENTRY].named(field.name) for field in attrs.fields(Settings)
)
# The flags among them, by name (`exec`, not `exec_command`).
BY_NAME: Final[Mapping[str, Flag]] = MappingProxyType(
    {entry.name: entry for entry in TABLE if isinstance(entry, Flag)}
)


# How to reach the election's ZooKeeper: the entries the operator's commands (`election
# status`, `pause`, `resume`, `handover`, `top`) take from `run`, by field, in the table's order.
CONNECTION: Final = (
    "zk_servers",
    "election_path",
    "zk_auth",
    "zk_auth_file",
    "zk_tls_ca",
    "zk_tls_cert",
    "zk_tls_key",
    "zk_tls",
)


def header_config(settings: Settings) -> dict[str, object]:
    """The configuration of a journal header: every entry that reaches it, by its key
    and in its JSON form (durations float seconds, paths strings, the metrics address
    `host:port` or None, the credential redacted: `digest:user:***`)."""
    config: dict[str, object] = {}
    for entry in TABLE:
        key = entry.header_key
        if key is not None:
            config[key] = entry.header_form(getattr(settings, entry.field))
    return config


# Header keys of behaviour that was once switched on by version and that every build of
# the candidates' queue has had on: a queue journal's header says each is true (those
# written before this list; today's write none). Today's reducer folds only runs that
# ran that way: a run saying otherwise is not folded again (`not_foldable`).
ALWAYS_ON: Final = ("member_node", "controls", "member_claim", "member_stopping")


def not_foldable(config: Mapping[str, Any]) -> str | None:
    """Why today's reducer cannot fold the run a journal header's configuration
    describes, or None when it can: the upcasting step of every journal read. A run of
    the single-node protocol (a header without `protocol`), or of a build whose
    behaviour today's has dropped, is read for what it recorded, not folded again."""
    protocol = config.get("protocol", SINGLE_NODE)
    if protocol != PROTOCOL:
        return f"the {protocol or '?'} protocol"
    off = [key for key in ALWAYS_ON if config.get(key, True) is not True]
    if off:
        return f"{', '.join(off)} off"
    return None


def core_config_from_header(config: Mapping[str, Any]) -> CoreConfig:
    """What the reducer needs, from a journal header's configuration (`header_config`).

    The daemon and `election-replay` both start here. A header written before an entry
    existed reads as its `absent` value; one lacking a required key raises KeyError.
    """
    fields: dict[str, Any] = {}
    for entry in TABLE:
        key = entry.header_key
        if entry.core is None or key is None:
            continue
        absent = entry.core.absent
        value = config[key] if key in config or absent is REQUIRED else absent
        fields.update(entry.core.fields(value))
    return CoreConfig(**fields)
