"""election: a leader-election daemon on ZooKeeper."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Lazy: the keeper (election.keeper) imports this package under `python -I -S`, where
    # importlib.metadata alone would cost it a third of its start-up and 7 MB.
    if name != "__version__":
        raise AttributeError(f"module 'election' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("election")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "0+unknown"
