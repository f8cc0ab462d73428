"""The pins agree with pyproject.toml: every dependency it names (the runtime's, the [test]
extra's, the build group's) is pinned in requirements-dev.lock to one version within its
range, with hashes; requirements.lock pins the runtime alone, to the same versions; and
what is installed here is what the lock says. Run `make lock` after changing a range."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)(\s*;[^\\]*)?\s*\\?$")


def pins(lock: str) -> dict[str, Version]:
    """name -> version of every pin in `lock`; each pin must carry at least one hash."""
    lines = (ROOT / lock).read_text().splitlines()
    found: dict[str, Version] = {}
    for i, line in enumerate(lines):
        match = PIN.match(line)
        if match is None:
            continue
        name = canonicalize_name(match.group(1))
        assert name not in found, f"{lock}: {name} pinned twice"
        assert i + 1 < len(lines) and "--hash=sha256:" in lines[i + 1], f"{lock}: {name}"
        found[name] = Version(match.group(2))
    return found


def declared(*groups: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    wanted = list(project["dependencies"])
    for group in groups:
        if group == "build":
            wanted += PYPROJECT["dependency-groups"]["build"]
        else:
            wanted += project["optional-dependencies"][group]
    return [Requirement(text) for text in wanted]


@pytest.mark.parametrize(
    ("lock", "groups"),
    [("requirements.lock", ()), ("requirements-dev.lock", ("test", "build"))],
)
def test_every_dependency_is_pinned_within_its_range(lock: str, groups: tuple[str, ...]) -> None:
    pinned = pins(lock)
    for requirement in declared(*groups):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not pinned in {lock}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, outside {requirement}: run `make lock`"
        )


def test_every_range_has_an_upper_bound() -> None:
    """No major release we have not tested can come in through a range."""
    for requirement in [*declared("test", "build")]:
        assert any(s.operator in ("<", "<=", "==", "~=") for s in requirement.specifier), (
            f"{requirement} has no upper bound"
        )


def test_the_runtime_lock_and_the_dev_lock_agree() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_what_is_installed_is_what_the_lock_pins() -> None:
    """The suite runs on the pins (`make venv` installs them): a package at another
    version here means a stale .venv, or a lock not installed."""
    differ = {}
    for name, version in pins("requirements-dev.lock").items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            continue  # a pin for another platform or Python (its marker says so)
        if installed != version:
            differ[name] = f"installed {installed}, pinned {version}"
    assert differ == {}, differ
