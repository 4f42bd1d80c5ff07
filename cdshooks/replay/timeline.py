"""A patient record -> the calls an EHR would have made, each with the record as it stood then.

For every MedicationRequest, in authoredOn order: one order-sign call for that order, with every
resource dated after the order excluded (a resource with a date only is placed at the start of its
day, so the day's labs count; an order with a date only is placed at the end of its day) and the
service's clock pinned to the order. Earlier orders appear as the EHR would show them (status as
recorded, a stray ``draft`` as ``active``). One patient-view call follows, on the record as of the
last order (or as a whole when there is none). Resources without a date (Patient, Medication) and
resources whose date cannot be read are always present: the checks report bad data, the replay
does not hide it.

Fixture folders are different: their stored ``request-*.json`` files are the calls (the goldens
describe exactly those), replayed with the clock at the fixture's ``referenceDate`` (noon UTC, as
the golden test pins it), else at the draft orders' date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

from ..fixtures import build_request, clinical_now
from .sources import PatientRecord

_DATE_FIELDS = {
    "MedicationRequest": ("authoredOn",),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod"),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod", "dateAsserted"),
    "Observation": ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
    "Condition": ("recordedDate", "onsetDateTime", "onsetPeriod"),
    "CarePlan": ("period", "created"),
    "Procedure": ("performedDateTime", "performedPeriod"),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod", "issued"),
    "Encounter": ("period",),
    "AllergyIntolerance": ("recordedDate", "onsetDateTime"),
}


@dataclass(frozen=True)
class PlannedCall:
    hook: str  # "patient-view" | "order-sign"
    body: dict[str, Any]  # the CDS Hooks request, prefetch filled from the record as of `now`
    now: datetime
    orders: int  # draft orders signed in this call (0 for patient-view)
    name: str = ""  # the stored request file, or "order-sign <n>"


def parse_instant(value: Any, *, end_of_day: bool = False) -> datetime | None:
    """A FHIR date / dateTime / instant as an aware UTC datetime; None if absent or unreadable."""
    if isinstance(value, dict):  # a Period: its start
        value = value.get("start")
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if len(value) <= 10:
            parts = [int(p) for p in value.split("-")] + [1, 1]
            day = datetime(parts[0], parts[1], parts[2], tzinfo=timezone.utc)
            if not end_of_day:
                return day
            span = {4: timedelta(days=366), 7: timedelta(days=31)}.get(len(value), timedelta(days=1))
            return min(day + span, _next_boundary(value, day)) - timedelta(microseconds=1)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _next_boundary(value: str, day: datetime) -> datetime:
    if len(value) == 4:
        return day.replace(year=day.year + 1)
    if len(value) == 7:
        return day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
    return day + timedelta(days=1)


def resource_instant(resource: Mapping[str, Any]) -> datetime | None:
    for name in _DATE_FIELDS.get(str(resource.get("resourceType")), ()):
        when = parse_instant(resource.get(name))
        if when is not None:
            return when
    return None


def as_of(dated: list[tuple[datetime | None, dict[str, Any]]], cutoff: datetime) -> list[dict[str, Any]]:
    return [r for when, r in dated if when is None or when <= cutoff]


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _as_recorded(resource: dict[str, Any], draft: dict[str, Any] | None = None) -> dict[str, Any]:
    """The order being signed becomes the draft; an earlier stray draft shows as signed (active)."""
    if resource is draft:
        return {**resource, "status": "draft"}
    if resource.get("resourceType") == "MedicationRequest" and resource.get("status") == "draft":
        return {**resource, "status": "active"}
    return resource


def plan_calls(record: PatientRecord) -> Iterator[PlannedCall]:
    if record.stored_requests:
        yield from _stored_calls(record)
        return
    dated = [(resource_instant(r), r) for r in record.resources]
    orders = sorted(
        (
            (when, n, r)
            for n, r in enumerate(record.resources)
            if r.get("resourceType") == "MedicationRequest" and r.get("status") != "entered-in-error"
            and (when := parse_instant(r.get("authoredOn"), end_of_day=True)) is not None  # no date: cannot be placed
        ),
        key=lambda t: (t[0], t[1]),
    )
    for n, (when, _, order) in enumerate(orders, 1):
        snapshot = [_as_recorded(r, order) for r in as_of(dated, when)]
        body = build_request(_bundle(snapshot), "order-sign", hook_instance=f"replay-{order.get('id')}-{when.isoformat()}")
        yield PlannedCall("order-sign", body, when, 1, f"order-sign {n}")
    view_at = orders[-1][0] if orders else max((w for w, _ in dated if w is not None), default=None)
    resources = [_as_recorded(r) for r in (as_of(dated, view_at) if view_at else record.resources)]
    now = view_at or datetime.now(timezone.utc)
    yield PlannedCall("patient-view", build_request(_bundle(resources), "patient-view", hook_instance="replay-view"), now, 0, "patient-view")


def _stored_calls(record: PatientRecord) -> Iterator[PlannedCall]:
    if record.reference_date is not None:
        yield from _stored_as_of(record, clinical_now(record.reference_date))
        return
    drafts_at = [
        w for r in record.resources
        if r.get("resourceType") == "MedicationRequest" and r.get("status") == "draft" and (w := parse_instant(r.get("authoredOn"))) is not None
    ]
    latest = max(drafts_at, default=None) or max((w for r in record.resources if (w := resource_instant(r)) is not None), default=None)
    yield from _stored_as_of(record, clinical_now(latest.date()) if latest else datetime.now(timezone.utc))


def _stored_as_of(record: PatientRecord, now: datetime) -> Iterator[PlannedCall]:
    for name in sorted(record.stored_requests):
        body = record.stored_requests[name]
        drafts = ((body.get("context") or {}).get("draftOrders") or {}).get("entry") or []
        yield PlannedCall(str(body.get("hook")), body, now, len(drafts) if body.get("hook") == "order-sign" else 0, name)
