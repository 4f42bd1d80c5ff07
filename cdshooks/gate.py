"""The CPU gate: in a multi-threaded serving worker, one thread at a time runs a service call's
Python work; a thread waiting on the network lets the next one run.

Why: a gunicorn gthread worker runs up to CDSHOOKS_THREADS calls at once so that a call stuck on
a slow FHIR server holds one thread, not the worker (issue 11). But the calls are CPU-bound
Python under one GIL: four runnable threads hand the GIL to each other every few milliseconds,
and each hand-off costs CPU (wake-ups, cold caches) without adding any throughput. Measured
side by side (README, *Worker model*): a gthread worker spent 1-3 ms more CPU per 600-resource
call than a sync worker at 16 clients. With the gate, the other calls wait on one lock (asleep,
costing nothing) until the running one finishes or starts waiting on the network, which is what
the threads are for.

Who takes it (see `gate_service_calls`): only POST /cds-services/<id> under a multi-threaded
WSGI server (`wsgi.multithread`: gunicorn's gthread worker). /health, discovery, feedback,
metrics and CORS preflights never wait for it, so they are answered while calls run. The
request body is read before the gate is taken, so a client that sends slowly delays only itself.

Where it is let go (`CpuGate.released`): around every network wait a call makes on its own
thread: the fallback FHIR fetch (fetch/prefetch.py: the wait for the fetch pool and each GET
made on the request thread) and the JWKS download (protocol/auth.py). A lock that a thread may
hold across such a wait is taken with `CpuGate.locked`, which never blocks on it while holding
the gate (else: A holds the lock and waits for the gate, B holds the gate and waits for the lock).
Short waits that are mostly our own CPU (the SQLite/PostgreSQL replay-claim insert) keep it:
letting go there would queue the call behind another whole call for a sub-millisecond wait.

Everywhere else (the in-process test client, `cdshooks check`, the fetch pool's own threads)
nothing holds the gate, and `released`/`locked` cost one thread-local read. No timed waits: a
blocking `Lock.acquire()` is immune to a shifted clock (libfaketime in CI).

Imports nothing of ours: protocol/, fetch/ and app.py all use the one process-wide `GATE`.
"""

from __future__ import annotations

import io
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

SERVICE_PREFIX = "/cds-services/"


class CpuGate:
    """A lock that knows which thread holds it, so a wait deep inside a call can let it go.

    `held()` takes it for a call (re-entrant: a thread that already holds it just goes on);
    `released()` lets it go for a network wait and takes it back after, exception or not; both
    are no-ops for a thread that does not hold it. `calls`, `waits` and `holder` are for tests
    and measurement; they are changed only by the thread holding the gate.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mine = threading.local()
        self.holder: int | None = None  # thread ident holding the gate, None when free
        self.calls = 0  # times taken by `held`
        self.waits = 0  # times let go by `released`

    def held_here(self) -> bool:
        return getattr(self._mine, "held", False)

    @property
    def busy(self) -> bool:
        """Some thread holds it (tests: it is free again after every call)."""
        return self._lock.locked()

    def _take(self) -> None:
        self._lock.acquire()
        self._mine.held = True
        self.holder = threading.get_ident()

    def _give(self) -> None:
        self._mine.held = False
        self.holder = None
        self._lock.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        if self.held_here():
            yield
            return
        self._take()
        self.calls += 1
        try:
            yield
        finally:
            self._give()

    @contextmanager
    def released(self) -> Iterator[None]:
        if not self.held_here():
            yield
            return
        self.waits += 1
        self._give()
        try:
            yield
        finally:
            self._take()

    @contextmanager
    def locked(self, lock: Any) -> Iterator[None]:
        """Hold `lock` for the block; if another thread has it, wait for it with the gate let go."""
        if not lock.acquire(blocking=False):
            with self.released():
                lock.acquire()
        try:
            yield
        finally:
            lock.release()


GATE = CpuGate()


def is_service_call(environ: dict[str, Any]) -> bool:
    """POST /cds-services/<id> (not its /feedback, not discovery, not a preflight)."""
    path = environ.get("PATH_INFO", "")
    return (environ.get("REQUEST_METHOD") == "POST" and path.startswith(SERVICE_PREFIX)
            and len(path) > len(SERVICE_PREFIX) and "/" not in path[len(SERVICE_PREFIX):])


def gate_service_calls(wsgi_app: Callable[..., Any], *, max_body_bytes: int, gate: CpuGate = GATE) -> Callable[..., Any]:
    """`wsgi_app` with each service call run holding `gate` when the server is multi-threaded.

    The body (Content-Length, within `max_body_bytes`) is read first, without the gate, and
    handed on as an in-memory stream; a longer or chunked body is left for the app, which
    refuses or reads it as before. The gate is let go when the app returns its response: the
    answer is written, and the response's close() frees the call's objects (routes.py), without
    it. Measured: taking it again for that close() queued the freeing behind the next whole call
    (its objects then cold), for no less CPU per call (README, *Worker model*)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("wsgi.multithread") or not is_service_call(environ):
            return wsgi_app(environ, start_response)
        _read_body_first(environ, max_body_bytes)
        with gate.held():
            return wsgi_app(environ, start_response)

    return app


def _read_body_first(environ: dict[str, Any], max_body_bytes: int) -> None:
    raw = environ.get("CONTENT_LENGTH", "")
    if not raw.isdigit() or not 0 < int(raw) <= max_body_bytes:
        return
    try:
        data = environ["wsgi.input"].read(int(raw))
    except OSError as exc:  # the client went away: the app meets the same error where it reads
        environ["wsgi.input"] = _Failed(exc)
        return
    environ["wsgi.input"] = io.BytesIO(data)


class _Failed:
    """A request stream whose read raises what reading the real one raised."""

    def __init__(self, exc: OSError) -> None:
        self._exc = exc

    def read(self, *args: Any) -> bytes:
        raise self._exc

    readline = read

