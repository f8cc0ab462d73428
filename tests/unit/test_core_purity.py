"""election/core stays pure: no I/O, clocks, randomness, threads or shell imports."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "election" / "core"
FORBIDDEN = {
    "kazoo",
    "rich",
    "prometheus_client",
    "click",
    "orjson",
    "journal",
    "os",
    "io",
    "time",
    "datetime",
    "random",
    "secrets",
    "threading",
    "asyncio",
    "socket",
    "subprocess",
    "signal",
    "queue",
    "logging",
    "pathlib",
    "shutil",
    "election.runtime",
    "election.observe",
    "election.config",
    "election.cli",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_modules_import_nothing_impure() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 6
    for module in modules:
        for name in _imports(module):
            for bad in FORBIDDEN:
                assert name != bad and not name.startswith(bad + "."), f"{module.name}: {name}"
