"""The operator's commands: `election status`, `pause`, `resume` and `handover`.

Each module does one command's ZooKeeper work against the nodes `election.control`
describes; `connection` is how every command (and `election top`) reaches ZooKeeper and
turns its refusals into the contract's exit codes. `election.cli` only wires flags here.
"""
