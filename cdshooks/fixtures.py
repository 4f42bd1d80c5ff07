"""Fixture patients (FHIR R4 transaction Bundles) -> the CDS Hooks request an EHR would send.

Why this exists: integration engineers and our golden tests must exercise the service exactly as
an EHR does. So a request is never hand-assembled: each prefetch key is filled by running the
service's *own* template (services/descriptor.py) as a FHIR search over the bundle's resources.
The same search code answers the loopback FHIR server of the no-prefetch tests, so "prefetch
sent" and "fetched by the service" see the same data by construction.

Supported search syntax = what our templates use (the spec-restricted subset): read by id,
`patient=`, token parameters `code`, `category`, `status` (comma = OR, `system|code` or `code`),
`_sort=-date` / `-effective-time`, `_count`, `_include=<Type>:medication`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

from .services import SERVICES
from .services.descriptor import ServiceDescriptor

HOOK_SERVICES = {"order-sign": "all-order-sign", "order-select": "all-order-select", "patient-view": "all-patient-view"}
REQUEST_FILES = {
    "order-sign": "request-order-sign.json",
    "order-select": "request-order-select.json",
    "patient-view": "request-patient-view.json",
}
NOPREFETCH_FILE = "request-order-sign-noprefetch.json"
PLACEHOLDER_FHIR_SERVER = "http://127.0.0.1:0/fhir"
DEFAULT_USER = "Practitioner/fixture-oncologist"
_NAMESPACE = uuid.UUID("0f6c1f1e-4d0e-4b8a-9a53-2f1c9e7a0b11")  # deterministic hookInstance ids

# Which element holds the date a `_sort=-date`-style search orders by.
_DATE_PATHS = {
    "Observation": ("effectiveDateTime", "issued"),
    "MedicationAdministration": ("effectiveDateTime",),
    "MedicationRequest": ("authoredOn",),
    "Condition": ("recordedDate", "onsetDateTime"),
}
_SORT_PARAMS = {"date", "effective-time", "authoredon"}


class FixtureError(ValueError):
    """A fixture path or bundle that cannot be used; the message says which and why."""


# -- loading --------------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"{path}: no such file") from None
    except ValueError as exc:
        raise FixtureError(f"{path}: not valid JSON ({exc})") from None


@dataclass(frozen=True)
class Fixture:
    """A fixture directory (or a lone bundle file): its bundle and any request/golden files."""

    path: Path
    bundle: Mapping[str, Any] | None
    requests: Mapping[str, Path]  # file name -> path
    expected: Mapping[str, Any] | None

    @property
    def name(self) -> str:
        return self.path.name if self.path.is_dir() else self.path.stem

    @property
    def reference_date(self) -> date | None:
        """The day the fixture's dates and goldens were written for (expected.json `referenceDate`)."""
        raw = (self.expected or {}).get("referenceDate")
        try:
            return date.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            raise FixtureError(f"{self.path}: expected.json referenceDate {raw!r} is not a YYYY-MM-DD date") from None


def clinical_now(day: date) -> datetime:
    """The instant a pinned clinical clock shows on `day`: noon UTC, the same calendar day everywhere."""
    return datetime.combine(day, time(12, 0), tzinfo=timezone.utc)


def load_fixture(path: str | Path) -> Fixture:
    """A fixture dir, a bundle.json, or a request-*.json (then its directory's bundle, if any)."""
    p = Path(path)
    if p.is_dir():
        bundle_path = p / "bundle.json"
        bundle = read_json(bundle_path) if bundle_path.exists() else None
        requests = {f.name: f for f in sorted(p.glob("request-*.json"))}
        expected = read_json(p / "expected.json") if (p / "expected.json").exists() else None
        if bundle is None and not requests:
            raise FixtureError(f"{p}: no bundle.json and no request-*.json in this directory")
        return Fixture(p, bundle, requests, expected)
    if not p.exists():
        raise FixtureError(f"{p}: no such file or directory")
    body = read_json(p)
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        return Fixture(p, body, {}, None)
    if isinstance(body, dict) and "hook" in body:
        return Fixture(p, None, {p.name: p}, None)
    raise FixtureError(f"{p}: neither a FHIR Bundle nor a CDS Hooks request")


# -- searching a bundle like a FHIR server ----------------------------------------------------


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def _ref_id(reference: Any) -> str | None:
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if not isinstance(reference, str):
        return None
    return reference.rsplit("/", 1)[-1]


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return resource.get("id")
    return _ref_id(resource.get("subject") or resource.get("patient"))


def _codings(value: Any) -> Iterable[Mapping[str, Any]]:
    concepts = value if isinstance(value, list) else [value]
    for concept in concepts:
        if isinstance(concept, dict):
            yield from (c for c in concept.get("coding") or [] if isinstance(c, dict))


def _token_match(codings: Iterable[Mapping[str, Any]], tokens: list[str]) -> bool:
    for coding in codings:
        for token in tokens:
            system, sep, code = token.rpartition("|")
            if coding.get("code") == code and (not sep or not system or coding.get("system") == system):
                return True
    return False


def _resource_date(resource: Mapping[str, Any]) -> str:
    for path in _DATE_PATHS.get(resource.get("resourceType", ""), ()):
        value = resource.get(path)
        if isinstance(value, str):
            return value
    period = resource.get("effectivePeriod")
    return period.get("start", "") if isinstance(period, dict) else ""


