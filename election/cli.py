"""The `election` command line: a thin click front end over `election.config`.

Every flag is taken as plain text and validated by `build_settings`, so that an invalid
value, from a flag or from its `ELECTION_*` variable, ends in one line naming both and
exit status 2, before anything is created.
"""

from __future__ import annotations

from collections.abc import Callable
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
)

__all__ = ["EXIT_CONFIG", "main", "run"]

EXIT_CONFIG: Final = 2

_F = TypeVar("_F", bound=Callable[..., Any])

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
    "metrics_address": ("HOST:PORT|off", "Where to serve /metrics, /healthz, /readyz."),
    "log_level": ("debug|info|warning|error", "Lowest level of log records to emit."),
    "log_format": ("text|json", "Log as rich text or as one JSON object a line."),
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="election", message="%(prog)s %(version)s"
)
def main() -> None:
    """Leader election on ZooKeeper: run replicas of `election run`; one leads at a time."""


@main.command()
@_flag_options
@click.pass_context
def run(ctx: click.Context, /, **raw: object) -> None:
    """Run one replica: compete for leadership and do the leader's work while leader.

    Exits 0 after a graceful stop (SIGTERM/SIGINT), 2 for invalid configuration.
    """
    try:
        settings = build_settings(raw)
    except ConfigError as err:
        click.echo(f"election: {err}", err=True)
        ctx.exit(EXIT_CONFIG)
    # Imported here: validating flags (and --help) must not need kazoo or the runtime.
    from election.runtime.daemon import run_daemon

    ctx.exit(run_daemon(settings))
