"""The CPU gate in-process (cdshooks/gate.py): which requests take it, that it is always given
back, and that the app as gunicorn serves it (`serving_app`) is wired through it.

The served app is driven with Flask's test client; `wsgi.multithread` is what gunicorn's gthread
worker sets (and the test client does not), so the same app is gated or not as the server says.
The gunicorn side, with hanging servers, is tests/spine/test_serve_gate.py.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from cdshooks.gate import GATE, CpuGate, gate_service_calls, is_service_call
from support.requests import order_sign_request

THREADED = {"wsgi.multithread": True}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cdshooks.app import close_app, serving_app

    thresholds = gc.get_threshold()
    patch = pytest.MonkeyPatch()
    patch.setenv("CDSHOOKS_AUTH", "disabled")
    patch.setenv("CDSHOOKS_DATA_DIR", str(tmp_path_factory.mktemp("gate") / "var"))
    app = serving_app()
    try:
        yield app
    finally:
        close_app(app)
        patch.undo()
        gc.unfreeze()
        gc.set_threshold(*thresholds)


class Holder:
    """Another thread holding a gate (the process's) until `let_go()`, as a running call would."""

    def __init__(self, gate: CpuGate = GATE) -> None:
        self._gate = gate
        self._taken, self._go = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self._gate.held():
            self._taken.set()
            self._go.wait()

    def __enter__(self) -> Holder:
        self._thread.start()
        self._taken.wait()
        return self

    def let_go(self) -> None:
        self._go.set()
        self._thread.join()

    def __exit__(self, *exc: Any) -> None:
        self.let_go()


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_a_served_call_takes_the_gate_once_and_gives_it_back(served: Any) -> None:
    calls, waits = GATE.calls, GATE.waits
    answer = served.test_client().post("/cds-services/all-order-sign", json=order_sign_request(), environ_overrides=THREADED)
    assert answer.status_code == 200 and answer.get_json()["cards"]
    answer.close()  # what the server does once the answer is written (PEP 3333): frees the call's objects
    assert GATE.calls - calls == 1 and not GATE.busy
    assert GATE.waits == waits  # nothing was fetched
    assert GATE.holder is None and not GATE.busy


def test_a_served_call_waits_for_the_gate_under_a_threaded_server(served: Any) -> None:
    client = served.test_client()
    with Holder() as holder:
        thread, out = _in_thread(lambda: client.post("/cds-services/all-order-sign", json=order_sign_request(),
                                                     environ_overrides=THREADED))
        time.sleep(0.5)  # an ungated call would be answered by now (~20 ms)
        assert not out
        holder.let_go()
        thread.join()
    assert out[0].status_code == 200 and not GATE.busy


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/health", None),
    ("GET", "/health/live", None),
    ("GET", "/cds-services", None),
    ("OPTIONS", "/cds-services/all-order-sign", None),
    ("POST", "/cds-services/all-order-sign/feedback", {"feedback": []}),
    ("GET", "/metrics", None),
])
def test_health_discovery_feedback_and_preflight_never_wait_for_the_gate(served: Any, method: str, path: str, body: Any) -> None:
    client = served.test_client()
    with Holder():
        thread, out = _in_thread(lambda: client.open(path, method=method, json=body, environ_overrides=THREADED))
        thread.join(timeout=10)  # only times out (and fails) if the request queued for the gate
        assert out and out[0].status_code < 500, out


def test_the_in_process_path_is_not_gated(served: Any) -> None:
    """The test client, `cdshooks check` and every other single-threaded caller: no gate."""
    with Holder():
        thread, out = _in_thread(lambda: served.test_client().post("/cds-services/all-order-sign", json=order_sign_request()))
        thread.join(timeout=30)
        assert out and out[0].status_code == 200


def test_a_refused_call_gives_the_gate_back(served: Any) -> None:
    client = served.test_client()
    bad = client.post("/cds-services/all-order-sign", data=b"{not json", content_type="application/json", environ_overrides=THREADED)
    unknown = client.post("/cds-services/no-such-service", json=order_sign_request(), environ_overrides=THREADED)
    assert (bad.status_code, unknown.status_code) == (400, 404)
    assert GATE.holder is None and not GATE.busy


