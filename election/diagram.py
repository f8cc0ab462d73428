"""The state diagram, drawn from the reducer's transition table (mermaid).

`python -m election.diagram` prints it; the README embeds the same text and a test
checks that they agree, so the picture cannot drift from the code.
"""

from __future__ import annotations

from collections import defaultdict

from election.core.reducer import TABLE
from election.core.state import StateName


def edges() -> dict[tuple[StateName, StateName], list[str]]:
    """(from, to) -> the event types that may cause it, in table order."""
    found: dict[tuple[StateName, StateName], list[str]] = defaultdict(list)
    for state, rules in TABLE.items():
        for event_type, rule in rules.items():
            for target in rule.targets:
                found[(state, target)].append(event_type.__name__)
    return dict(found)


def mermaid() -> str:
    """A mermaid `stateDiagram-v2` with every declared transition and its events."""
    lines = ["stateDiagram-v2", "    [*] --> Init: Started"]
    for (source, target), names in edges().items():
        lines.append(f"    {source} --> {target}: {', '.join(names)}")
    lines.append(f"    {StateName.STOPPING} --> [*]: Exit (SessionClosed or stop-deadline)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(mermaid(), end="")
