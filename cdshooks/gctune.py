"""Garbage-collector settings for a process that serves requests, applied once the app is built.

Why: after start-up a worker holds tens of thousands of long-lived objects (knowledge base,
compiled schemas, fhir.resources model classes). Every full collection walked all of them, which
was most of the latency tail (bench/README.md). `gc.freeze()` moves everything alive at that
point into a permanent generation the collector never scans. The first calls create another
~26,000 long-lived objects (modules imported on first use, validators and caches built lazily),
so `warm_up` first runs one call per service in-process, without the route (nothing is written
to the audit table, nothing is fetched), and only then is everything frozen. A request allocates
thousands of short-lived containers that reference counting frees; with the default gen-0
threshold (700) that alone triggered ~17 collections per large request, so the threshold is
raised: the few cycles a request makes (exception tracebacks) are still collected, just in
fewer, cheap passes.

Called from every place that builds the app for serving: `cdshooks serve` (each gunicorn worker,
after `create_app`), `cdshooks.app:wsgi_app()` (a plain `gunicorn 'cdshooks.app:wsgi_app()'`).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

log = logging.getLogger(__name__)

# (gen0, gen1, gen2): gen-0 passes every 20,000 net allocations instead of 700; older generations
# keep their default ratios. Measured in bench/ (GC collections per call and p95).
SERVING_THRESHOLDS = (20_000, 10, 10)

_PID = "warm-up-patient"


def _warm_up_request(hook: str) -> dict[str, Any]:
    """A small, made-up chart (no real patient): a child with a weight, a height and one draft
    vincristine order, enough to reach context building, the rules and the card templates."""
    def obs(oid: str, loinc: str, value: float, unit: str) -> dict[str, Any]:
        return {"resourceType": "Observation", "id": oid, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "subject": {"reference": f"Patient/{_PID}"}, "effectiveDateTime": "2026-01-05",
                "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}

    order = {"resourceType": "MedicationRequest", "id": "warm-up-order", "status": "draft", "intent": "order",
             "subject": {"reference": f"Patient/{_PID}"}, "authoredOn": "2026-01-06",
             "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                       "code": "1863354", "display": "vincristine 1 MG/ML Injection"}]},
             "dosageInstruction": [{"route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
                                    "doseAndRate": [{"doseQuantity": {"value": 1.5, "unit": "mg",
                                                                      "system": "http://unitsofmeasure.org", "code": "mg"}}]}]}
    context: dict[str, Any] = {"patientId": _PID, "userId": "Practitioner/warm-up"}
    if hook != "patient-view":
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/warm-up-order"]
    measurements = {"resourceType": "Bundle", "type": "searchset",
                    "entry": [{"resource": obs("w", "29463-7", 20.0, "kg")}, {"resource": obs("h", "8302-2", 110.0, "cm")}]}
    return {"hook": hook, "hookInstance": "00000000-0000-4000-8000-00000000warm", "context": context,
            "prefetch": {"patient": {"resourceType": "Patient", "id": _PID, "birthDate": "2019-03-01", "gender": "female"},
                         "bodyMeasurements": measurements}}


def warm_up(app: Any) -> int:
    """Run each service once on a made-up chart through `app`'s runtime (see `warm_up_services`)."""
    runtime = app.extensions["cdshooks"]
    return warm_up_services(runtime.settings, runtime.knowledge, runtime.session)


def warm_up_services(settings: Any, knowledge: Any, session: Any) -> int:
    """Run each service once on a made-up chart, in-process and without the HTTP route (so no
    audit row, metric or log line; the chart sends no fhirServer, so nothing is fetched and no
    thread is started); returns how many ran. A failure is logged, never fatal: the process
    then just freezes less. `cdshooks serve` also runs this in the gunicorn master before it
    forks, so the modules first calls import (~1.5 s) are loaded once and shared by every
    worker, and a booting worker answers its first probe without that delay."""
    from .protocol.envelope import read_hook_request
    from .services import SERVICES
    from .services.pipeline import call_service

    ran = 0
    for service in SERVICES.values():
        try:
            hook_request = read_hook_request(_warm_up_request(service.hook))
            call_service(service, hook_request, settings=settings, knowledge=knowledge, session=session, iss=None)
            ran += 1
        except Exception as exc:  # noqa: BLE001 - warm-up is an optimisation only
            log.warning("warm-up call of %s failed (%s); continuing", service.id, type(exc).__name__)
    return ran


def tune_for_serving(app: Any = None) -> None:
    """Warm `app` up (if given), collect start-up garbage, freeze what survives, raise gen-0."""
    if app is not None and "cdshooks" in getattr(app, "extensions", {}):
        warm_up(app)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
