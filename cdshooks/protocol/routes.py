"""HTTP routes. Each is a few lines: authenticate, read the body, call one function, answer.

    GET  /cds-services                  discovery
    POST /cds-services/<id>             call a service          -> services.pipeline.call_service
    POST /cds-services/<id>/feedback    2.0 feedback            -> protocol.feedback.handle_feedback
    OPTIONS on all of the above         CORS preflight (no auth, as browsers send none)
    GET  /health (ready), GET /health/live (alive), GET /metrics
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..errors import CdsError, MethodNotAllowed, NotFound, PayloadTooLarge, UnknownService
from ..services import SERVICES, discovery
from ..services.pipeline import call_service
from . import metrics, request_log
from .auth import ANONYMOUS, Caller
from .envelope import check_content_type, parse_json_object, read_hook_request
from .feedback import handle_feedback
from .runtime import Runtime, runtime

log = logging.getLogger(__name__)
bp = Blueprint("cds", __name__)


def _rt() -> Runtime:
    return runtime()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def audience_url() -> str:
    settings = _rt().settings
    if settings.public_base_url:
        return settings.public_base_url + request.path
    return request.base_url


def authenticate() -> Caller:
    rt = _rt()
    if not rt.settings.auth_required:
        return ANONYMOUS
    caller = rt.verifier.verify(request.headers.get("Authorization"), audience_url())
    request_log.note(iss=caller.iss, tenant=caller.tenant)  # which EHR / hospital: no PHI
    return caller


def read_body() -> dict[str, Any]:
    limit = _rt().settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body is {request.content_length} bytes; the limit is {limit}")
    check_content_type(request.headers.get("Content-Type"))
    return parse_json_object(_body_bytes(), max_bytes=limit)


def _body_bytes() -> bytes:
    """The body: with a Content-Length, exactly that many bytes read from `wsgi.input` in one
    call (what PEP 3333 lets an application read); otherwise (chunked) `get_data`.

    Why: `get_data` reads through werkzeug's LimitedStream 8 KiB at a time; over the one-pass
    reader `cdshooks serve` puts on gunicorn's body (protocol/wsgi_body.py) that loop was
    ~0.4 ms of CPU for the 356 KiB order-sign, one read ~0.2 ms. A length over the limit was
    refused before this runs; a client that sends less than it announced gets a short body,
    which the JSON parse refuses (400), as it did through get_data under gunicorn."""
    length = request.content_length
    if length is None:
        return request.get_data(cache=False)
    return request.environ["wsgi.input"].read(length) if length > 0 else b""


@bp.route("/cds-services", methods=["GET", "OPTIONS"])
def discovery_route() -> Response:
    if request.method == "OPTIONS":
        return Response(status=204)
    authenticate()
    metrics.REQUESTS.labels("discovery", "", "200").inc()
    return json_response(discovery())


@bp.route("/cds-services/<service_id>", methods=["POST", "OPTIONS"])
def service_route(service_id: str) -> Response:
    if request.method == "OPTIONS":
        return Response(status=204)
    caller = authenticate()
    service = SERVICES.get(service_id)
    if service is None:
        raise UnknownService(f"no CDS service with id {service_id!r}; see GET /cds-services")
    hook_request = read_hook_request(read_body())
    request_log.note(service=service.id, hook=service.hook, hookInstance=hook_request.hook_instance[:64])
    rt = _rt()
    started = time.perf_counter()
    result = call_service(
        service, hook_request, settings=rt.settings, knowledge=rt.knowledge, session=rt.session, iss=caller.iss
    )
    metrics.labelled(metrics.LATENCY, service.id).observe(time.perf_counter() - started)
    request_log.note_prefetch(result.prefetch.fetched, result.prefetch.missing)
    request_log.note_cards(result.cards)
    rt.store.record_cards(
        hook_instance=hook_request.hook_instance,
        service_id=service.id,
        cards=result.cards,
        caller=caller,
        patient_id=hook_request.patient_id or None,
        knowledge_version=rt.knowledge.version,
        policy_version=result.policy_version,
        silenced=[(f.rule_id, f.topic, f.indicator) for f in result.silenced],
    )
    metrics.count_cards(service.id, result.cards)
    metrics.labelled(metrics.REQUESTS, "service", service.id, "200").inc()
    response = json_response({"cards": result.cards, **({"extension": result.extension} if result.extension else {})})
    _free_after_sending(response, hook_request, result)
    return response


class _Held:
    """The call's parsed body and result (with the PatientContext built from it, `CallResult.context`),
    released when the server closes the response.

    Why: freeing a 600-resource body's ~17,000 objects and its context costs ~1.5-2 ms of CPU, and
    Python frees a view's locals when it returns (the context: when call_service returns), before
    the answer is written. Held here, they are freed in
    `close()`, which the WSGI server calls once the body is sent (PEP 3333), so the EHR does not
    wait for it; the CPU is the same. Nothing outlives the request: `close()` always runs, and if
    it did not the objects would go with the response."""

    __slots__ = ("objects",)

    def __init__(self, objects: tuple[Any, ...]) -> None:
        self.objects: tuple[Any, ...] | None = objects

    def release(self) -> None:
        self.objects = None


def _free_after_sending(response: Response, *objects: Any) -> None:
    response.call_on_close(_Held(objects).release)


@bp.route("/cds-services/<service_id>/feedback", methods=["POST", "OPTIONS"])
def feedback_route(service_id: str) -> Response:
    if request.method == "OPTIONS":
        return Response(status=204)
    caller = authenticate()
    if service_id not in SERVICES:
        raise UnknownService(f"no CDS service with id {service_id!r}; see GET /cds-services")
    body = read_body()
    items = body.get("feedback")
    request_log.note(service=service_id, feedbackItems=len(items) if isinstance(items, list) else None)
    answer = handle_feedback(_rt().store, service_id, body, caller)
    metrics.REQUESTS.labels("feedback", service_id, "200").inc()
    return json_response(answer)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    """Readiness: the knowledge base is loaded AND a store round-trip works (writes can be kept).
    503 with the reason otherwise, so a load balancer stops sending calls we would answer 503."""
    rt = _rt()
    body: dict[str, Any] = {"status": "ok", "version": __version__, "knowledge": rt.knowledge.version, "auth": rt.settings.auth}
    reason = "knowledge base not loaded" if not rt.knowledge.version else rt.store.ping()
    if reason:
        log.warning("not ready: %s", reason)
        return json_response({**body, "status": "unavailable", "reason": reason}, 503)
    return json_response(body)


@bp.route("/health/live", methods=["GET"])
def health_live() -> Response:
    """Liveness: the process answers HTTP. No database or knowledge check, so a slow database
    makes pods unready (/health), never restarts them."""
    return json_response({"status": "alive"})


@bp.route("/metrics", methods=["GET"])
def metrics_route() -> Response:
    body, content_type = metrics.render()
    return Response(body, status=200, content_type=content_type)


def init_error_handlers(app: Flask) -> None:
    @app.errorhandler(CdsError)
    def cds_error(exc: CdsError) -> Response:
        if exc.status == 401:
            request_log.note_jwt_reject(exc.message)
            metrics.REQUESTS.labels("auth", "", "401").inc()
            body = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "login", "diagnostics": "Unauthorized"}],
            }
            return json_response(body, 401)
        request_log.note(error=exc.code)
        metrics.REQUESTS.labels("error", "", str(exc.status)).inc()
        return json_response(exc.to_operation_outcome(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 404:
            err: CdsError = NotFound(f"no route {request.path}")
        elif status == 405:
            err = MethodNotAllowed(f"{request.method} is not allowed on {request.path}")
        elif status == 413:
            err = PayloadTooLarge("request body is over the size limit")
        else:
            err = CdsError(exc.description or exc.name)
            err.status = status
        return json_response(err.to_operation_outcome(), status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.path)
        request_log.note(error=CdsError.code)
        err = CdsError("internal error; the service log has the details")
        return json_response(err.to_operation_outcome(), 500)
