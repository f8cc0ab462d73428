"""Shared fixtures: a real ZooKeeper (Debian package) and kazoo clients against it.

- ``zk_server``      one standalone ZooKeeper for the whole session (do not kill it)
- ``zk_fresh``       a private ZooKeeperServer per test: kill / restart / pause it freely
- ``zk_path``        a unique election path per test: ``/election-tests/<uuid>/leader``
- ``kazoo_client``   a started KazooClient on ``zk_server``, stopped and closed afterwards
- ``kazoo_factory``  makes more KazooClients (any hosts), all disposed of afterwards

A missing ZooKeeper is a loud failure (never a skip): run ``make zookeeper``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from election_testkit.zookeeper import ZooKeeperServer, ZooKeeperUnavailable, check_installed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `long` tests first, the rest in their order after them: `make test`'s workers
    each take the next test when they finish one, so the long ones run beside the many
    short ones rather than alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def _require_zookeeper() -> None:
    try:
        check_installed()
    except ZooKeeperUnavailable as e:
        problem = str(e)
    else:
        return
    pytest.fail(f"ZooKeeper is not installed: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def zk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    """One standalone ZooKeeper shared by the session. Tests must not stop it; use
    ``zk_fresh`` for that."""
    _require_zookeeper()
    server = ZooKeeperServer(tmp_path_factory.mktemp("zk-session"))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def zk_fresh(tmp_path: Path) -> Iterator[ZooKeeperServer]:
    """A private, started ZooKeeperServer for tests that kill/restart/pause it."""
    _require_zookeeper()
    server = ZooKeeperServer(tmp_path / "zk")
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def zk_path() -> str:
    """A unique election path (its parent does not exist yet)."""
    return f"/election-tests/{uuid.uuid4().hex}/leader"


KazooFactory = Callable[..., KazooClient]


def _new_client(hosts: str, timeout: float = 4.0, **kwargs: Any) -> KazooClient:
    # Reconnect fast and forever (tests bound their own waits).
    kwargs.setdefault("connection_retry", {"max_tries": -1, "delay": 0.1, "max_delay": 0.5})
    return KazooClient(hosts=hosts, timeout=timeout, **kwargs)


def _dispose(client: KazooClient) -> None:
    with contextlib.suppress(Exception):
        client.stop()
    with contextlib.suppress(Exception):
        client.close()


@pytest.fixture
def kazoo_factory() -> Iterator[KazooFactory]:
    """``kazoo_factory(hosts, timeout=4.0, start=True, **kw)``: make clients (e.g. through a
    TcpProxy or against ``zk_fresh``); all are stopped and closed at teardown."""
    clients: list[KazooClient] = []

    def make(hosts: str, timeout: float = 4.0, start: bool = True, **kw: Any) -> KazooClient:
        client = _new_client(hosts, timeout, **kw)
        clients.append(client)
        if start:
            client.start(timeout=10)
        return client

    try:
        yield make
    finally:
        for c in clients:
            _dispose(c)


@pytest.fixture
def kazoo_client(zk_server: ZooKeeperServer) -> Iterator[KazooClient]:
    """A started client on the session server (session timeout 4 s)."""
    client = _new_client(zk_server.connect_string)
    client.start(timeout=10)
    try:
        yield client
    finally:
        _dispose(client)
