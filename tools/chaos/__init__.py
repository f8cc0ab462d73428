"""Chaos soak for election: replicas and a ZooKeeper ensemble under seeded random faults.

`python -m tools.chaos --duration 600 --seed 7` (see docs/faults.md)."""
