"""kazoo at arm's length: its non-public surface is reached from one module
(`election/runtime/kazoo_private.py`), whose self-check says what a kazoo lacks, and
`election run --exec` refuses to start on a kazoo it cannot attach to."""

from __future__ import annotations

import ast
import functools
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

import kazoo
import pytest
from kazoo.client import KazooClient

from election.runtime import kazoo_private

ROOT = Path(__file__).resolve().parents[2]
THE_MODULE = ROOT / "election" / "runtime" / "kazoo_private.py"
# Modules of kazoo its documentation presents (kazoo.readthedocs.io, "API Documentation").
PUBLIC_MODULES = {
    "kazoo",
    "kazoo.client",
    "kazoo.exceptions",
    "kazoo.handlers.eventlet",
    "kazoo.handlers.gevent",
    "kazoo.handlers.threading",
    "kazoo.handlers.utils",
    "kazoo.interfaces",
    "kazoo.protocol.states",
    "kazoo.retry",
    "kazoo.security",
    "kazoo.testing",
}


@functools.cache
def kazoo_private_names() -> frozenset[str]:
    """Every `_name` (not dunder) of kazoo's client, its connection handler and callback
    handler (instances and classes), and of kazoo's modules and their classes."""
    client = KazooClient(hosts="127.0.0.1:1")  # never started
    names: set[str] = set()
    for obj in (client, client._connection, client.handler):
        names |= {n for n in [*vars(obj), *dir(type(obj))] if _private(n)}
    for info in pkgutil.walk_packages(kazoo.__path__, "kazoo."):
        if ".tests" in info.name:
            continue
        try:
            module = __import__(info.name, fromlist=["_"])
        except ImportError:  # an optional handler (gevent, eventlet) not installed
            continue
        for name, value in vars(module).items():
            if _private(name):
                names.add(name)
            if inspect.isclass(value) and value.__module__.startswith("kazoo"):
                names |= {n for n in vars(value) if _private(n)}
    return frozenset(names)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@functools.cache
def _suspect(names: frozenset[str]) -> re.Pattern[str]:
    """Text that may reach into kazoo: one of its private names after anything but
    `self.`/`cls.`, or quoted, or an import from kazoo."""
    alternatives = "|".join(sorted(map(re.escape, names)))
    return re.compile(
        rf"(?<!\bself)(?<!\bcls)\.({alternatives})\b|[\"']({alternatives})[\"']"
        r"|^\s*(from|import)\s+kazoo\.",
        re.MULTILINE,
    )


def kazoo_reaches(path: Path, names: frozenset[str]) -> list[str]:
    """Where `path` reaches into kazoo: an attribute of one of kazoo's private names on
    anything but `self`/`cls`, a `getattr` of one, an import of kazoo's private names or
    of a module kazoo does not document."""
    text = path.read_text()
    if not _suspect(names).search(text):  # a grep first; the parse confirms it
        return []
    found = []
    name = path.relative_to(ROOT)
    for node in ast.walk(ast.parse(text, str(path))):
        if not isinstance(node, ast.Attribute | ast.Call | ast.ImportFrom | ast.Import):
            continue
        where = f"{name}:{node.lineno}"
        if isinstance(node, ast.Attribute) and node.attr in names:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{where}: .{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
            "getattr",
            "setattr",
            "hasattr",
        ):
            texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
            found += [f"{where}: {node.func.id}(…, {t!r})" for t in texts if t in names]  # type: ignore[attr-defined]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kazoo"):
            if node.module not in PUBLIC_MODULES:
                found.append(f"{where}: from {node.module} import …")
            found += [f"{where}: import {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Import):
            found += [
                f"{where}: import {a.name}"
                for a in node.names
                if a.name.startswith("kazoo.") and a.name not in PUBLIC_MODULES
            ]
    return found


def test_nothing_but_one_module_reaches_into_kazoo() -> None:
    names = kazoo_private_names()
    assert {"_connection", "_invoke", "_session_timeout", "_socket"} <= names
    found = [
        hit
        for top in ("election", "journal", "tools", "tests")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path not in (THE_MODULE, Path(__file__).resolve())
        for hit in kazoo_reaches(path, names)
    ]
    # A name of our own that happens to be one of kazoo's private names: rename it.
    assert found == [], "kazoo's inside belongs in election/runtime/kazoo_private.py:\n" + (
        "\n".join(found)
    )


def test_the_scan_sees_what_the_module_does() -> None:
    """The scan above is not blind: in the one module it finds every reach."""
    found = kazoo_reaches(THE_MODULE, kazoo_private_names())
    for reach in (": ._invoke", ": ._connection", ": ._socket", "'_session_timeout')"):
        assert any(hit.endswith(reach) for hit in found), (reach, found)


def test_the_installed_kazoo_passes_the_self_check() -> None:
    assert kazoo_private.check() is None
    client = KazooClient(hosts="127.0.0.1:1", timeout=7.5)
    assert kazoo_private.asked_timeout(client) == 7.5
    assert kazoo_private.peer(client) == ""  # not connected: no server to name


class _Handler:
    _socket = None

    def _invoke(self, timeout: float, request: Any, xid: int | None = None) -> Any:
        return None


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda c: delattr(c, "_connection"), "KazooClient has no _connection"),
        (lambda c: setattr(c, "_session_timeout", None), "no _session_timeout"),
        (lambda c: setattr(c._connection, "_invoke", None), "handler has no _invoke"),
        (
            lambda c: setattr(c._connection, "_invoke", lambda request, timeout: None),
            "takes (request, timeout), not (timeout, request, xid)",
        ),
        (lambda c: delattr(c._connection, "_socket"), "handler has no _socket"),
    ],
    ids=["connection", "session-timeout", "invoke", "invoke-signature", "socket"],
)
def test_the_self_check_names_what_a_kazoo_lacks(change: Any, said: str) -> None:
    client = KazooClient(hosts="127.0.0.1:1")
    change(client)
    problem = kazoo_private.check(client)
    assert problem is not None and said in problem, problem
    if said.startswith(("KazooClient has no _connection", "handler has no _invoke")):
        with pytest.raises(kazoo_private.KazooIncompatible):
            kazoo_private.watch_granted_timeout(client, lambda seconds: None)


def test_a_handshake_reply_without_a_timeout_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kazoo_private, "Connect", None)
    assert "no time_out" in (kazoo_private.check() or "")
