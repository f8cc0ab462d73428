"""Disk faults by mount: a read-only bind mount, a small tmpfs filled up.

Root ignores mode bits, so "read-only" and "full" need the kernel's help; `can_mount`
tells whether this machine lets us mount at all (root with CAP_SYS_ADMIN).
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)


def can_mount(scratch: Path) -> bool:
    """True when this process may mount (root with CAP_SYS_ADMIN, no seccomp in the way)."""
    probe = scratch / ".mount-probe"
    probe.mkdir(parents=True, exist_ok=True)
    ok = _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)).returncode == 0
    if ok:
        _run("umount", "-l", str(probe))
    with contextlib.suppress(OSError):
        probe.rmdir()
    return ok


def mount_or_fail(*args: str) -> None:
    proc = _run("mount", *args)
    if proc.returncode != 0:
        raise RuntimeError(f"mount {' '.join(args)} failed: {proc.stderr.strip()}")


def bind(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    mount_or_fail("--bind", str(src), str(dst))


def remount(dst: Path, *, read_only: bool) -> None:
    mount_or_fail("-o", f"remount,{'ro' if read_only else 'rw'},bind", str(dst))


def tmpfs(dst: Path, size: str) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    mount_or_fail("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(dst))


def mounts_under(root: Path) -> str:
    """The mount table's lines below `root` (for a failure message)."""
    with open("/proc/self/mountinfo") as f:
        return "".join(line for line in f if str(root) in line) or f"no mounts under {root}"


def umount(dst: Path) -> None:
    """Unmount (lazily, so a file a replica still holds open does not block it)."""
    _run("umount", "-l", str(dst))


def fill(directory: Path, name: str = "filler") -> Path:
    """Write zeros into `directory/name` until the filesystem is full (ENOSPC)."""
    path = directory / name
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)
    return path
