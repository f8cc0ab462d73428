"""The HTTP endpoint is bound before the loop exists: it answers "starting" until it is
given its app, then serves it."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry

from election.observe.http import HttpEndpoint, make_app


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
            make_app(CollectorRegistry(), lambda: (True, "alive"), lambda: (False, "Init"))
        )
        assert _get(endpoint.port, "/healthz") == (200, "ok: alive\n")
        assert _get(endpoint.port, "/readyz") == (503, "not ok: Init\n")
    finally:
        endpoint.close()
