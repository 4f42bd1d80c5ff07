"""A service call's parsed body, context and result are freed when the server closes the response (after
the body is sent), not when the view returns: held until `close()`, gone right after it."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import orjson
from flask import Response
from werkzeug.test import EnvironBuilder

from cdshooks.protocol.routes import _free_after_sending


class Big:
    """Stands in for the parsed body (a HookRequest) and the call result: weak-referenceable."""


def test_held_until_the_response_is_closed_then_freed() -> None:
    body, result = Big(), Big()
    refs = [weakref.ref(body), weakref.ref(result)]
    response = Response(b'{"cards": []}', mimetype="application/json")
    _free_after_sending(response, body, result)
    del body, result
    gc.collect()
    assert all(r() is not None for r in refs)  # the view has returned; not freed yet
    assert b"".join(response.response) == b'{"cards": []}'
    response.close()  # what a WSGI server does once the body is written
    assert all(r() is None for r in refs)  # freed by reference counting at close, no collector needed


def test_freed_with_the_response_if_never_closed() -> None:
    body = Big()
    ref = weakref.ref(body)
    response = Response(b"{}")
    _free_after_sending(response, body)
    del body, response
    assert ref() is None


def _live(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_a_real_call_keeps_its_context_and_body_until_the_response_is_closed(make_app: Any) -> None:
    """Through the real app's WSGI call: once the app has returned its response (what gunicorn
    then writes), the call's PatientContext and parsed body are still alive; close() frees them."""
    from cdshooks.context.model import PatientContext
    from cdshooks.fetch.hook import HookRequest
    from support.requests import order_sign_request

    app = make_app()
    environ = EnvironBuilder("/cds-services/all-order-sign", method="POST", data=orjson.dumps(order_sign_request()),
                             content_type="application/json").get_environ()
    gc.collect()
    before = (_live(PatientContext), _live(HookRequest))
    answer = app(environ, lambda status, headers, exc_info=None: None)
    assert b'"cards"' in b"".join(answer)  # the whole answer is out ...
    assert (_live(PatientContext), _live(HookRequest)) == (before[0] + 1, before[1] + 1)  # ... and both still held
    answer.close()
    assert (_live(PatientContext), _live(HookRequest)) == before  # freed at close, by reference counting


def test_a_call_answered_with_an_error_frees_its_body_too(make_app: Any) -> None:
    """A body read and validated, then refused (order-sign sent to the patient-view service: 400):
    nothing of it outlives the answer, without waiting for the cyclic collector."""
    from cdshooks.fetch.hook import HookRequest
    from support.requests import order_sign_request

    app = make_app()
    environ = EnvironBuilder("/cds-services/all-patient-view", method="POST", data=orjson.dumps(order_sign_request()),
                             content_type="application/json").get_environ()
    gc.collect()
    before = _live(HookRequest)
    statuses: list[str] = []
    answer = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(answer)
    answer.close()
    assert statuses == ["400 BAD REQUEST"]
    assert _live(HookRequest) == before
