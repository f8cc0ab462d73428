"""A ZooKeeper ensemble of ``size`` quorum peers on loopback, for faults of ZooKeeper
itself: kill its leader, lose and regain its quorum."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from election_testkit.zookeeper.jvm import QUORUM_MAIN, JavaProcess, ZooKeeperStartError
from election_testkit.zookeeper.probes import free_ports, server_mode


class ZooKeeperEnsemble:
    """``size`` QuorumPeerMain nodes on loopback, each in ``workdir/node<i>``.

    Node indices are 0-based; ZooKeeper's ``myid`` is ``index + 1``.
    """

    def __init__(
        self,
        workdir: Path,
        size: int = 3,
        tick_ms: int = 200,
        *,
        min_session_ms: int | None = None,
        max_session_ms: int | None = None,
        log_level: str = "INFO",
        start_timeout: float = 30.0,
    ) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.host = "127.0.0.1"
        self.size = size
        self.tick_ms = tick_ms
        self.min_session_ms = min_session_ms if min_session_ms is not None else 2 * tick_ms
        self.max_session_ms = (
            max_session_ms if max_session_ms is not None else max(10_000, 20 * tick_ms)
        )
        self.start_timeout = start_timeout
        self.workdir = Path(workdir)
        ports = free_ports(3 * size, self.host)
        self.client_ports = ports[0:size]
        self.quorum_ports = ports[size : 2 * size]
        self.election_ports = ports[2 * size : 3 * size]
        self._nodes = [
            JavaProcess(self.workdir / f"node{i}", QUORUM_MAIN, log_level) for i in range(size)
        ]
        self.started_in: float | None = None

    # -- accessors
    @property
    def connect_string(self) -> str:
        return ",".join(f"{self.host}:{p}" for p in self.client_ports)

    def node_connect_string(self, i: int) -> str:
        return f"{self.host}:{self.client_ports[i]}"

    def node_workdir(self, i: int) -> Path:
        return self._nodes[i].workdir

    def node_log_path(self, i: int) -> Path:
        return self._nodes[i].log_path

    def node_pid(self, i: int) -> int | None:
        return self._nodes[i].pid

    def node_running(self, i: int) -> bool:
        return self._nodes[i].running

    def node_mode(self, i: int) -> str | None:
        if not self._nodes[i].running:
            return None
        return server_mode(self.host, self.client_ports[i], timeout=0.5)

    def modes(self) -> list[str | None]:
        return [self.node_mode(i) for i in range(self.size)]

    def leader_index(self) -> int | None:
        """Index of the node whose ``srvr`` says ``Mode: leader`` (None if none does)."""
        for i in range(self.size):
            if self.node_mode(i) == "leader":
                return i
        return None

    def _write_config(self, i: int) -> None:
        node = self._nodes[i]
        data_dir = node.workdir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "myid").write_text(f"{i + 1}\n")
        cfg: dict[str, object] = {
            "tickTime": self.tick_ms,
            "initLimit": 10,
            "syncLimit": 5,
            "dataDir": data_dir,
            "clientPort": self.client_ports[i],
            "clientPortAddress": self.host,
            "maxClientCnxns": 0,
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "minSessionTimeout": self.min_session_ms,
            "maxSessionTimeout": self.max_session_ms,
            "autopurge.purgeInterval": 0,
            "standaloneEnabled": "false",
            "reconfigEnabled": "false",
        }
        lines = [f"{k}={v}\n" for k, v in cfg.items()]
        lines += [
            f"server.{j + 1}={self.host}:{self.quorum_ports[j]}:{self.election_ports[j]}\n"
            for j in range(self.size)
        ]
        node.cfg_path.write_text("".join(lines))

    # -- lifecycle
    def start(self) -> ZooKeeperEnsemble:
        """Start every node and wait (bounded) until all serve and one is leader."""
        t0 = time.monotonic()
        try:
            for i in range(self.size):
                self._write_config(i)
                self._nodes[i].spawn()
            self.wait_for_quorum(self.start_timeout, all_nodes=True)
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def wait_for_quorum(self, timeout: float = 20.0, *, all_nodes: bool = False) -> int:
        """Wait until a leader serves (and, with ``all_nodes``, every running node serves).
        Returns the leader's index."""
        deadline = time.monotonic() + timeout
        while True:
            for i, node in enumerate(self._nodes):
                if node.proc is not None and node.proc.poll() is not None and all_nodes:
                    raise ZooKeeperStartError(
                        f"ensemble node {i} exited (rc={node.proc.returncode});"
                        f" log {node.log_path}:\n{node.log_tail()}"
                    )
            modes = self.modes()
            leader = [i for i, m in enumerate(modes) if m == "leader"]
            running = [i for i in range(self.size) if self._nodes[i].running]
            ok = len(leader) == 1 and (not all_nodes or all(modes[i] is not None for i in running))
            if ok:
                return leader[0]
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- node {i} ({self._nodes[i].log_path}):\n{self._nodes[i].log_tail(15)}"
                    for i in range(self.size)
                )
                raise ZooKeeperStartError(
                    f"ensemble has no serving leader after {timeout}s (modes={modes})\n{tails}"
                )
            time.sleep(0.05)

    def start_node(self, i: int, *, wait: bool = True, timeout: float = 20.0) -> None:
        self._write_config(i)
        self._nodes[i].spawn()
        if wait:
            deadline = time.monotonic() + timeout
            while self.node_mode(i) is None:
                if not self._nodes[i].running:
                    raise ZooKeeperStartError(f"node {i} exited; log:\n{self._nodes[i].log_tail()}")
                if time.monotonic() > deadline:
                    raise ZooKeeperStartError(
                        f"node {i} not serving after {timeout}s; log:\n{self._nodes[i].log_tail()}"
                    )
                time.sleep(0.05)

    def stop_node(self, i: int, timeout: float = 10.0) -> None:
        self._nodes[i].stop(timeout)

    def kill_node(self, i: int) -> None:
        self._nodes[i].kill()

    def pause_node(self, i: int) -> None:
        self._nodes[i].pause()

    def resume_node(self, i: int) -> None:
        self._nodes[i].resume()

    def stop(self) -> None:
        for node in self._nodes:
            node.stop()

    def close(self) -> None:
        for node in self._nodes:
            node._resume_quietly()
            node.kill()

    def __enter__(self) -> ZooKeeperEnsemble:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.size))

    def __repr__(self) -> str:
        return f"<ZooKeeperEnsemble {self.connect_string} modes={self.modes()}>"
