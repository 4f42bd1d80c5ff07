"""Real loopback servers for tests: the service itself and a FHIR server. Nothing is mocked."""

from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run a Flask app on a real loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)  # fast shutdown
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FhirServer:
    """A tiny FHIR server on loopback: answers reads and searches from an in-memory resource list."""

    base_url: str
    resources: list[dict[str, Any]]
    requests: list[RecordedRequest] = field(default_factory=list)
    page_size: int = 0  # >0: paginate searchset Bundles with `next` links
    override: Callable[[RecordedRequest], tuple[int, bytes] | None] | None = None

    def search(self, rtype: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        patient = (query.get("patient") or query.get("subject") or [None])[0]
        out = []
        for r in self.resources:
            if r.get("resourceType") != rtype:
                continue
            if patient:
                ref = (r.get("subject") or r.get("patient") or {}).get("reference", "")
                if ref.split("/")[-1] != patient.split("/")[-1]:
                    continue
            codes = (query.get("code") or [""])[0]
            if codes:
                wanted = {c.split("|")[-1] for c in codes.split(",")}
                have = {c.get("code") for c in (r.get("code") or {}).get("coding", [])}
                if not wanted & have:
                    continue
            out.append(r)
        return out


class _Handler(BaseHTTPRequestHandler):
    fhir: FhirServer

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        rec = RecordedRequest("GET", parts.path, parse_qs(parts.query), dict(self.headers))
        self.fhir.requests.append(rec)
        if self.fhir.override:
            answer = self.fhir.override(rec)
            if answer is not None:
                return self._send(*answer)
        segments = [s for s in parts.path.split("/") if s][1:]  # drop the "fhir" prefix
        if len(segments) == 2:
            found = next((r for r in self.fhir.resources if r.get("resourceType") == segments[0] and r.get("id") == segments[1]), None)
            if found is None:
                return self._send(404, json.dumps({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}).encode())
            return self._send(200, json.dumps(found).encode())
        if len(segments) == 1:
            matches = self.fhir.search(segments[0], rec.query)
            page = int((rec.query.get("_page") or ["1"])[0])
            size = self.fhir.page_size or max(len(matches), 1)
            chunk = matches[(page - 1) * size: page * size]
            bundle: dict[str, Any] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "entry": [{"resource": r} for r in chunk],
                "link": [{"relation": "self", "url": self.fhir.base_url + "/" + segments[0]}],
            }
            if page * size < len(matches):
                q = dict(rec.query)
                q["_page"] = [str(page + 1)]
                query = "&".join(f"{k}={v[0]}" for k, v in q.items())
                bundle["link"].append({"relation": "next", "url": f"{self.fhir.base_url}/{segments[0]}?{query}"})
            return self._send(200, json.dumps(bundle).encode())
        return self._send(400, b"{}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def fhir_server(resources: list[dict[str, Any]], **kwargs: Any) -> Iterator[FhirServer]:
    handler = type("Handler", (_Handler,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fhir = FhirServer(base_url=f"http://127.0.0.1:{httpd.server_port}/fhir", resources=resources, **kwargs)
    handler.fhir = fhir
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fhir
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def listening_socket() -> Iterator[tuple[str, list[bytes]]]:
    """A raw TCP listener that records any connection attempt (proves no outbound request)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    received.append(conn.recv(4096) or b"<connected>")
                except OSError:
                    received.append(b"<connected>")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/fhir", received
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()
