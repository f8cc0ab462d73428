"""A real ZooKeeper for tests, benchmarks and the demo: Debian's ``zookeeper`` package.

``python -m election_testkit.zookeeper`` runs one on 127.0.0.1:2181 until Ctrl-C, for
trying `election run` by hand (``__main__.py``).

with ZooKeeperServer(workdir) as zk:          # standalone, 127.0.0.1:<free port>
    KazooClient(zk.connect_string)
ZooKeeperEnsemble(workdir, 3).start()          # quorum peers on loopback

jvm.py       one JVM: its config, log and data in a work dir; killed for sure
server.py    ZooKeeperServer (and ServerTls: a TLS-only client port)
ensemble.py  ZooKeeperEnsemble: kill, pause and restart single nodes
probes.py    free ports, four-letter words (``srvr``, ``mntr``), a server's mode
"""

from election_testkit.zookeeper.ensemble import ZooKeeperEnsemble
from election_testkit.zookeeper.jvm import (
    ZooKeeperStartError,
    ZooKeeperUnavailable,
    check_installed,
)
from election_testkit.zookeeper.probes import (
    four_letter_word,
    four_letter_word_tls,
    free_port,
    free_ports,
    server_mode,
)
from election_testkit.zookeeper.server import ServerTls, ZooKeeperServer

__all__ = [
    "ServerTls",
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "ZooKeeperStartError",
    "ZooKeeperUnavailable",
    "check_installed",
    "four_letter_word",
    "four_letter_word_tls",
    "free_port",
    "free_ports",
    "server_mode",
]
