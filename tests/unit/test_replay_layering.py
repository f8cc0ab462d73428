"""`election-replay` stands beneath nothing of the daemon's shell: it folds journals with
the pure core, the journal package, the record codec and the flag table, and imports no
`election.runtime` module (nor kazoo or prometheus_client), directly or through another.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPLAY = ROOT / "tools" / "election_replay"
# What the replay and what it stands on must not import.
SHELL = ("election.runtime", "election.observe", "kazoo", "prometheus_client")
# The modules beneath both the daemon and the replay.
SHARED = ("election.record_codec", "election.flags", "election.process")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _is_shell(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in SHELL)


def test_no_module_of_the_replay_imports_the_runtime() -> None:
    modules = sorted(REPLAY.glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        bad = sorted(name for name in _imports(module) if _is_shell(name))
        assert not bad, f"{module.name}: {bad}"


def test_the_shared_layer_imports_no_shell_either() -> None:
    for name in SHARED:
        path = ROOT / (name.replace(".", "/") + ".py")
        bad = sorted(n for n in _imports(path) if _is_shell(n))
        assert not bad, f"{name}: {bad}"


def test_loading_the_replay_loads_no_shell_module() -> None:
    """Transitively: whatever the replay imports does not pull the shell in either."""
    probe = (
        "import sys, election_replay, election_replay.cli, election_replay.parallel\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = done.stdout.split()
    assert "election_replay.replay" in loaded and "election.record_codec" in loaded
    assert [name for name in loaded if _is_shell(name)] == []
