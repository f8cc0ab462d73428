"""The HTTP endpoint is bound before the loop exists: it answers "starting" until it is
given its app, then serves it; /leader answers 200 only on a leader with a live session."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import attrs
from prometheus_client import CollectorRegistry

from election.core.state import CoreConfig, Session, State, StateName, Term, initial_state
from election.observe.http import HttpEndpoint, make_app
from election.runtime.daemon import _probes


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_bound_endpoint_says_starting_until_it_is_given_its_app() -> None:
    endpoint = HttpEndpoint("127.0.0.1", 0)
    try:
        assert _get(endpoint.port, "/healthz") == (503, "not ok: starting\n")
        assert _get(endpoint.port, "/metrics")[0] == 503
        endpoint.serve(
            make_app(
                CollectorRegistry(),
                lambda: (True, "alive"),
                lambda: (False, "Init"),
                lambda: (False, "Init, not connected"),
            )
        )
        assert _get(endpoint.port, "/healthz") == (200, "ok: alive\n")
        assert _get(endpoint.port, "/readyz") == (503, "not ok: Init\n")
        assert _get(endpoint.port, "/leader") == (503, "not ok: Init, not connected\n")
    finally:
        endpoint.close()


class _Loop:
    """What the probes read of the loop: its state and when it last made progress."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.last_progress = time.monotonic()


def _state(name: StateName, connected: bool, token: int | None = None) -> State:
    state = attrs.evolve(
        initial_state(CoreConfig(replica="r1", election_path="/e")),
        name=name,
        session=Session(connected=connected, id=7 if connected else None),
    )
    return attrs.evolve(state, phase=Term(token=token)) if token is not None else state


def test_leader_answers_200_only_while_leading_with_a_live_session() -> None:
    loop = _Loop(_state(StateName.LEADER, connected=True, token=42))
    _healthy, ready, leading = _probes(loop)  # type: ignore[arg-type]
    assert leading() == (True, "Leader, connected, token 42")
    assert ready()[0]
    for name, connected in [
        (StateName.LEADER, False),  # the session is in doubt: not a leader to send work to
        (StateName.ATTEMPTER, True),
        (StateName.INIT, False),
        (StateName.FAILOVER, False),
        (StateName.STOPPING, True),
    ]:
        loop.state = _state(name, connected)
        assert leading() == (False, f"{name}, {'connected' if connected else 'not connected'}")


def test_the_endpoint_serves_leader_beside_healthz_and_readyz() -> None:
    loop = _Loop(_state(StateName.ATTEMPTER, connected=True))
    endpoint = HttpEndpoint("127.0.0.1", 0)
    try:
        endpoint.serve(make_app(CollectorRegistry(), *_probes(loop)))  # type: ignore[arg-type]
        assert _get(endpoint.port, "/leader") == (503, "not ok: Attempter, connected\n")
        assert _get(endpoint.port, "/readyz")[0] == 200
        loop.state = _state(StateName.LEADER, connected=True, token=9)
        assert _get(endpoint.port, "/leader") == (200, "ok: Leader, connected, token 9\n")
        assert _get(endpoint.port, "/healthz")[0] == 200
        assert "/leader" in _get(endpoint.port, "/nowhere")[1]
    finally:
        endpoint.close()
