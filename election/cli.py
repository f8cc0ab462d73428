"""The `election` command line: a thin click front end over `election.config`.

Every flag is taken as plain text and validated by `build_settings`, so that an invalid
value, from a flag or from its `ELECTION_*` variable, ends in one line naming both and
exit status 2, before anything is created.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

from election import __version__
from election.config import ConfigError, build_connection, build_settings
from election.durations import parse_duration
from election.flags import BY_NAME, CONNECTION
from election.flagspec import Flag
from election.values import parse_reason, parse_replica_id

if TYPE_CHECKING:
    from election.operate.connection import OperatorSession

__all__ = ["EXIT_CONFIG", "handover", "main", "pause", "resume", "run", "status", "top"]

EXIT_CONFIG: Final = 2
EXIT_INTERRUPTED: Final = 130  # as a shell reports a command Ctrl-C ended

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")

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


class _Commands(click.Group):
    """The commands in the order an operator meets them (run first), not alphabetical."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        known = [name for name in _SUMMARIES if name in self.commands]
        return known + sorted(set(self.commands) - set(known))


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="election", message="%(prog)s %(version)s"
)
def main() -> None:
    """Leader election on ZooKeeper: run replicas of `election run`; one leads at a time.

    `election COMMAND --help` tells each command's flags and exit codes.
    """


# Each command's line in `election --help`: whole within 80 columns (click cuts a longer
# first sentence of the docstring short with "...").
_SUMMARIES: Final = {
    "run": "Run one replica: compete for leadership, work while leader.",
    "status": "Who leads, and every member's state (exit 0: one leads).",
    "top": "Watch every replica live (q quits); --once: one snapshot.",
    "handover": "Planned hand-over: the leader steps down, stays a candidate.",
    "pause": "Pause the cluster: no replica leads until `election resume`.",
    "resume": "Resume a paused cluster: a leader is back within seconds.",
}


@main.command(cls=_RunCommand, short_help=_SUMMARIES["run"])
@_flag_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, /, command: tuple[str, ...], **raw: object) -> None:
    """Run one replica: compete for leadership and do the leader's work while leader.

    The work is a job given with --exec or after `--` (election run -- CMD ARGS...),
    and/or leader files in --file-dir. Every flag can also be set by its ELECTION_*
    variable (shown beside it); a flag given wins. Durations are Go-style (500ms, 10s,
    1m30s, 1h); a bare number is seconds.

    \b
    Exit codes:
      0  stopped gracefully (SIGTERM or SIGINT)
      1  a second signal forced the exit before the graceful stop finished
      2  invalid configuration: one line names the flag and its variable
      3  an unrecoverable internal error (the journal cannot be written)
      N  under --exec-exit stop: the job's own exit code (128 + N for signal N)

    \b
    The job's environment, beside the daemon's own:
      ELECTION_LEADER=1
      ELECTION_TOKEN          the term's fencing token: it only grows from term to
                              term; store it with the job's writes
      ELECTION_REPLICA        this replica's --replica-id
      ELECTION_ELECTION_PATH  the --election-path
      ELECTION_LOCK_FD        this machine's job lock (a descriptor), held while
                              the job, or anything that inherited it, runs

    The job's promise: when a job starts, no job of another term is alive, on any
    machine, even if a leader's daemon crashes, freezes or is cut off. A supervisor
    process holds each job to a lease that ends 90% of the session timeout after the
    sending of the last heartbeat ZooKeeper answered (one goes every sixth of the
    timeout). When the lease runs out, or the daemon dies, the job's process group
    gets SIGTERM, then SIGKILL --exec-grace later and never after the lease: before
    ZooKeeper can give leadership away. So the grace must be at most a third of
    --session-timeout (10s: up to 3.333s). Only a whole machine frozen escapes;
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


# The operator's commands take `run`'s connection flags, as run declares them.
_CONNECTION_FLAGS: Final = tuple(BY_NAME[name] for name in CONNECTION if name in BY_NAME)
_TIMEOUT: Final = "5s"


def _connection_options(command: _F) -> _F:
    """Attach `run`'s connection flags (the table's entries) and `--timeout`."""
    command = click.option(
        "--timeout",
        default=_TIMEOUT,
        metavar="DURATION",
        show_default=True,
        help="How long to wait for ZooKeeper: to connect, and for each answer.",
    )(command)
    for flag in reversed(_CONNECTION_FLAGS):
        command = _option(flag)(command)
    return command


class _UsageError(Exception):
    """An invalid option of an operator's command: exit 2, one line."""


def _parsed(flag: str, parse: Callable[[str], _T], text: str) -> _T:
    """A command's own option (not one of run's), or _UsageError naming it."""
    try:
        return parse(text)
    except ValueError as exc:
        raise _UsageError(f"invalid {flag}: {exc}") from None


@contextlib.contextmanager
def _refusing(ctx: click.Context, name: str) -> Iterator[None]:
    """An invalid flag or option within: one line on stderr, exit 2."""
    try:
        yield
    except (ConfigError, _UsageError) as err:
        click.echo(f"election {name}: {err}", err=True)
        ctx.exit(EXIT_CONFIG)


