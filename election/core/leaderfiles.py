"""Leader files: their exact name pattern and which of them to prune (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable

PREFIX = "election-"
SUFFIX = ".json"
TEMP_PREFIX = ".election-tmp-"  # a dot name: never matches PATTERN, so never pruned
# Zero-padded so that names sort in write order: by token (term), then sequence.
PATTERN = re.compile(r"^election-(\d{20})-(\d{10})\.json$")


def leader_file_name(token: int, seq: int) -> str:
    """`election-<token:20>-<seq:10>.json`: sorts by term, then by write order."""
    return f"{PREFIX}{token:020d}-{seq:010d}{SUFFIX}"


def parse_leader_file_name(name: str) -> tuple[int, int] | None:
    """(token, seq) for a name of our exact pattern, else None (a foreign file)."""
    match = PATTERN.match(name)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def highest_token(names: Iterable[str]) -> int | None:
    """The highest token among our files, or None when there are none."""
    tokens = [parsed[0] for parsed in map(parse_leader_file_name, names) if parsed]
    return max(tokens, default=None)


def files_to_prune(names: Iterable[str], keep: int, token: int) -> list[str]:
    """Our oldest files beyond `keep`, oldest first. Foreign names are not counted and
    never returned; a file of a higher token than ours is counted but never returned."""
    ours = sorted(
        (parsed, name) for name in names if (parsed := parse_leader_file_name(name)) is not None
    )
    excess = len(ours) - keep
    if excess <= 0:
        return []
    return [name for (file_token, _), name in ours[:excess] if file_token <= token]
