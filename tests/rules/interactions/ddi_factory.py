"""A small factory for hand-built PatientContext objects (no FHIR parsing involved)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from cdshooks.context.model import (
    Administration, Age, Bsa, ClinicalFact, Dose, LabResult, Measurement, MedicationOrder, PatientContext, Quantity, Route, Timing,
)

ORDER_DATE = date(2026, 3, 2)


def order(ref: str, *drugs: str, value: float | None = None, unit: str | None = None, draft: bool = True, route: str | None = None,
          per_day: int | None = None, weekly: bool = False, display: str | None = None, identified_by: str = "rxnorm-ingredient") -> MedicationOrder:
    dose_q = Quantity(value, unit) if value is not None else None
    resource: dict[str, Any] = {"resourceType": "MedicationRequest", "id": ref.split("/")[-1], "status": "draft" if draft else "active",
                                "intent": "order", "dosageInstruction": []}
    if dose_q:
        resource["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}]}]
    timing = Timing(frequency=per_day, period=1, period_unit="d") if per_day else (Timing(frequency=1, period=1, period_unit="wk") if weekly else None)
    return MedicationOrder(ref=ref, resource=resource, drug_ids=tuple(drugs), identified_by=identified_by, display=display or " / ".join(drugs),
                           status="draft" if draft else "active", intent="order", authored_on=ORDER_DATE, dose=Dose(quantity=dose_q) if dose_q else None,
                           route=Route(route) if route else None, timing=timing, is_draft=draft)


def lab(key: str, value: float | None = None, unit: str | None = None, uln: float | None = None, days_ago: int = 1, code: str | None = None) -> LabResult:
    return LabResult(key=key, date=ORDER_DATE - timedelta(days=days_ago), source=f"Observation/{key}", value=value, unit=unit,
                     code_value=code, reference_high=uln)


def make_ctx(targets=(), active=(), others=(), age_years: int | None = 30, age_days: int | None = None, age_months: int | None = None,
             weight: float | None = 70.0, height: float | None = 175.0, labs=(), facts=(), sex: str | None = "male", administrations=()) -> PatientContext:
    age = None
    if age_years is not None or age_days is not None:
        days = age_days if age_days is not None else int(age_years * 365.25) + 10
        years = age_years if age_years is not None else days // 365  # 1 y 0 d = 365 days in a non-leap year
        months = age_months if age_months is not None else int(days // 30.4375)
        age = Age(years=years, months=months, days=days, at=ORDER_DATE)
    w = Measurement(weight, "kg", ORDER_DATE, "Observation/w", f"{weight} kg") if weight else None
    h = Measurement(height, "cm", ORDER_DATE, "Observation/h", f"{height} cm") if height else None
    bsa = Bsa(math.sqrt(weight * height / 3600), "Mosteller", w, h) if w and h else None
    lab_map: dict[str, tuple[LabResult, ...]] = {}
    for item in labs:
        lab_map.setdefault(item.key, ())
        lab_map[item.key] += (item,)
    fact_map = {k: (ClinicalFact(k, f"Condition/{k}", f"http://snomed.info/sct|{k}", onset=ORDER_DATE - timedelta(days=30), clinical_status="active"),) for k in facts}
    drafts = tuple(targets) + tuple(others)
    return PatientContext(patient_id="p1", order_date=ORDER_DATE, now=datetime(2026, 3, 2, 9, 0), age=age, sex=sex, weight=w, height=h, bsa=bsa,
                          labs=lab_map, facts=fact_map, draft_orders=drafts, targets=tuple(targets), active_medications=tuple(active),
                          administrations=tuple(administrations))


def administration(drug: str, days_ago: int, route: str = "intravenous") -> Administration:
    return Administration(ref=f"MedicationAdministration/{drug}", drug_ids=(drug,), date=ORDER_DATE - timedelta(days=days_ago), route=Route(route))
