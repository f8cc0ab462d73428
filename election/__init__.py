"""election: a leader-election daemon on ZooKeeper."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("election")
except PackageNotFoundError:  # a source checkout that was never installed
    __version__ = "0+unknown"
