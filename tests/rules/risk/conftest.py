"""Hand-built PatientContexts for the risk / regimen / monitoring rules (real knowledge, no mocks)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterable

import pytest

from cdshooks.context.model import (
    Administration,
    Age,
    ClinicalFact,
    Dose,
    LabResult,
    MedicationOrder,
    PatientContext,
    Quantity,
    Route,
    Timing,
)

ORDER_DATE = date(2025, 3, 1)


def age_at(birth: date, at: date) -> Age:
    """Completed years/months and total days, the way the context builder defines Age."""
    years = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    months = (at.year - birth.year) * 12 + at.month - birth.month - (at.day < birth.day)
    return Age(years=years, months=months, days=(at - birth).days, at=at)


def birth_for(years: int, extra_days: int = 0, at: date = ORDER_DATE) -> date:
    """A birth date making the patient exactly `years` y + `extra_days` d old on `at`."""
    return at.replace(year=at.year - years) - timedelta(days=extra_days)


def lab(key: str, value: float | None, unit: str | None, on: date = ORDER_DATE, code: str | None = None, uln: float | None = None, n: int = 1) -> LabResult:
    return LabResult(key=key, date=on, source=f"Observation/{key}-{n}", value=value, unit=unit, code_value=code, reference_high=uln)


def fact(key: str) -> ClinicalFact:
    return ClinicalFact(key=key, source=f"Condition/{key}", code=f"urn:test|{key}")


def order(
    drug: str | tuple[str, ...],
    ref: str | None = None,
    dose: float | None = None,
    unit: str | None = None,
    route: str | None = "intravenous",
    period_unit: str | None = None,
    draft: bool = True,
) -> MedicationOrder:
    drugs = (drug,) if isinstance(drug, str) else drug
    return MedicationOrder(
        ref=ref or f"MedicationRequest/{drugs[0]}",
        resource={"resourceType": "MedicationRequest"},
        drug_ids=drugs,
        identified_by="rxnorm-ingredient",
        display=" / ".join(drugs),
        status="draft" if draft else "active",
        intent="order",
        authored_on=ORDER_DATE,
        dose=Dose(quantity=Quantity(dose, unit)) if dose is not None and unit else None,
        route=Route(kind=route) if route else None,
        timing=Timing(frequency=1, period=1, period_unit=period_unit) if period_unit else None,
        is_draft=draft,
    )


def make_ctx(
    *,
    age_years: int | None = 6,
    age_extra_days: int = 0,
    dx: date | None = ORDER_DATE,
    facts: Iterable[str] = ("all", "b-precursor"),
    labs: Iterable[LabResult] = (),
    targets: Iterable[MedicationOrder] = (),
    active: Iterable[MedicationOrder] = (),
    administrations: Iterable[Administration] = (),
    phase: str | None = None,
    bsa: Any = None,
    phase_text: str | None = None,
) -> PatientContext:
    """`age_years` is the age at diagnosis (dx defaults to the order date)."""
    birth = birth_for(age_years, age_extra_days, at=dx or ORDER_DATE) if age_years is not None else None
    grouped: dict[str, list[LabResult]] = {}
    for item in labs:
        grouped.setdefault(item.key, []).append(item)
    targets = tuple(targets)
    return PatientContext(
        patient_id="p1",
        order_date=ORDER_DATE,
        now=datetime(2025, 3, 1, 9, 0),
        birth_date=birth,
        age=age_at(birth, ORDER_DATE) if birth else None,
        bsa=bsa,
        labs={k: tuple(sorted(v, key=lambda r: r.date, reverse=True)) for k, v in grouped.items()},
        facts={k: (fact(k),) for k in facts},
        diagnosis_date=dx,
        age_at_diagnosis=age_at(birth, dx) if birth and dx else None,
        phase=phase,
        phase_source="CarePlan/c1" if phase else None,
        phase_text=phase_text if phase_text is not None else (f"ALL {phase}" if phase else None),
        draft_orders=targets,
        targets=targets,
        active_medications=tuple(active),
        administrations=tuple(administrations),
    )


@pytest.fixture(scope="session")
def f():
    """The factory helpers, as one namespace (test modules here are not a package)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        make_ctx=make_ctx, lab=lab, fact=fact, order=order, age_at=age_at, birth_for=birth_for, ORDER_DATE=ORDER_DATE, Administration=Administration,
        Quantity=Quantity,
    )
