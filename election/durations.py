"""Go-style durations (`500ms`, `10s`, `1m30s`, `1.5h`) parsed into float seconds.

The contract promises Go's `time.ParseDuration` syntax because the seed was a Go exercise;
unlike Go, a bare number means seconds, and only positive, finite durations are accepted.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Final

__all__ = ["UNITS", "parse_duration"]

# Seconds per unit. Both micro signs are accepted, as Go does: U+00B5 and U+03BC.
UNITS: Final[dict[str, Decimal]] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "\u00b5s": Decimal("1e-6"),
    "\u03bcs": Decimal("1e-6"),
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}

# Longer input is never a sensible timeout; the cap also keeps Decimal far from overflow
# and keeps error messages (which quote the input) short.
_MAX_LENGTH: Final = 64

# [0-9] rather than \d: \d would accept other scripts' digits, which Decimal also reads.
_NUMBER: Final = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_BARE: Final = re.compile(rf"[+-]?{_NUMBER}")
# Units are any run of letters so that `1d` or `1sec` is reported as an unknown unit.
_COMPONENT: Final = re.compile(rf"({_NUMBER})([^\W\d_]+)")
_COMPOSITE: Final = re.compile(rf"([+-]?)((?:{_NUMBER}[^\W\d_]+)+)")

_EXAMPLES: Final = "e.g. 500ms, 10s, 1m30s, or a number of seconds"


def parse_duration(text: str) -> float:
    """Parse a Go-style duration or a bare number of seconds into float seconds.

    Surrounding whitespace is ignored. Raises ValueError with a short reason for
    anything that is not a positive, finite duration.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"empty duration ({_EXAMPLES})")
    if len(stripped) > _MAX_LENGTH:
        raise ValueError(f"duration longer than {_MAX_LENGTH} characters")
    seconds = _seconds(stripped)
    # Decimal keeps `300ms` exactly 0.3; float() only at the end, where a tiny value
    # may round to 0.0 and is then refused like any other non-positive one.
    value = float(seconds)
    if not value > 0:
        raise ValueError(f"duration must be > 0, got {stripped!r}")
    if not math.isfinite(value):
        raise ValueError(f"duration is too large, got {stripped!r}")
    return value


def _seconds(text: str) -> Decimal:
    """Exact seconds of an already stripped duration, negative ones included."""
    if _BARE.fullmatch(text):
        return Decimal(text)
    match = _COMPOSITE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration ({_EXAMPLES}), got {text!r}")
    sign, body = match.groups()
    total = Decimal(0)
    for number, unit in _COMPONENT.findall(body):
        scale = UNITS.get(unit)
        if scale is None:
            known = ", ".join(u for u in UNITS if u.isascii())
            raise ValueError(f"unknown unit {unit!r} in {text!r} (use {known})")
        total += Decimal(number) * scale
    return -total if sign == "-" else total
