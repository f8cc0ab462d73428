"""Benchmarks against a real ZooKeeper and real `election run` processes (see README.md).

Run each as a module from the repository root, e.g.
`.venv/bin/python -m tools.bench.crash --runs 5 --sessions 2`; they import the test kit
(`election_testkit`) and one another as a package, never by path.
"""
