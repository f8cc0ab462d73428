"""The keeper: one small companion process per daemon that outlives it.

It holds the job's process group and its lease, and the daemon's ZooKeeper session. When
the daemon dies (SIGKILL, the OOM killer, an internal error), the keeper stops the job's
whole group, then closes the dead daemon's session so that the next replica leads at
once, and records what it saw beside the journal. Standard library only: it runs under
`python -I -S`. `machine` decides, `shell` is its process, `zkclose` speaks ZooKeeper.
"""
