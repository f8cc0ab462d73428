"""The HTTP endpoint: /metrics (Prometheus), /healthz (the loop is alive), /readyz
(connected and in Attempter or Leader) and /leader (this replica leads, with a live
session: what a load balancer in front of the replicas asks). Probes read; they never
feed the core."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

Check = Callable[[], tuple[bool, str]]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes would flood the log
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def make_app(
    registry: CollectorRegistry, healthy: Check, ready: Check, leading: Check
) -> Callable[..., Any]:
    """The endpoint's app: each probe answers 200 while its check holds, else 503."""
    metrics_app = make_wsgi_app(registry)

    def probe(check: Check, start_response: Callable[..., Any]) -> Iterable[bytes]:
        ok, detail = check()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [f"{'ok' if ok else 'not ok'}: {detail}\n".encode()]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return probe(healthy, start_response)
        if path == "/readyz":
            return probe(ready, start_response)
        if path == "/leader":
            return probe(leading, start_response)
        if path == "/metrics":
            result: Iterable[bytes] = metrics_app(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics, /healthz, /readyz or /leader\n"]

    return app


def _starting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not ok: starting\n"]


class HttpEndpoint:
    """Serves an app on host:port from a daemon thread; `port` is the bound port. Bound
    first (a port taken must refuse the start before anything else is made), it answers
    503 "starting" until `serve` gives it the app."""

    def __init__(self, host: str, port: int, app: Callable[..., Any] = _starting) -> None:
        self._server = make_server(
            host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.port: int = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="election-http", daemon=True
        )
        self._thread.start()

    def serve(self, app: Callable[..., Any]) -> None:
        self._server.set_app(app)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
