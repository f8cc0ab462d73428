"""One list per effect handler, and every effect type run exactly once: in the daemon
and in the simulator alike."""

from __future__ import annotations

import pytest

from election.core import effects as fx
from election.runtime.daemon import EFFECT_HANDLERS
from election.runtime.dispatch import LOOP_EFFECTS, EffectHandler, dispatch_table
from election_sim.replica import SIM_EFFECT_HANDLERS


@pytest.mark.parametrize(
    "handlers", [EFFECT_HANDLERS, SIM_EFFECT_HANDLERS], ids=["daemon", "simulator"]
)
def test_every_effect_type_has_exactly_one_handler(
    handlers: tuple[type[EffectHandler], ...],
) -> None:
    runs: dict[type[fx.Effect], type[EffectHandler]] = {}
    for handler in handlers:
        for kind, method in handler.RUNS.items():
            assert kind not in runs, f"{kind.__name__}: {runs[kind].__name__} and {handler}"
            assert callable(getattr(handler, method, None)), f"{handler.__name__}.{method}"
            runs[kind] = handler
    assert set(runs) == set(fx.EFFECT_TYPES) - set(LOOP_EFFECTS)


def test_the_loop_refuses_an_effect_claimed_twice() -> None:
    class Twice(EffectHandler):
        RUNS = {fx.StopChild: "stop"}

        def stop(self, effect: fx.StopChild) -> None:
            pass

    with pytest.raises(ValueError, match="StopChild has two handlers"):
        dispatch_table([Twice(), Twice()])
    with pytest.raises(ValueError, match="Exit has two handlers"):

        class Exits(EffectHandler):
            RUNS = {fx.Exit: "stop"}

        dispatch_table([Exits()])
