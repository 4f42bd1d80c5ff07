"""A loopback FHIR server whose every answer is scripted: hang, drip, 404, 500, loop `next`,
redirect, delay. Real sockets, real HTTP; used by tests/protocol/test_fetch_deadline.py."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

Script = Callable[["Hostile", BaseHTTPRequestHandler], None]


@dataclass
class Hostile:
    base_url: str
    script: Script
    paths: list[str] = field(default_factory=list)  # path + query of every GET, in arrival order
    stop: threading.Event = field(default_factory=threading.Event)

    def count(self, fragment: str) -> int:
        return sum(1 for p in self.paths if fragment in p)


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/fhir+json")
    handler.send_header("Content-Length", str(len(raw)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(raw)


def hang(server: Hostile, handler: BaseHTTPRequestHandler) -> None:
    """Accept, read the request, never answer (until the test ends)."""
    server.stop.wait(30)


def drip(interval: float) -> Script:
    """Headers at once, then one byte of a never-ending body every `interval` seconds."""

    def script(server: Hostile, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.write(b"{")
        handler.wfile.flush()
        while not server.stop.wait(interval):
            try:
                handler.wfile.write(b" ")
                handler.wfile.flush()
            except OSError:
                return

    return script


def status(code: int) -> Script:
    def script(server: Hostile, handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, code, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing"}]})

    return script


@contextmanager
def hostile_fhir(script: Script) -> Iterator[Hostile]:
    state: dict[str, Hostile] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            server = state["server"]
            parts = urlsplit(self.path)
            server.paths.append(parts.path + ("?" + parts.query if parts.query else ""))
            try:
                server.script(server, self)
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server = Hostile(base_url=f"http://127.0.0.1:{httpd.server_port}/fhir", script=script)
    state["server"] = server
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    value = call()
    return value, time.monotonic() - started
