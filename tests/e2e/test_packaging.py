"""The wheel is what users install: it builds from the repository, holds `election`,
`journal`, the replay tool (`election_replay`), the simulator (`election_sim`) and the
test kit (`election_testkit`, for the demo) but no tests, and its console scripts and
packages work from a fresh virtualenv that sees nothing of this checkout or this
environment (and has no pytest: the kit must not need it).

The build runs `pip wheel --no-deps` (pip builds in an isolated environment with
hatchling from the configured index); the fresh venv installs the pinned runtime
(requirements.lock, as the container image does) and then the wheel, from the configured
index and pip's cache.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 240  # seconds per pip step: generous for a busy machine and a cold cache


def project_version() -> str:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert isinstance(version, str)
    return version


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)], out)
    (built,) = out.glob("election-*.whl")
    return built


def test_wheel_holds_the_daemon_the_journal_the_tools_and_the_kit_but_no_tests(
    wheel: Path,
) -> None:
    assert wheel.name == f"election-{project_version()}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {
        "election",
        "journal",
        "election_replay",
        "election_sim",
        "election_testkit",
        f"election-{project_version()}.dist-info",
    }
    for module in ("election/cli.py", "election/core/reducer.py", "journal/__init__.py"):
        assert module in names
    assert "election_replay/cli.py" in names
    for module in ("election_sim/world.py", "election_testkit/zookeeper/server.py"):
        assert module in names
    assert "election_testkit/jobs/family_job.py" in names  # the family job runs from it
    assert not [n for n in names if re.search(r"(^|/)(tests?|conftest)(/|\.py$|_)", n)]
    entry_points = zipfile.ZipFile(wheel).read(
        f"election-{project_version()}.dist-info/entry_points.txt"
    )
    assert b"election = election.cli:main" in entry_points
    assert b"election-replay = election_replay.cli:main" in entry_points


@pytest.mark.long
def test_console_scripts_work_from_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # A venv from the base interpreter, without system site-packages (the default).
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", str(venv)], tmp_path)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # As the image does: the pinned runtime (hashes checked), then the wheel, whose own
    # requirements the pins must already meet (pip would fetch anything else).
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    lock = ROOT / "requirements.lock"
    run([*pip, "install", "-q", "--require-hashes", "-r", str(lock)], tmp_path, env)
    run([*pip, "install", "-q", str(wheel)], tmp_path, env)
    listed = json.loads(run([*pip, "list", "--format", "json"], tmp_path, env))
    pinned = {line.split("==")[0].lower() for line in lock.read_text().splitlines() if "==" in line}
    extra = {p["name"].lower().replace("_", "-") for p in listed} - pinned
    assert extra <= {"election", "pip", "setuptools"}, extra

    # Run from tmp_path: nothing of the checkout is importable from there.
    version = run([str(venv / "bin" / "election"), "--version"], tmp_path, env)
    assert version.strip() == f"election {project_version()}"
    replay_help = run([str(venv / "bin" / "election-replay"), "--help"], tmp_path, env)
    assert "JOURNAL" in replay_help
    run_help = run([str(venv / "bin" / "election"), "run", "--help"], tmp_path, env)
    assert "ELECTION_LEADER_TIMEOUT" in run_help
    where = run(
        [str(venv / "bin" / "python"), "-c", "import election, journal; print(election.__file__)"],
        tmp_path,
        env,
    )
    assert Path(where.strip()).is_relative_to(venv), where
    # The simulator and every module of the kit import from the wheel, without pytest.
    imported = run(
        [str(venv / "bin" / "python"), "-c", IMPORT_ALL],
        tmp_path,
        env,
    )
    sim_file, kit_file, modules = imported.split()
    assert Path(sim_file).is_relative_to(venv) and Path(kit_file).is_relative_to(venv)
    assert int(modules) >= 10, imported


# Imports election_sim and every module of election_testkit; prints where they came from
# and how many kit modules there were. Fails if any of them pulled in pytest.
IMPORT_ALL = """
import importlib, pkgutil, sys
import election_sim, election_testkit
kit = [m.name for m in pkgutil.walk_packages(election_testkit.__path__, "election_testkit.")]
for name in kit:
    importlib.import_module(name)
assert "pytest" not in sys.modules, "the kit imported pytest"
print(election_sim.__file__, election_testkit.__file__, len(kit))
"""
