"""The `election` command line: a thin click front end over `election.config`.

Every flag is taken as plain text and validated by `build_settings`, so that an invalid
value, from a flag or from its `ELECTION_*` variable, ends in one line naming both and
exit status 2, before anything is created.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import click

from election import __version__
from election.config import (
    DEFAULTS,
    FLAGS,
    JOURNAL_DEFAULT_HELP,
    REPLICA_ID_DEFAULT_HELP,
    ConfigError,
    build_settings,
    envvar_name,
    flag_name,
    parse_election_path,
    parse_servers,
)

__all__ = ["EXIT_CONFIG", "main", "run", "top"]

EXIT_CONFIG: Final = 2

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")

# (metavar, help) per flag; keys and order are config.FLAGS.
_HELP: Final[dict[str, tuple[str, str]]] = {
    "zk_servers": ("HOST:PORT,...", "ZooKeeper servers; comma-separated, and the flag may repeat."),
    "leader_timeout": ("DURATION", "How often the leader writes a file (500ms, 10s, 1m30s)."),
    "attempter_timeout": ("DURATION", "How often a non-leader tries to take leadership."),
    "file_dir": ("DIR", "Directory the leader writes its files into."),
    "storage_capacity": ("N", "How many leader files to keep (integer >= 1)."),
    "election_path": ("ZNODE", "Absolute path of the ephemeral leader znode."),
    "replica_id": ("ID", "This replica's name in znodes, logs, metrics and the journal."),
    "session_timeout": ("DURATION", "ZooKeeper session timeout to ask for."),
    "journal": ("FILE", "The JSONL journal this replica appends every event to."),
    "journal_max_bytes": (
        "SIZE|off",
        "Rotate the journal at this size (64MiB, 10MB, 500k, bytes); 0 or off: never.",
    ),
    "journal_keep": ("N", "How many rotated journal segments to keep (FILE.1 newest)."),
    "metrics_address": ("HOST:PORT|off", "Where to serve /metrics, /healthz, /readyz."),
    "log_level": ("debug|info|warning|error", "Lowest level of log records to emit."),
    "log_format": ("text|json", "Log as rich text or as one JSON object a line."),
    "exec": (
        "'CMD ARGS...'",
        "A job to run while leader (or give it after --); it gets SIGTERM when leadership ends.",
    ),
    "exec_grace": (
        "DURATION",
        "How long the job may take to stop before SIGKILL; at most a third of --session-timeout.",
    ),
    "exec_exit": (
        "release|restart|stop",
        "When the job exits by itself: give up leadership, restart it, or stop the daemon.",
    ),
    "leader_files": (
        "auto|on|off",
        "Whether the leader writes files into --file-dir (auto: only without --exec).",
    ),
    "zk_auth": (
        "SCHEME:CREDENTIAL",
        "ZooKeeper credential (digest:user:password); nodes get ALL for it, READ for all.",
    ),
    "zk_auth_file": (
        "FILE",
        "Read the --zk-auth credential from the first line of FILE (not world-readable).",
    ),
    "zk_tls_ca": ("FILE", "TLS to ZooKeeper: PEM CA certificate(s) to verify the server."),
    "zk_tls_cert": ("FILE", "TLS to ZooKeeper: our PEM client certificate."),
    "zk_tls_key": ("FILE", "TLS to ZooKeeper: the client certificate's PEM key (private)."),
    "file_mode": ("OCTAL", "Mode of leader files (no exec bits, no group/world write)."),
}
# Shown instead of a value for the defaults that depend on the host and process.
_DYNAMIC_DEFAULTS: Final = {"replica_id": REPLICA_ID_DEFAULT_HELP, "journal": JOURNAL_DEFAULT_HELP}


def _flag_options(command: _F) -> _F:
    """Attach every flag of the external contract as plain text.

    Static defaults come from config.DEFAULTS, as text, so they go through the same
    validation as anything typed; the dynamic ones reach build_settings as None.
    """
    for key in reversed(FLAGS):  # decorators apply bottom-up; keep the table's order
        metavar, help_text = _HELP[key]
        flag = flag_name(key)
        multiple = key == "zk_servers"
        default = DEFAULTS.get(key)
        command = click.option(
            flag,
            key,
            type=str,
            default=(default,) if multiple else default,
            multiple=multiple,
            metavar=metavar,
            envvar=envvar_name(flag),
            show_envvar=True,
            show_default=_DYNAMIC_DEFAULTS.get(key, True),
            help=help_text,
        )(command)
    return command


# Where _RunCommand leaves `run`'s own words, as typed, in click's context.meta.
_RUN_ARGS: Final = "election.run.args"


class _RunCommand(click.Command):
    """`run`, which also keeps its words as typed: click hands every stray word to the
    `command` argument, wherever it stood, and only the words typed after `--` are a job."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_RUN_ARGS] = tuple(args)  # a copy: click's parser consumes the list
        return super().parse_args(ctx, args)


