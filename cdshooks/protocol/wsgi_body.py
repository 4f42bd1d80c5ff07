"""gunicorn's request body, read in one pass (issue 15).

Used where the app is served by gunicorn (`app.serving_app`: `cdshooks serve` and the plain
gunicorn entry point `cdshooks.app:wsgi_app()`). Anything else keeps its own stream.
"""

from __future__ import annotations

import io
import socket
from typing import Any, Callable


def length_body_reads(wsgi_app: Callable[..., Any]) -> Callable[..., Any]:
    """`wsgi_app` with a Content-Length request body read straight from gunicorn's LengthReader.

    Why: gunicorn's `Body.read(n)` gathers the body 1 KiB at a time, each step re-buffering the
    rest of the 8 KiB chunk it came from; a 356 KiB order-sign cost ~1.2 ms of CPU that way and
    ~0.25 ms read from the reader directly (bench/README.md, round 5), and ~0.1 ms with the part
    gunicorn has not buffered yet taken from the socket in one recv (`_LengthBody._from_socket`;
    the reader's own loop recv'd 8 KiB per step, ~45 steps). Only a body gunicorn
    frames by Content-Length, not yet read from, is swapped; chunked bodies and anything
    unrecognised (another server, another gunicorn) keep their own stream. The reader is the
    same object gunicorn drains after the response, so keep-alive framing is unchanged.
    """
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.unreader import SocketUnreader

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        stream = environ.get("wsgi.input")
        if type(stream) is Body and type(getattr(stream, "reader", None)) is LengthReader and stream.buf.tell() == 0:
            environ["wsgi.input"] = _LengthBody(stream, SocketUnreader)
        return wsgi_app(environ, start_response)

    return app


class _LengthBody:
    """`read` from the body's LengthReader in one call; anything else from gunicorn's Body."""

    def __init__(self, body: Any, socket_unreader: type) -> None:
        self._body = body
        self._reader = body.reader
        self._socket_unreader = socket_unreader  # gunicorn's SocketUnreader (imported with gunicorn)

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._reader.length
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        if not wanted:
            return b""
        unreader = self._reader.unreader
        if type(unreader) is self._socket_unreader and wanted > _buffered(unreader):
            return self._from_socket(unreader, wanted)
        return self._reader.read(wanted)

    def _from_socket(self, unreader: Any, wanted: int) -> bytes:
        """`wanted` bytes: what gunicorn has buffered (the start of the body, read with the
        headers), then the rest straight from the socket, `MSG_WAITALL`: one recv of exactly
        what is left (a few on a socket with a timeout or after a signal), not the reader's
        8 KiB recv per step; nothing past the body is read, so the next request on the
        connection stays in the socket. A client that stops short gets a short body, as through
        the reader."""
        head = unreader.buf.getvalue()
        unreader.buf = io.BytesIO()
        parts = [head] if head else []
        got = len(head)
        while got < wanted:
            chunk = unreader.sock.recv(wanted - got, socket.MSG_WAITALL)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        self._reader.length -= wanted  # as LengthReader.read does, also for a short body
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def __getattr__(self, name: str) -> Any:  # readline, iteration: the same reader underneath
        return getattr(self._body, name)


def _buffered(unreader: Any) -> int:
    buf = unreader.buf
    return buf.getbuffer().nbytes if hasattr(buf, "getbuffer") else 0

