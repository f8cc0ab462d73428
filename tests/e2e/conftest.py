"""End-to-end fixtures: real `election run` processes against a real ZooKeeper.

- ``replica_set``  makes ReplicaSets (``replica_set(zk_connect, zk_path, **flags)``) in
                   the test's tmp_path; every replica still running is stopped at teardown
                   (SIGTERM, then SIGKILL). Assertion messages carry the replicas' log
                   tails (``ReplicaSet.describe()``); journals and logs stay in tmp_path.

The ZooKeeper fixtures (``zk_server``, ``zk_fresh``, ``zk_path``) come from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from election_testkit.replicas import ReplicaSet

MakeReplicaSet = Callable[..., ReplicaSet]


@pytest.fixture
def replica_set(tmp_path: Path) -> Iterator[MakeReplicaSet]:
    made: list[ReplicaSet] = []

    def make(zk_servers: str, election_path: str, **flags: str) -> ReplicaSet:
        workdir = tmp_path / f"replicas{len(made)}"
        rs = ReplicaSet(workdir, zk_servers, election_path, **flags)
        made.append(rs)
        return rs

    try:
        yield make
    finally:
        for rs in made:
            rs.close()
