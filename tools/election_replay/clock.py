"""Wall times as an engineer reads them: UTC, to the millisecond."""

from __future__ import annotations

from datetime import UTC, datetime


def hms(wall: float) -> str:
    """`04:00:12.331` (UTC)."""
    return datetime.fromtimestamp(wall, UTC).strftime("%H:%M:%S.%f")[:-3]


def stamp(wall: float) -> str:
    """`2026-11-26 04:00:12.331Z`."""
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def seconds(value: float | None) -> str:
    """A duration: `1.234s`, or `-` when unknown (still running)."""
    return "-" if value is None else f"{value:.3f}s"