def test_an_exception_out_of_the_app_gives_the_gate_back() -> None:
    gate = CpuGate()

    def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert gate.held_here()
        raise RuntimeError("boom")

    app = gate_service_calls(broken, max_body_bytes=1024, gate=gate)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/cds-services/x", "wsgi.multithread": True, "CONTENT_LENGTH": "0"}
    with pytest.raises(RuntimeError):
        app(environ, lambda *a: None)
    assert gate.holder is None and not gate.busy and gate.calls == 1


def test_released_gives_way_and_takes_it_back_even_when_the_wait_raises() -> None:
    gate = CpuGate()
    seen: list[bool] = []
    with gate.held():
        with pytest.raises(TimeoutError), gate.released():
            seen.append(gate.busy)
            raise TimeoutError
        seen.append(gate.held_here())
    assert seen == [False, True] and not gate.busy and gate.waits == 1


def test_released_and_locked_do_nothing_for_a_thread_without_the_gate() -> None:
    gate, lock = CpuGate(), threading.Lock()
    with Holder(gate):
        with gate.released():
            assert gate.busy  # someone else's gate is left alone
        with gate.locked(lock):
            assert lock.locked()
    assert not lock.locked() and gate.waits == 0


def test_locked_waits_for_a_busy_lock_with_the_gate_let_go() -> None:
    """The deadlock it prevents: B holds the gate and waits for the lock; A holds the lock and
    waits for the gate. With `locked`, B gives the gate up while it waits."""
    gate, lock = CpuGate(), threading.Lock()
    lock.acquire()  # A has it (downloading keys, gate let go)
    order: list[str] = []

    def b() -> None:
        with gate.held(), gate.locked(lock):
            order.append("b has lock")

    thread = threading.Thread(target=b, daemon=True)
    thread.start()
    time.sleep(0.2)
    with gate.held():  # A takes the gate back: B is not sitting on it
        order.append("a has gate")
    lock.release()
    thread.join()
    assert order == ["a has gate", "b has lock"] and not gate.busy and not lock.locked()


def test_the_body_is_read_before_the_gate_and_the_answer_written_and_closed_after_it() -> None:
    gate = CpuGate()
    seen: dict[str, bool] = {}

    class Stream:  # the server's request stream
        def read(self, size: int) -> bytes:
            seen["read"] = gate.held_here()
            return b"{}"[:size]

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            seen["written"] = gate.held_here()
            yield b"{}"

        def close(self) -> None:
            seen["closed"] = gate.held_here()

    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen["called"] = gate.held_here()
        assert environ["wsgi.input"].read(2) == b"{}"
        return Body()

    app = gate_service_calls(inner, max_body_bytes=1024, gate=gate)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/cds-services/x", "wsgi.multithread": True,
               "CONTENT_LENGTH": "2", "wsgi.input": Stream()}
    body = app(environ, lambda *a: None)
    assert b"".join(body) == b"{}"
    body.close()
    assert seen == {"read": False, "called": True, "written": False, "closed": False} and gate.calls == 1


def test_a_body_read_that_fails_before_the_gate_fails_where_the_app_reads() -> None:
    class Reset:
        def read(self, size: int) -> bytes:
            raise ConnectionResetError("peer went away")

    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return [environ["wsgi.input"].read(10)]

    app = gate_service_calls(inner, max_body_bytes=1024, gate=(gate := CpuGate()))
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/cds-services/x", "wsgi.multithread": True,
               "CONTENT_LENGTH": "10", "wsgi.input": Reset()}
    with pytest.raises(ConnectionResetError):
        app(environ, lambda *a: None)
    assert not gate.busy


def test_a_body_over_the_limit_is_left_for_the_app_to_refuse() -> None:
    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return [b"refused" if environ["wsgi.input"] == "untouched" else b"read"]

    app = gate_service_calls(inner, max_body_bytes=10, gate=CpuGate())
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/cds-services/x", "wsgi.multithread": True,
               "CONTENT_LENGTH": "11", "wsgi.input": "untouched"}
    assert app(environ, lambda *a: None) == [b"refused"]


@pytest.mark.parametrize("method,path,gated", [
    ("POST", "/cds-services/all-order-sign", True),
    ("POST", "/cds-services/all-order-sign/feedback", False),
    ("POST", "/cds-services/", False),
    ("GET", "/cds-services/all-order-sign", False),
    ("GET", "/cds-services", False),
    ("GET", "/health", False),
])
def test_which_requests_are_service_calls(method: str, path: str, gated: bool) -> None:
    assert is_service_call({"REQUEST_METHOD": method, "PATH_INFO": path}) is gated

