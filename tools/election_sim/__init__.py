"""`election_sim`: a deterministic simulation of N replicas on one simulated ZooKeeper.

Each replica is the daemon's real loop (`election.runtime.loop.Loop`) folding events
through the real reducer and journaling genuine records; only the world around it is
simulated, on one clock, from one seed:

    clock.py      the event queue (simulated time) and timers on it
    zookeeper.py  the server: sessions, expiry, ephemeral nodes, czxid, one-shot watches
    client.py     a replica's session as kazoo shows it: CONNECTED/SUSPENDED/LOST
    filedir.py    the shared file-dir: leader files by name, fencing, pruning
    replica.py    one replica: its loop, its journal, its effect handlers
    world.py      the simulation: replicas, faults (crash, pause, partition, outage)
    __main__.py   `python -m election_sim --seed N ...`

The same seed gives the same journals, byte for byte.
"""

from election_sim.world import Fault, SimConfig, Simulation, simulate

__all__ = ["Fault", "SimConfig", "Simulation", "simulate"]
