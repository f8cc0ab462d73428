"""Which handler runs which effect: one map per handler.

Each effect handler declares `RUNS`, from effect type to the name of the method that runs
it; the loop dispatches from those maps (`dispatch_table`), and `run` does the same for a
caller holding one handler. The loop itself runs its own three (timers and the exit). A
test holds that every effect type has exactly one handler in the daemon and one in the
simulator (tests/unit/test_effect_handlers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from election.core import effects as fx

LOOP_EFFECTS: tuple[type[fx.Effect], ...] = (fx.StartTimer, fx.CancelTimer, fx.Exit)
"""The effects the loop runs itself."""

Run = Callable[[Any], None]


class EffectHandler:
    """A base for effect handlers: `RUNS` maps each effect type to its method's name."""

    RUNS: ClassVar[Mapping[type[fx.Effect], str]] = {}

    def run(self, effect: fx.Effect) -> None:
        """Run `effect` (one of this handler's `RUNS`)."""
        getattr(self, self.RUNS[type(effect)])(effect)


def dispatch_table(handlers: Iterable[EffectHandler]) -> dict[type[fx.Effect], Run]:
    """Effect type -> the bound method that runs it; ValueError for a type two handlers
    claim, or one the loop runs itself."""
    table: dict[type[fx.Effect], Run] = {}
    for handler in handlers:
        for kind, name in handler.RUNS.items():
            if kind in table or kind in LOOP_EFFECTS:
                raise ValueError(f"{kind.__name__} has two handlers")
            table[kind] = getattr(handler, name)
    return table
