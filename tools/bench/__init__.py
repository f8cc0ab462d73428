"""Benchmarks against a real ZooKeeper and real `election run` processes (see README.md).

Run each as a module from the repository root, e.g.
`.venv/bin/python -m tools.bench.handover --runs 5`; they import the test kit
(`election_testkit`) and one another as a package, never by path.
"""
