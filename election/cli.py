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
from election.config import ConfigError, build_settings, flag_value
from election.flags import BY_NAME
from election.flagspec import Flag

__all__ = ["EXIT_CONFIG", "main", "run", "top"]

EXIT_CONFIG: Final = 2

_F = TypeVar("_F", bound=Callable[..., Any])

_RUN_FLAGS: Final = tuple(BY_NAME.values())
# The flag that also takes the job's words after `--` (`--exec`).
_JOB: Final = next(flag for flag in _RUN_FLAGS if flag.words)


def _option(flag: Flag, help_text: str | None = None) -> Callable[[_F], _F]:
    """The click option of one flag of the table, taking plain text.

    Static defaults are the table's text, so they go through the same validation as
    anything typed; the ones from a function reach build_settings as None. A switch
    takes no value: its variable is read as typed, for build_settings to judge.
    """
    if flag.switch:
        return click.option(
            flag.flag,
            flag.name,
            is_flag=True,
            default=False,
            help=f"{help_text or flag.help} [env var: {flag.envvar}=1]",
        )
    default = flag.default if isinstance(flag.default, str) else None
    return click.option(
        flag.flag,
        flag.name,
        type=str,
        default=(default,) if flag.multiple and default is not None else default,
        multiple=flag.multiple,
        metavar=flag.metavar,
        envvar=flag.envvar,
        show_envvar=True,
        show_default=flag.shown_default or True,
        help=help_text or flag.help,
    )


def _flag_options(command: _F) -> _F:
    """Attach every flag of `election run`: in the table's order, switches last."""
    ordered = sorted(_RUN_FLAGS, key=lambda flag: flag.switch)  # a stable sort
    for flag in reversed(ordered):  # decorators apply bottom-up
        command = _option(flag)(command)
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


def _check_job_words(ctx: click.Context, command: tuple[str, ...], job_text: object) -> None:
    """`run`'s positional words are a job given after `--`: ConfigError for words that
    came before it (`election run true` would otherwise run /bin/true as the job) and for
    a job given both ways."""
    if not _after_dashes(ctx.meta.get(_RUN_ARGS, ()), command):
        raise ConfigError(
            _JOB.flag,
            f"unexpected argument {command[0]!r}: give the job with {_JOB.flag} "
            f"{_JOB.metavar} or after --",
        )
    if job_text is not None:
        raise ConfigError(_JOB.flag, f"give the job with {_JOB.flag} or after --, not both")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="election", message="%(prog)s %(version)s"
)
def main() -> None:
    """Leader election on ZooKeeper: run replicas of `election run`; one leads at a time."""


@main.command(cls=_RunCommand)
@_flag_options
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
    for flag in _RUN_FLAGS:
        if flag.switch:  # the flag, else its variable as typed (config validates it, not click)
            raw[flag.name] = "true" if raw.get(flag.name) else os.environ.get(flag.envvar)
    try:
        if command:
            _check_job_words(ctx, command, raw.get(_JOB.name))
            raw[_JOB.name] = command
        settings = build_settings(raw)
    except ConfigError as err:
        click.echo(f"election: {err}", err=True)
        ctx.exit(EXIT_CONFIG)
    # Imported here: validating flags (and --help) must not need kazoo or the runtime.
    from election.runtime.daemon import run_daemon

    ctx.exit(run_daemon(settings))


# `election top` takes two of run's flags, as run declares them.
_SERVERS: Final = BY_NAME["zk_servers"]
_ELECTION_PATH: Final = BY_NAME["election_path"]


@main.command()
@_option(_SERVERS)
@_option(_ELECTION_PATH, "The replicas' election path; members are read from <its parent>/members.")
@click.option("--once", is_flag=True, help="Print one snapshot and exit (for scripts).")
@click.pass_context
def top(ctx: click.Context, /, zk_servers: tuple[str, ...], election_path: str, once: bool) -> None:
    """Watch every replica live: state, time in state, leader and token; q quits."""
    try:
        servers = flag_value(_SERVERS.name, zk_servers)
        path = flag_value(_ELECTION_PATH.name, election_path)
    except ConfigError as err:
        click.echo(f"election: {err}", err=True)
        ctx.exit(EXIT_CONFIG)
    from election.observe.top import run_top

    ctx.exit(run_top(servers, path, once=once))
