"""Hand-built PatientContexts and MedicationOrders for the dose/route/schedule/cumulative rules.

Real knowledge (`load_knowledge()`), real unit conversion, no mocks: a test fails when the data
file, the converter or the rule is wrong.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any, Iterable


from cdshooks.context.model import (
    Administration,
    Age,
    Bsa,
    ClinicalFact,
    DataGap,
    Dose,
    Measurement,
    MedicationOrder,
    PatientContext,
    Quantity,
    Route,
    Timing,
)
from cdshooks.rules.finding import Finding
from cdshooks.rules.registry import RuleSettings
from support.rendered import run_rendered

ORDER_DATE = date(2026, 3, 2)


def age_of(years: int, extra_days: int = 0, at: date = ORDER_DATE) -> Age:
    birth = at.replace(year=at.year - years) - timedelta(days=extra_days)
    y = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    months = (at.year - birth.year) * 12 + at.month - birth.month - (at.day < birth.day)
    return Age(years=y, months=months, days=(at - birth).days, at=at)


def patient(
    *,
    years: int | None = 8,
    extra_days: int = 0,
    weight: float | None = 26.0,
    height: float | None = 128.0,
    bsa: bool = True,
    orders: Iterable[MedicationOrder] = (),
    others: Iterable[MedicationOrder] = (),
    administrations: Iterable[Administration] = (),
    facts: Iterable[str] = (),
    gaps: Iterable[DataGap] = (),
    phase: str | None = None,
    all_dx: bool = True,
) -> PatientContext:
    """A patient on ORDER_DATE; BSA is Mosteller from weight/height unless bsa=False or one is None.

    An ALL diagnosis is recorded unless all_dx=False: protocol dose bands (dosing.json scope "ALL")
    apply only to ALL patients (issue 13 item 2)."""
    facts = tuple(facts) + (("all",) if all_dx else ())
    w = Measurement(weight, "kg", ORDER_DATE - timedelta(days=2), "Observation/w1", f"{weight} kg") if weight is not None else None
    h = Measurement(height, "cm", ORDER_DATE - timedelta(days=2), "Observation/h1", f"{height} cm") if height is not None else None
    b = Bsa(math.sqrt(height * weight / 3600), "Mosteller", w, h) if (bsa and w and h) else None  # type: ignore[operator]
    targets = tuple(orders)
    return PatientContext(
        patient_id="p1",
        order_date=ORDER_DATE,
        now=datetime(2026, 3, 2, 9, 0),
        age=age_of(years, extra_days) if years is not None else None,
        weight=w,
        height=h,
        bsa=b,
        facts={k: (ClinicalFact(k, f"Condition/{k}", f"urn:test|{k}"),) for k in facts},
        phase=phase,
        draft_orders=targets + tuple(o for o in others if o.is_draft),
        targets=targets,
        active_medications=tuple(o for o in others if not o.is_draft),
        administrations=tuple(administrations),
        gaps=tuple(gaps),
    )


_ROUTE_CODES = {"intravenous": "47625008", "intrathecal": "72607000", "oral": "26643006", "intramuscular": "78421000", "subcutaneous": "34206005"}


def med(
    drug: str | tuple[str, ...],
    value: float | None,
    unit: str | None,
    *,
    route: str | None = "intravenous",
    ref: str = "MedicationRequest/o1",
    frequency: int | None = None,
    period: float | None = None,
    period_unit: str | None = None,
    code: str | None = None,
    count: int | None = None,
    start: date | None = None,
    rate: tuple[float, str] | None = None,
    comparator: str | None = None,
    status: str = "draft",
    authored: date | None = ORDER_DATE,
    display: str | None = None,
) -> MedicationOrder:
    """A MedicationOrder plus the raw MedicationRequest it was read from."""
    drugs = (drug,) if isinstance(drug, str) else drug
    q = Quantity(value, unit, comparator) if value is not None else None
    r = Quantity(*rate) if rate else None
    timing = Timing(frequency=frequency, period=period, period_unit=period_unit, code=code, count=count, bounds_start=start)
    dose_and_rate: dict[str, Any] = {}
    if q:
        dose_and_rate["doseQuantity"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    if r:
        dose_and_rate["rateQuantity"] = {"value": r.value, "unit": r.unit, "system": "http://unitsofmeasure.org", "code": r.unit}
    resource = {
        "resourceType": "MedicationRequest",
        "id": ref.split("/")[-1],
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {"text": display or drugs[0]},
        "subject": {"reference": "Patient/p1"},
        "dosageInstruction": [{"text": "as ordered", "route": {"text": route}, "doseAndRate": [dose_and_rate]}],
    }
    return MedicationOrder(
        ref=ref,
        resource=resource,
        drug_ids=drugs,
        identified_by="rxnorm-ingredient",
        display=display or drugs[0],
        status=status,
        intent="order",
        authored_on=authored,
        dose=Dose(quantity=q, rate=r) if (q or r) else None,
        route=Route(route, f"http://snomed.info/sct|{_ROUTE_CODES.get(route, '0')}", route) if route else None,
        timing=timing,
        is_draft=status == "draft",
    )


def given(drug: str, on: date, value: float | None, unit: str | None, n: int = 1, status: str = "completed") -> Administration:
    return Administration(
        ref=f"MedicationAdministration/{drug}-{n}",
        drug_ids=(drug,),
        date=on,
        dose=Quantity(value, unit) if value is not None else None,
        status=status,
    )


def run(fn, ctx: PatientContext, kb, settings: RuleSettings | None = None) -> list[Finding]:
    """Stamped as the engine stamps (a rule may yield Verdicts), with the text the card shows."""
    return run_rendered(fn, ctx, kb, settings)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [(f.rule_id, f.indicator, f.summary) for f in findings]
    return findings[0]
