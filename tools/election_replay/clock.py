"""Wall times as an engineer reads them (UTC, to the millisecond) and writes them
(RFC 3339, or `@UNIX-SECONDS` as `date -d` takes them)."""

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


def parse_time(text: str) -> float:
    """Unix seconds of `2026-11-26T04:00:00Z` (RFC 3339: a time zone is required; a space
    for the T is fine) or `@1795665600.5`. ValueError says what is wrong."""
    text = text.strip()
    if text.startswith("@"):
        try:
            return float(text[1:])
        except ValueError:
            raise ValueError(f"{text!r}: expected @UNIX-SECONDS, e.g. @1795665600") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r}: expected an RFC 3339 time, e.g. 2026-11-26T04:00:00Z, or @UNIX-SECONDS"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r}: give its time zone, e.g. {text}Z for UTC")
    return moment.timestamp()
