"""A service call's parsed body and result are freed when the server closes the response (after
the body is sent), not when the view returns: held until `close()`, gone right after it."""

from __future__ import annotations

import gc
import weakref

from flask import Response

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
