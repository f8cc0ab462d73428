"""`python -m election_sim`: run one seeded simulation and write its journals.

    python -m election_sim --replicas 3 --seed 42 --duration 30 \\
        --faults crash,pause,partition,outage --journals /tmp/sim
    election-replay /tmp/sim/*.jsonl
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from election_sim.world import SimConfig, parse_faults, simulate


def _faults(_: click.Context, __: click.Parameter, value: str) -> object:
    try:
        return parse_faults(value.split(","))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--replicas", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--duration",
    type=click.FloatRange(min=0.0),
    default=20.0,
    show_default=True,
    help="Simulated seconds before every replica is sent SIGTERM.",
)
@click.option(
    "--faults",
    default="crash,pause,partition,outage",
    show_default=True,
    callback=_faults,
    help="Comma-separated fault kinds to inject (or 'none').",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(min=0.0),
    default=0.15,
    show_default=True,
    help="Faults per simulated second.",
)
@click.option("--session-timeout", type=click.FloatRange(min=0.1), default=2.0, show_default=True)
@click.option("--leader-timeout", type=click.FloatRange(min=0.01), default=0.5, show_default=True)
@click.option(
    "--attempter-timeout", type=click.FloatRange(min=0.01), default=2.0, show_default=True
)
@click.option("--stop-deadline", type=click.FloatRange(min=0.01), default=1.0, show_default=True)
@click.option(
    "--journals",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for one journal per replica (default: a new temporary directory).",
)
@click.option(
    "--jobs",
    is_flag=True,
    help="Every replica runs a job (--exec) through its keeper; check the job's promise.",
)
@click.option(
    "--exec-grace",
    type=click.FloatRange(min=0.0),
    default=0.5,
    show_default=True,
    help="With --jobs: the job's stop grace (at most a third of the session timeout).",
)
@click.option(
    "--replay/--no-replay",
    default=True,
    show_default=True,
    help="Check the journals with election-replay's fold and invariants.",
)
def main(
    replicas: int,
    seed: int,
    duration: float,
    faults: frozenset,  # type: ignore[type-arg]
    fault_rate: float,
    session_timeout: float,
    leader_timeout: float,
    attempter_timeout: float,
    stop_deadline: float,
    journals: Path | None,
    jobs: bool,
    exec_grace: float,
    replay: bool,
) -> None:
    """Simulate REPLICAS daemons on one simulated ZooKeeper with seeded faults."""
    directory = journals or Path(tempfile.mkdtemp(prefix="election-sim-"))
    if any(directory.glob("*.jsonl")):
        raise click.UsageError(f"{directory} already holds journals: use an empty directory")
    config = SimConfig(
        seed=seed,
        replicas=replicas,
        duration=duration,
        faults=faults,
        fault_rate=fault_rate,
        session_timeout=session_timeout,
        leader_timeout=leader_timeout,
        attempter_timeout=attempter_timeout,
        stop_deadline=stop_deadline,
        jobs=jobs,
        exec_grace=exec_grace,
    )
    result = simulate(config, directory)
    click.echo(
        f"seed {seed}: {result.records} records in {len(result.journals)} journal(s) "
        f"under {directory}"
    )
    for fault in result.faults:
        click.echo(f"  {fault.start:8.3f}s-{fault.end:8.3f}s  {fault.kind:<9} {fault.target}")
    click.echo(f"  leader files written: {len(result.written)}, refused: {len(result.refused)}")
    if jobs:
        click.echo(f"  job starts: {result.job_starts}")
    if not replay:
        return
    from election_sim.check import check

    verdict = check(result)
    for line in verdict.excused:
        click.echo(f"  excused (a frozen leader that wrote nothing): {line}")
    for line in verdict.problems:
        click.echo(f"  PROBLEM: {line}")
    status = "FAILED" if verdict.problems else "ok (no divergence, no unexplained violation)"
    click.echo(f"  replay of {verdict.events} events: {status}")
    sys.exit(1 if verdict.problems else 0)


if __name__ == "__main__":
    main()