def _matches(resource: Mapping[str, Any], name: str, values: list[str]) -> bool:
    if name in ("patient", "subject"):
        return _patient_of(resource) in {_ref_id(v) for v in values}
    if name == "code":
        field = "medicationCodeableConcept" if "medicationCodeableConcept" in resource else "code"
        return _token_match(_codings(resource.get(field)), values)
    if name == "category":
        return _token_match(_codings(resource.get("category")), values)
    if name == "status":
        return resource.get("status") in values or resource.get("clinicalStatus", {}).get("coding", [{}])[0].get("code") in values
    if name == "_id":
        return resource.get("id") in values
    return True  # unknown parameters are ignored, as a lenient server would


def search(resources: list[dict[str, Any]], relative: str) -> dict[str, Any] | None:
    """Answer `Type/id` (the resource or None) or `Type?params` (a searchset Bundle)."""
    parts = urlsplit(relative.lstrip("/"))
    path = parts.path.strip("/")
    if "/" in path:
        rtype, rid = path.split("/", 1)
        return next((r for r in resources if r.get("resourceType") == rtype and r.get("id") == rid), None)
    rtype = path
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(key, []).extend(v for v in value.split(",") if v)
    hits = [r for r in resources if r.get("resourceType") == rtype]
    for name, values in params.items():
        if name.startswith("_") and name != "_id":
            continue
        hits = [r for r in hits if _matches(r, name, values)]
    for sort in params.get("_sort", []):
        if sort.lstrip("-") in _SORT_PARAMS:
            hits.sort(key=_resource_date, reverse=sort.startswith("-"))
    if params.get("_count"):
        hits = hits[: int(params["_count"][0])]
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in hits]
    for include in params.get("_include", []):
        _, _, element = include.partition(":")
        if element == "medication":
            seen: set[str] = set()
            for r in hits:
                med_id = _ref_id(r.get("medicationReference"))
                med = next((m for m in resources if m.get("resourceType") == "Medication" and m.get("id") == med_id), None)
                if med is not None and med_id not in seen:
                    seen.add(med_id)  # type: ignore[arg-type]
                    entries.append({"fullUrl": f"Medication/{med_id}", "resource": med, "search": {"mode": "include"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(hits), "entry": entries}


# -- building requests --------------------------------------------------------------------------


def patient_id_of(bundle: Mapping[str, Any]) -> str:
    patients = [r for r in bundle_resources(bundle) if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise FixtureError(f"the bundle must hold exactly one Patient, it holds {len(patients)}")
    return str(patients[0]["id"])


def draft_orders_of(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """MedicationRequests with status `draft`: the orders being signed/selected."""
    return [r for r in bundle_resources(bundle) if r.get("resourceType") == "MedicationRequest" and r.get("status") == "draft"]


def _fill(template: str, patient_id: str, user_id: str) -> str:
    return (
        template.replace("{{context.patientId}}", patient_id)
        .replace("{{userPractitionerId}}", user_id.partition("/")[2])
    )


def fill_prefetch(service: ServiceDescriptor, bundle: Mapping[str, Any], patient_id: str, user_id: str = DEFAULT_USER) -> dict[str, Any]:
    """Each prefetch key of the service = its own template searched over the bundle."""
    resources = bundle_resources(bundle)
    return {key.key: search(resources, _fill(key.template, patient_id, user_id)) for key in service.prefetch}


def build_request(
    bundle: Mapping[str, Any],
    hook: str,
    *,
    prefetch: bool = True,
    fhir_server: str | None = None,
    access_token: str | None = None,
    user_id: str = DEFAULT_USER,
    selections: list[str] | None = None,
    hook_instance: str | None = None,
) -> dict[str, Any]:
    """The CDS Hooks request an EHR would send for this patient and hook."""
    if hook not in HOOK_SERVICES:
        raise FixtureError(f"unknown hook {hook!r}; one of {', '.join(HOOK_SERVICES)}")
    service = SERVICES[HOOK_SERVICES[hook]]
    patient_id = patient_id_of(bundle)
    context: dict[str, Any] = {"userId": user_id, "patientId": patient_id}
    if hook in ("order-sign", "order-select"):
        drafts = draft_orders_of(bundle)
        if not drafts:
            raise FixtureError(f"hook {hook} needs draft MedicationRequests (status 'draft') in the bundle")
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": d} for d in drafts]}
        if hook == "order-select":
            context["selections"] = selections or [f"MedicationRequest/{drafts[0]['id']}"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": hook_instance or str(uuid.uuid5(_NAMESPACE, f"{patient_id}:{hook}:{prefetch}")),
        "context": context,
    }
    if fhir_server:
        body["fhirServer"] = fhir_server
        if access_token:
            body["fhirAuthorization"] = {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "cds-service",
            }
    if prefetch:
        body["prefetch"] = fill_prefetch(service, bundle, patient_id, user_id)
    return body


def service_for_request(body: Mapping[str, Any]) -> str:
    hook = body.get("hook")
    if hook not in HOOK_SERVICES:
        raise FixtureError(f"request hook {hook!r} is not one this service answers ({', '.join(HOOK_SERVICES)})")
    return HOOK_SERVICES[str(hook)]


def with_fhir_server(body: Mapping[str, Any], fhir_server: str) -> dict[str, Any]:
    """A copy of a request with its placeholder fhirServer replaced (tests, `cdshooks send`)."""
    out = json.loads(json.dumps(body))
    out["fhirServer"] = fhir_server
    return out


def dump_json(value: Any) -> str:
    """The one JSON formatting of committed fixture files (stable diffs, byte-for-byte reruns)."""
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
