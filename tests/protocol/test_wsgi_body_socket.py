"""protocol/wsgi_body.py reads the rest of a Content-Length body straight from gunicorn's socket
(one MSG_WAITALL recv) after what gunicorn buffered with the headers. Real gunicorn readers on a
real socket pair: the bytes read are the bytes sent whatever part was buffered, nothing past the
body is consumed (keep-alive framing), a client that stops short gets a short body, and a body
gunicorn buffered whole (next request pipelined behind it) is cut exactly where it ends."""

from __future__ import annotations

import io
import socket
import threading

from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from cdshooks.protocol.wsgi_body import length_body_reads

NEXT_REQUEST = b"GET /health HTTP/1.1\r\n\r\n"
BODY = bytes(range(256)) * 1400  # 350 KiB


def _read_through_app(unreader: SocketUnreader, length: int) -> tuple[bytes, Body]:
    stream = Body(LengthReader(unreader, length))
    seen: dict[str, bytes] = {}

    def app(environ: dict, start_response: object) -> list[bytes]:
        seen["data"] = environ["wsgi.input"].read(length)
        return []

    length_body_reads(app)({"wsgi.input": stream, "CONTENT_LENGTH": str(length), "REQUEST_METHOD": "POST"}, lambda *a: None)
    return seen["data"], stream


def _pair(sent: bytes, *, close_after: bool = False) -> tuple[socket.socket, socket.socket, threading.Thread]:
    sender, receiver = socket.socketpair()

    def send() -> None:
        sender.sendall(sent)
        if close_after:
            sender.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return sender, receiver, thread


def test_the_start_gunicorn_buffered_and_the_rest_from_the_socket_make_the_body() -> None:
    sender, receiver, thread = _pair(BODY[5000:] + NEXT_REQUEST)
    try:
        unreader = SocketUnreader(receiver)
        unreader.buf = io.BytesIO()
        unreader.buf.write(BODY[:5000])  # read with the headers, as gunicorn's parser leaves it
        data, stream = _read_through_app(unreader, len(BODY))
        assert data == BODY
        assert stream.read(8192) == b""  # gunicorn's drain after the response finds nothing left
        thread.join(5)
        assert unreader.read() == NEXT_REQUEST  # the next request was not touched
    finally:
        sender.close()
        receiver.close()


def test_a_client_that_stops_short_gets_a_short_body() -> None:
    sender, receiver, thread = _pair(BODY[:100_000], close_after=True)
    try:
        unreader = SocketUnreader(receiver)
        data, stream = _read_through_app(unreader, len(BODY))
        assert data == BODY[:100_000]  # the JSON parse then refuses it (400), as before
        assert stream.read(8192) == b""
    finally:
        thread.join(5)
        sender.close()
        receiver.close()


def test_a_body_buffered_whole_is_cut_where_it_ends() -> None:
    sender, receiver = socket.socketpair()  # nothing more is sent
    try:
        small = BODY[:3000]
        unreader = SocketUnreader(receiver)
        unreader.buf = io.BytesIO()
        unreader.buf.write(small + NEXT_REQUEST)  # a small body and a pipelined request, all read with the headers
        data, stream = _read_through_app(unreader, len(small))
        assert data == small
        assert stream.read(8192) == b""
        assert unreader.read() == NEXT_REQUEST
    finally:
        sender.close()
        receiver.close()
