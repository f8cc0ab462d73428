"""Fixtures of the fault suite: clusters of replicas torn down (and checked) after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from election_testkit.cluster import Cluster
from election_testkit.zookeeper import ZooKeeperEnsemble, check_installed

MakeCluster = Callable[..., Cluster]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MakeCluster]:
    """``cluster(zk_servers, proxied=False, **flags)``: a Cluster in tmp_path; every
    replica and proxy is stopped at teardown (SIGCONT first for a stopped one)."""
    made: list[Cluster] = []

    def make(zk_servers: str, **kwargs: object) -> Cluster:
        c = Cluster(tmp_path / f"cluster{len(made)}", zk_servers, **kwargs)  # type: ignore[arg-type]
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()


@pytest.fixture
def ensemble(tmp_path: Path) -> Iterator[ZooKeeperEnsemble]:
    check_installed()
    ens = ZooKeeperEnsemble(tmp_path / "ensemble", 3)
    try:
        ens.start()
        yield ens
    finally:
        ens.close()
