"""A directory this process cannot write to, made for real: a read-only bind mount when
we are root and may mount (root ignores mode bits), mode 0555 when we are not root."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.mounts import bind, can_mount, remount, umount


@contextlib.contextmanager
def read_only_dir(scratch: Path) -> Iterator[Path]:
    """`scratch/ro`, which refuses new entries; skips the test when this machine lets
    us make no such place (root without CAP_SYS_ADMIN)."""
    place = scratch / "ro"
    place.mkdir(parents=True)
    if os.geteuid() != 0:
        place.chmod(0o555)
        try:
            yield place
        finally:
            place.chmod(0o755)
        return
    if not can_mount(scratch):
        pytest.skip("root without CAP_SYS_ADMIN: no place that refuses root can be made")
    bind(place, place)
    try:
        remount(place, read_only=True)
        yield place
    finally:
        umount(place)
