"""`election_testkit`: real ZooKeeper servers, real `election run` replicas, real faults.

What the end-to-end and fault tests, the benchmarks, the chaos soak and the demo share.
Standard library, `election`, `journal` and `election_replay` only: nothing here imports
pytest, so it works from an installed wheel (`python -m election_testkit.demo`).

    zookeeper/   ZooKeeperServer, ZooKeeperEnsemble (Debian's zookeeper package), probes
    proxy.py     TcpProxy: a TCP relay that can blackhole (a silent partition) and heal
    waiting.py   wait_until: bounded polling
    replica.py   Replica: one `election run` process, its journal and its log
    replicas.py  ReplicaSet: replicas on one ZooKeeper, election path and file-dir
    leadership.py  leadership terms from the journals, overlaps in wall time
    filedir.py   leader files read back; FileDirRecorder, the witness of file-dir
    cluster.py   Cluster: a ReplicaSet behind per-replica proxies (Links), with a verdict
    injector.py  the chaos soak's faults, one at a time (Soak)
    verdict.py   election-replay's verdict over a run's journals, the one judge of safety
    measures.py  files written, terms and leaderless gaps: measurements, not a verdict
    family.py    the family job (jobs/family_job.py) and what it recorded
    demo.py      `python -m election_testkit.demo` (`make demo`)
"""