def _operate(
    ctx: click.Context, name: str, raw: dict[str, Any], work: Callable[[OperatorSession], int]
) -> None:
    """Run one operator's command: its connection flags validated as `run` validates
    them, a session opened within `--timeout`, `work` done; any failure is one line on
    stderr and its exit code (2, 3, 4 or 1)."""
    with _refusing(ctx, name):
        connection = build_connection({flag.name: raw[flag.name] for flag in _CONNECTION_FLAGS})
        timeout = _parsed("--timeout", parse_duration, raw["timeout"])
    # Imported here: validating flags (and --help) must not need kazoo.
    from election.operate.connection import CommandFailed, open_session

    try:
        with open_session(connection, timeout) as session:
            code = work(session)
    except CommandFailed as failed:
        click.echo(f"election {name}: {failed.message}", err=True)
        ctx.exit(failed.code)
    except KeyboardInterrupt:
        click.echo(f"election {name}: interrupted", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    ctx.exit(code)


@main.command(short_help=_SUMMARIES["top"])
@_connection_options
@click.option("--once", is_flag=True, help="Print one snapshot and exit (for scripts).")
@click.pass_context
def top(ctx: click.Context, /, once: bool, **raw: Any) -> None:
    """Watch every replica live: state, priority, time in state, leader and token; q quits.

    With --once: print one snapshot; exit 0 when a replica leads, 1 when none does,
    3 when ZooKeeper cannot be reached, 4 when its ACL refuses the reads.
    """

    def work(session: OperatorSession) -> int:
        from election.operate.top import run_top

        return run_top(session, one=once)

    _operate(ctx, "top", raw, work)


@main.command(short_help=_SUMMARIES["status"])
@_connection_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.pass_context
def status(ctx: click.Context, /, as_json: bool, **raw: Any) -> None:
    """Who leads, the members (state, priority, time in state), pause and hand-over.

    Exits 0 when a replica leads, 1 when none does (none elected yet, all down, or
    the cluster paused), 2 invalid usage, 3 ZooKeeper not reachable within --timeout,
    4 refused by ZooKeeper's ACL.
    """

    def work(session: OperatorSession) -> int:
        import json
        import time

        from rich.console import Console

        from election.operate.status import exit_code, read_status, render_status
        from election.operate.status import status_document as document

        view = read_status(session)
        path = session.connection.election_path
        if as_json:
            click.echo(json.dumps(document(view, path, time.time()), indent=2))
        else:
            # soft_wrap: a long line stays one line in a pipe (grep), however narrow
            Console(highlight=False, soft_wrap=True).print(render_status(view, time.time()))
        return exit_code(view)

    _operate(ctx, "status", raw, work)


@main.command(short_help=_SUMMARIES["handover"])
@_connection_options
@click.option("--to", "to", metavar="REPLICA", help="The only replica that may take over.")
@click.option(
    "--wait",
    default="30s",
    metavar="DURATION",
    show_default=True,
    help="How long to wait for the new leader before withdrawing the request.",
)
@click.pass_context
def handover(ctx: click.Context, /, to: str | None, wait: str, **raw: Any) -> None:
    """Planned hand-over: the leader ends its term gracefully and stays a candidate.

    With --to, only that replica may take over while the request stands; without, the
    highest-priority other candidate. Exits 0 once the new leader leads, 1 when it does
    not within --wait (the request is withdrawn) or no replica leads, 2 for a replica
    that is unknown, may never lead (priority 0) or already leads (nothing is changed),
    3 ZooKeeper not reachable within --timeout, 4 refused by ZooKeeper's ACL.
    """
    with _refusing(ctx, "handover"):
        target = None if to is None else _parsed("--to", parse_replica_id, to)
        waited = _parsed("--wait", parse_duration, wait)

    def work(session: OperatorSession) -> int:
        from election.operate.connection import format_seconds
        from election.operate.handover import hand_over
        from election.operate.pause import operator

        done = hand_over(session, to=target, wait=waited, by=operator())
        click.echo(
            f"{done.replica} leads (token {done.token}), "
            f"{format_seconds(done.took)} after the request"
        )
        return 0

    _operate(ctx, "handover", raw, work)


@main.command(short_help=_SUMMARIES["pause"])
@_connection_options
@click.option("--reason", default="", metavar="TEXT", help="Why: shown by `election status`.")
@click.pass_context
def pause(ctx: click.Context, /, reason: str, **raw: Any) -> None:
    """Pause the whole cluster: the leader ends its term and none leads until resumed.

    Stored in ZooKeeper (who, when, why): it survives restarts of the replicas. Waits
    up to --timeout to see the leader stop. Exits 0 when paused (or already paused),
    2 invalid usage, 3 ZooKeeper not reachable, 4 refused by ZooKeeper's ACL.
    """
    with _refusing(ctx, "pause"):
        why = _parsed("--reason", parse_reason, reason)

    def work(session: OperatorSession) -> int:
        from election.operate.pause import operator
        from election.operate.pause import pause as pause_cluster

        click.echo(pause_cluster(session, reason=why, by=operator()))
        return 0

    _operate(ctx, "pause", raw, work)


@main.command(short_help=_SUMMARIES["resume"])
@_connection_options
@click.pass_context
def resume(ctx: click.Context, /, **raw: Any) -> None:
    """Resume a paused cluster: a leader is back within a couple of seconds.

    Waits up to --timeout to see it. Exits 0 when resumed (or not paused), 2 invalid
    usage, 3 ZooKeeper not reachable, 4 refused by ZooKeeper's ACL.
    """

    def work(session: OperatorSession) -> int:
        from election.operate.pause import resume as resume_cluster

        click.echo(resume_cluster(session))
        return 0

    _operate(ctx, "resume", raw, work)
