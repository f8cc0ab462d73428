"""The wheel is what users install: it builds from the repository, holds `election`,
`journal` and the replay tool (`election_replay`) but no tests, and its console scripts
work from a fresh virtualenv that sees nothing of this checkout or this environment.

The build runs `pip wheel --no-deps` (pip builds in an isolated environment with
hatchling from the configured index); the fresh venv installs the wheel and its
dependencies from the configured index and pip's cache.
"""

from __future__ import annotations

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


def test_wheel_holds_the_daemon_the_journal_and_the_replay_tool_but_no_tests(
    wheel: Path,
) -> None:
    assert wheel.name == f"election-{project_version()}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {
        "election",
        "journal",
        "election_replay",
        f"election-{project_version()}.dist-info",
    }
    for module in ("election/cli.py", "election/core/reducer.py", "journal/__init__.py"):
        assert module in names
    assert "election_replay/cli.py" in names
    assert not [n for n in names if re.search(r"(^|/)(tests?|conftest)(/|\.py$|_)", n)]
    entry_points = zipfile.ZipFile(wheel).read(
        f"election-{project_version()}.dist-info/entry_points.txt"
    )
    assert b"election = election.cli:main" in entry_points
    assert b"election-replay = election_replay.cli:main" in entry_points


def test_console_scripts_work_from_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # A venv from the base interpreter, without system site-packages (the default).
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", str(venv)], tmp_path)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], tmp_path, env)

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
