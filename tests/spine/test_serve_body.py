"""The request body under `cdshooks serve` (issue 15): a Content-Length body is read straight
from gunicorn's LengthReader (protocol/wsgi_body.py) instead of gunicorn's 1 KiB loop.

Real gunicorn readers on a real socket pair, then a real `cdshooks serve`: the bytes the app
reads are the sent bytes, the bytes after the body stay for the next request on the connection,
chunked bodies keep gunicorn's own stream, and the service answers a Content-Length body and a
chunked one alike."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any, Iterator

import requests
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from werkzeug.wrappers import Request

from cdshooks.protocol.wsgi_body import length_body_reads
from support.processes import serve_env, start_serve
from support.requests import order_sign_request

NEXT_REQUEST = b"GET /health HTTP/1.1\r\n\r\n"


def _connected(payload: bytes) -> tuple[socket.socket, socket.socket]:
    sender, receiver = socket.socketpair()
    threading.Thread(target=sender.sendall, args=(payload,), daemon=True).start()
    return sender, receiver


def _run(environ: dict[str, Any]) -> tuple[bytes, type]:
    """What a werkzeug app reads from the wrapped app's environ, and the stream type it saw."""
    seen: dict[str, Any] = {}

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["stream"] = type(env["wsgi.input"])
        seen["data"] = Request(env).get_data(cache=False)
        return []

    length_body_reads(app)(environ, lambda *a: None)
    return seen["data"], seen["stream"]


def test_a_content_length_body_is_read_whole_and_the_next_request_stays_queued() -> None:
    from gunicorn.http.unreader import SocketUnreader

    body = bytes(range(256)) * 1500  # 375 KiB: many 8 KiB socket chunks
    sender, receiver = _connected(body + NEXT_REQUEST)
    try:
        unreader = SocketUnreader(receiver)
        stream = Body(LengthReader(unreader, len(body)))
        data, seen = _run({"wsgi.input": stream, "CONTENT_LENGTH": str(len(body)), "REQUEST_METHOD": "POST"})
        assert seen is not Body  # the faster stream was used
        assert data == body
        assert stream.read(8192) == b""  # what gunicorn drains after the response: nothing left
        assert unreader.read() == NEXT_REQUEST  # keep-alive framing intact
    finally:
        sender.close()
        receiver.close()


def test_a_chunked_body_keeps_gunicorns_stream() -> None:
    from gunicorn.http.unreader import SocketUnreader

    body = b'{"hook": "order-sign"}' * 100
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:1000], body[1000:])) + b"0\r\n\r\n"
    sender, receiver = _connected(chunked)
    try:

        class Req:  # what ChunkedReader asks of the request it belongs to: the trailer headers
            headers: list[Any] = []

        stream = Body(ChunkedReader(Req(), SocketUnreader(receiver)))
        data, seen = _run({"wsgi.input": stream, "REQUEST_METHOD": "POST", "wsgi.input_terminated": True})
        assert seen is Body
        assert data == body
    finally:
        sender.close()
        receiver.close()


def _summaries(answer: requests.Response) -> list[tuple[str, str]]:
    assert answer.status_code == 200, answer.text[:500]
    return [(card["indicator"], card["summary"]) for card in answer.json()["cards"]]


def test_serve_answers_a_content_length_body_and_a_chunked_one_alike(tmp_path: Path) -> None:
    instance = start_serve(serve_env(tmp_path / "var", CDSHOOKS_AUTH="disabled"), tmp_path / "serve.log")
    try:
        instance.wait_healthy()
        url = instance.base + "/cds-services/all-order-sign"
        raw = json.dumps(order_sign_request()).encode()

        def pieces() -> Iterator[bytes]:  # requests sends a generator body chunked
            for start in range(0, len(raw), 4096):
                yield raw[start:start + 4096]

        headers = {"Content-Type": "application/json"}
        with requests.Session() as session:  # one keep-alive connection for all three calls
            framed = _summaries(session.post(url, data=raw, headers=headers, timeout=30))
            chunked = _summaries(session.post(url, data=pieces(), headers=headers, timeout=30))
            again = _summaries(session.post(url, data=raw, headers=headers, timeout=30))
        assert framed and framed == chunked == again
    finally:
        instance.stop()
