"""An embedded loopback FHIR server that answers from a fixture's bundle (for `cdshooks check`).

Why: a `*-noprefetch` request makes the service fetch the record itself from `fhirServer`. To
exercise that path without an EHR, `check` starts this server on 127.0.0.1 (a free port), points
the request at it and trusts exactly that base URL for that one run. Searches are answered by
fixtures.search, the same code that fills prefetch, so both paths see the same data.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import urlsplit

from .fixtures import search

_NOT_FOUND = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}


class BundleFhirServer:
    """Serves `resources` under `base_url`; `resources` may be swapped between runs."""

    def __init__(self, httpd: ThreadingHTTPServer) -> None:
        self.base_url = f"http://127.0.0.1:{httpd.server_port}/fhir"
        self.resources: list[dict[str, Any]] = []
        self.requests = 0

    def answer(self, raw_path: str) -> tuple[int, dict[str, Any]]:
        self.requests += 1
        parts = urlsplit(raw_path)
        if not parts.path.startswith("/fhir/"):
            return 404, _NOT_FOUND
        relative = parts.path[len("/fhir/"):] + (f"?{parts.query}" if parts.query else "")
        found = search(self.resources, relative)
        return (404, _NOT_FOUND) if found is None else (200, found)


@contextmanager
def bundle_fhir_server() -> Iterator[BundleFhirServer]:
    """`with bundle_fhir_server() as fhir: fhir.resources = ...; ... fhir.base_url ...`"""
    server: BundleFhirServer | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            assert server is not None
            status, body = server.answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # quiet: fixture data only, but keep stderr clean
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server = BundleFhirServer(httpd)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
