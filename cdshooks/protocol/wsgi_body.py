"""A request body's bytes, read in one pass when gunicorn holds a Content-Length body.

Why: under gunicorn, `request.get_data()` reads through werkzeug's LimitedStream (8 KiB reads)
into gunicorn's `Body`, which asks its reader for 1 KiB at a time; each of those reads takes the
8 KiB socket chunk it came from, keeps 1 KiB and pushes the rest back into a fresh buffer. For the
356 KiB order-sign body that was ~1.7 ms of a worker's CPU per call. gunicorn's `LengthReader`
(the body of a request with a Content-Length) reads the whole length in one call instead,
chunk by chunk from the socket, in ~0.1 ms.

The bytes are the same either way (tests/protocol/test_wsgi_body.py compares both on gunicorn's
own classes and through a real `cdshooks serve`). Anything else (a chunked body, bytes already
buffered in the `Body`, another WSGI server, the test client) takes the ordinary
`get_data(cache=False)`. Content-Length over the limit is refused before either runs (routes).
"""

from __future__ import annotations

from typing import Any

try:
    from gunicorn.http.body import Body, LengthReader
except ImportError:  # pragma: no cover - gunicorn is a runtime dependency; kept optional here
    Body = LengthReader = None


def body_bytes(request: Any) -> bytes:
    """The request body as bytes (what `request.get_data(cache=False)` returns), read in one
    pass from gunicorn's Content-Length reader when that is what holds it."""
    stream = request.environ.get("wsgi.input")
    if Body is not None and type(stream) is Body:
        reader = stream.reader
        if type(reader) is LengthReader and stream.buf.tell() == 0:
            return reader.read(reader.length) if reader.length > 0 else b""
    return request.get_data(cache=False)