def _after_dashes(args: Sequence[str], command: tuple[str, ...]) -> bool:
    """Whether `command` (click's positional words) is exactly what followed `--` in
    `args`: then they are the last words, with `--` just before them. A stray word (as
    in `run --tui true` or `run x -- y`) is not, since no positional word before `--`
    can be `--` itself. (An option's value `--`, as in `--replica-id -- true`, passes
    for the separator: too odd a name to guard against.)"""
    count = len(command)
    return len(args) > count and args[-count - 1] == "--" and tuple(args[-count:]) == command


def _check_job_words(ctx: click.Context, command: tuple[str, ...], exec_text: object) -> None:
    """`run`'s positional words are a job given after `--`: ConfigError for words that
    came before it (`election run true` would otherwise run /bin/true as the job) and for
    a job given both ways."""
    exec_flag = flag_name("exec")
    if not _after_dashes(ctx.meta.get(_RUN_ARGS, ()), command):
        raise ConfigError(
            exec_flag,
            f"unexpected argument {command[0]!r}: give the job with --exec 'CMD ARGS...' "
            "or after --",
        )
    if exec_text is not None:
        raise ConfigError(exec_flag, "give the job with --exec or after --, not both")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="election", message="%(prog)s %(version)s"
)
def main() -> None:
    """Leader election on ZooKeeper: run replicas of `election run`; one leads at a time."""


@main.command(cls=_RunCommand)
@_flag_options
@click.option(
    "--tui",
    "tui",
    is_flag=True,
    default=False,
    help="Draw a live view of this replica on the terminal (logs beneath it). "
    "[env var: ELECTION_TUI=1]",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, /, command: tuple[str, ...], **raw: object) -> None:
    """Run one replica: compete for leadership and do the leader's work while leader.

    The work is a job given with --exec or after `--` (election run -- CMD ARGS...),
    and/or leader files in --file-dir. Exits 0 after a graceful stop (SIGTERM/SIGINT),
    2 for invalid configuration, the job's code under --exec-exit stop.

    \b
    The job's promise: when a job starts, no job of another term is alive, on any
    machine, even if a leader's daemon crashes, freezes or is cut off. A supervisor
    process holds each job to a lease that ends 90% of the session timeout after the
    sending of the last heartbeat ZooKeeper answered (one goes every sixth of the
    timeout). When the lease runs out, or the daemon dies, the job's process group
    gets SIGTERM, then SIGKILL --exec-grace later and never after the lease: before
    ZooKeeper can give leadership away. So the grace must be at most a third of
    --session-timeout (10s: up to 3.33s). Only a whole machine frozen escapes;
    ELECTION_TOKEN (the fencing token) answers that.
    """
    # A switch: the flag, else its variable as typed (config validates it, not click).
    raw["tui"] = "true" if raw.get("tui") else os.environ.get(envvar_name("--tui"))
    try:
        if command:
            _check_job_words(ctx, command, raw.get("exec"))
            raw["exec"] = command
        settings = build_settings(raw)
    except ConfigError as err:
        click.echo(f"election: {err}", err=True)
        ctx.exit(EXIT_CONFIG)
    # Imported here: validating flags (and --help) must not need kazoo or the runtime.
    from election.runtime.daemon import run_daemon

    ctx.exit(run_daemon(settings))


@main.command()
@click.option(
    "--zk-servers",
    "zk_servers",
    type=str,
    multiple=True,
    default=(DEFAULTS["zk_servers"],),
    metavar="HOST:PORT,...",
    envvar="ELECTION_ZK_SERVERS",
    show_envvar=True,
    show_default=True,
    help="ZooKeeper servers; comma-separated, and the flag may repeat.",
)
@click.option(
    "--election-path",
    "election_path",
    type=str,
    default=DEFAULTS["election_path"],
    metavar="ZNODE",
    envvar="ELECTION_ELECTION_PATH",
    show_envvar=True,
    show_default=True,
    help="The replicas' election path; members are read from <its parent>/members.",
)
@click.option("--once", is_flag=True, help="Print one snapshot and exit (for scripts).")
@click.pass_context
def top(ctx: click.Context, /, zk_servers: tuple[str, ...], election_path: str, once: bool) -> None:
    """Watch every replica live: state, time in state, leader and token; q quits."""
    try:
        servers = _field_or_exit("zk_servers", parse_servers, zk_servers)
        path = _field_or_exit("election_path", parse_election_path, election_path)
    except ConfigError as err:
        click.echo(f"election: {err}", err=True)
        ctx.exit(EXIT_CONFIG)
    from election.observe.top import run_top

    ctx.exit(run_top(servers, path, once=once))


def _field_or_exit(key: str, parse: Callable[[Any], _T], value: Any) -> _T:
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(flag_name(key), str(exc)) from None
