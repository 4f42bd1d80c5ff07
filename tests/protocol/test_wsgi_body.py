"""The body read in one pass from gunicorn's Content-Length reader (protocol/wsgi_body.py) is the
same bytes `get_data()` reads and leaves any bytes after it where gunicorn expects them, and a real
`cdshooks serve` answers a body sent in pieces, a second call on the same connection and a chunked
body alike."""

from __future__ import annotations

import json
import random
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import IterUnreader
from werkzeug.wrappers import Request

from cdshooks.protocol.wsgi_body import body_bytes
from support.processes import serve_env, start_serve
from support.requests import order_sign_request


def _gunicorn_request(chunks: list[bytes], length: int) -> tuple[Request, IterUnreader]:
    unreader = IterUnreader(chunks)
    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(length), "CONTENT_TYPE": "application/json",
               "wsgi.input": Body(LengthReader(unreader, length)), "wsgi.input_terminated": True}
    return Request(environ), unreader


def _split(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 60))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


@pytest.mark.parametrize("seed", range(40))
def test_one_pass_read_is_the_bytes_get_data_reads_and_leaves_the_next_request(seed: int) -> None:
    rng = random.Random(seed)
    body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 1023, 1024, 8193, 70_000])))
    following = b"POST /next HTTP/1.1\r\n" if seed % 2 else b""  # a pipelined request's first bytes
    chunks = _split(body + following, rng) if body + following else []
    fast, fast_unreader = _gunicorn_request(chunks, len(body))
    slow, slow_unreader = _gunicorn_request(list(chunks), len(body))
    assert body_bytes(fast) == slow.get_data(cache=False) == body
    assert fast.environ["wsgi.input"].read() == b""  # nothing of this body left for gunicorn's drain
    assert fast_unreader.read(len(following) or None) == following  # the next request is untouched


def test_anything_but_gunicorns_length_reader_takes_get_data() -> None:
    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "7", "wsgi.input": __import__("io").BytesIO(b'{"a":1}')}
    assert body_bytes(Request(environ)) == b'{"a":1}'


# -- through a real `cdshooks serve` -------------------------------------------------------------
def _cards(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in card.items() if k != "uuid"} for card in answer["cards"]]


def _recv(sock: socket.socket, buf: bytearray) -> None:
    data = sock.recv(65536)
    assert data, "the server closed the connection"
    buf += data


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    while b"\r\n\r\n" not in buf:
        _recv(sock, buf)
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    buf[:] = rest
    while len(buf) < length:
        _recv(sock, buf)
    data, buf[:] = bytes(buf[:length]), buf[length:]
    return int(lines[0].split()[1]), data


def test_real_server_answers_split_keep_alive_and_chunked_bodies_alike(tmp_path: Path) -> None:
    instance = start_serve(serve_env(tmp_path / "var", CDSHOOKS_AUTH="disabled"), tmp_path / "serve.log")
    try:
        instance.wait_healthy()
        url = instance.base + "/cds-services/all-order-sign"
        body = json.dumps(order_sign_request()).encode()
        reference = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert reference.status_code == 200 and reference.json()["cards"]
        head = (f"POST /cds-services/all-order-sign HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", instance.port), timeout=20) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(head + body[:100])  # the first request's body in pieces, as a slow client sends it
            for i in range(100, len(body), 3000):
                time.sleep(0.01)
                sock.sendall(body[i:i + 3000])
            buf = bytearray()
            answers = [_read_response(sock, buf)]
            sock.sendall(head + body)  # a second request on the same keep-alive connection, in one piece
            answers.append(_read_response(sock, buf))
        chunked = requests.post(url, data=iter([body[:5000], body[5000:]]), timeout=30,
                                headers={"Content-Type": "application/json"})  # Transfer-Encoding: chunked
        assert chunked.request.headers.get("Transfer-Encoding") == "chunked"
        for status, data in answers:
            assert status == 200
            assert _cards(json.loads(data)) == _cards(reference.json())
        assert chunked.status_code == 200 and _cards(chunked.json()) == _cards(reference.json())
    finally:
        instance.stop()
