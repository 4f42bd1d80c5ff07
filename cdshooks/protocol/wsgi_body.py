"""gunicorn's request body, read in one pass (issue 15).

Used where the app is served by gunicorn (`app.serving_app`: `cdshooks serve` and the plain
gunicorn entry point `cdshooks.app:wsgi_app()`). Anything else keeps its own stream.
"""

from __future__ import annotations

from typing import Any, Callable


def length_body_reads(wsgi_app: Callable[..., Any]) -> Callable[..., Any]:
    """`wsgi_app` with a Content-Length request body read straight from gunicorn's LengthReader.

    Why: gunicorn's `Body.read(n)` gathers the body 1 KiB at a time, each step re-buffering the
    rest of the 8 KiB chunk it came from; a 356 KiB order-sign cost ~1.2 ms of CPU that way and
    ~0.25 ms read from the reader directly (bench/README.md, round 5). Only a body gunicorn
    frames by Content-Length, not yet read from, is swapped; chunked bodies and anything
    unrecognised (another server, another gunicorn) keep their own stream. The reader is the
    same object gunicorn drains after the response, so keep-alive framing is unchanged.
    """
    from gunicorn.http.body import Body, LengthReader

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        stream = environ.get("wsgi.input")
        if type(stream) is Body and type(getattr(stream, "reader", None)) is LengthReader and stream.buf.tell() == 0:
            environ["wsgi.input"] = _LengthBody(stream)
        return wsgi_app(environ, start_response)

    return app


class _LengthBody:
    """`read` from the body's LengthReader in one call; anything else from gunicorn's Body."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._reader = body.reader

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._reader.length
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        return self._reader.read(wanted) if wanted else b""

    def __getattr__(self, name: str) -> Any:  # readline, iteration: the same reader underneath
        return getattr(self._body, name)
