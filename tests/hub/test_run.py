"""``ds4023 hub start`` waits for the formgrader's route: what counts as routed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from ds4023.hub import run


def _server(status: int, location: str | None):
    """A local HTTP server answering every GET with ``status`` (and ``location``)."""

    class Reply(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Reply)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize(
    ("status", "location", "routed"),
    [
        (302, "/hub/services/ds4023/formgrader/", False),  # the hub stands in: no route yet
        (404, None, False),
        (503, None, False),
        (302, "/hub/api/oauth2/authorize?client_id=service-ds4023", True),  # the service's login
        (200, None, True),
    ],
)
def test_the_formgrader_counts_as_routed_only_when_the_service_answers(status, location, routed):
    """Is a redirect to the hub's own services page 'not yet', and the service's answer 'yes'?"""
    server = _server(status, location)
    try:
        plan = SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/")
        assert run.formgrader_routed(plan) is routed
    finally:
        server.shutdown()


def test_nothing_listening_is_not_routed():
    """Is a port nobody listens on 'not yet' rather than an error?"""
    server = _server(200, None)
    port = server.server_port
    server.shutdown()
    server.server_close()
    assert run.formgrader_routed(SimpleNamespace(url=f"http://127.0.0.1:{port}/")) is False
