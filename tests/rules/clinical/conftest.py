"""FHIR-in, findings-out helpers for the issue-13 clinical corrections (real builder, real rules).

Each test writes the FHIR an EHR would send (plain dicts), builds the PatientContext with the real
`build_context` and runs the real rule families, so a test of "pregnancy status currency" also
exercises the Observation and Condition reading. Codes are the verified ones the fixtures use.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

ORDER = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 9, 0)
LOINC, SCT, ICD, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm", "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RX = {  # verified RxNorm codes (fhir_fixtures/fixture_model.py RX)
    "vincristine": "1863354", "methotrexate-oral": "105585", "methotrexate-iv": "311625", "mercaptopurine": "197931",
    "pegaspargase": "240906", "daunorubicin": "309650", "doxorubicin": "1790099", "cyclophosphamide": "1734919",
    "inotuzumab-ozogamicin": "1942954", "rituximab": "121191", "clofarabine": "486419",
    "ondansetron": "26225", "prednisone": "312615", "leucovorin": "6313", "allopurinol": "519",
}
ROUTES = {"iv": ("47625008", "Intravenous route"), "po": ("26643006", "Oral route"), "it": ("72607000", "Intrathecal route")}
ALL_ICD = ("C91.00", "Acute lymphoblastic leukemia not having achieved remission")
_N = [0]


def _id(kind: str) -> str:
    _N[0] += 1
    return f"{kind}{_N[0]}"


def cc(system: str, code: str, display: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code, **({"display": display} if display else {})}
    return {"coding": [coding], "text": display or code}


def patient(years: int = 8, gender: str = "female", days: int = 0) -> dict[str, Any]:
    birth = ORDER.replace(year=ORDER.year - years) - timedelta(days=days)
    return {"resourceType": "Patient", "id": "p1", "gender": gender, "birthDate": birth.isoformat()}


def condition(system: str, code: str, display: str = "", *, onset: date | None = ORDER - timedelta(days=14),
              status: str | None = "active", verification: str = "confirmed") -> dict[str, Any]:
    c: dict[str, Any] = {"resourceType": "Condition", "id": _id("c"), "code": cc(system, code, display), "subject": {"reference": "Patient/p1"},
                         "verificationStatus": cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification)}
    if status:
        c["clinicalStatus"] = cc("http://terminology.hl7.org/CodeSystem/condition-clinical", status)
    if onset:
        c["onsetDateTime"] = onset.isoformat()
    return c


def all_dx(onset: date = ORDER - timedelta(days=14)) -> dict[str, Any]:
    return condition(ICD, *ALL_ICD, onset=onset)


def quantity(loinc: str, value: float, unit: str, on: date, high: float | None = None, low: float | None = None) -> dict[str, Any]:
    o: dict[str, Any] = {"resourceType": "Observation", "id": _id("o"), "status": "final", "code": cc(LOINC, loinc),
                         "subject": {"reference": "Patient/p1"}, "effectiveDateTime": on.isoformat(),
                         "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
    if high is not None or low is not None:
        rr: dict[str, Any] = {}
        if high is not None:
            rr["high"] = {"value": high, "unit": unit, "system": UCUM, "code": unit}
        if low is not None:
            rr["low"] = {"value": low, "unit": unit, "system": UCUM, "code": unit}
        o["referenceRange"] = [rr]
    return o


def coded(loinc: str, system: str, code: str, on: date, text: str = "") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": _id("o"), "status": "final", "code": cc(LOINC, loinc), "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": on.isoformat(), "valueCodeableConcept": cc(system, code, text)}


def body(weight: float = 26.0, height: float = 128.0, on: date = ORDER - timedelta(days=2)) -> list[dict[str, Any]]:
    return [quantity("29463-7", weight, "kg", on), quantity("8302-2", height, "cm", on)]


def wbc(value: float, on: date) -> dict[str, Any]:
    return quantity("6690-2", value, "/uL", on)


def med(drug: str) -> dict[str, Any]:
    """A verified RxNorm coding, or (drugs with no verified code, e.g. febuxostat) the name as text."""
    return cc(RXNORM, RX[drug], drug) if drug in RX else {"text": drug}


def order(drug: str, dose: float, unit: str, route: str = "iv", timing: dict[str, Any] | None = None, *, status: str = "draft",
          authored: date = ORDER, rid: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest", "id": rid or _id("mr"), "status": status, "intent": "order",
        "medicationCodeableConcept": med(drug), "subject": {"reference": "Patient/p1"}, "authoredOn": authored.isoformat(),
        "dosageInstruction": [{"timing": {"repeat": timing or {"count": 1}}, "route": cc(SCT, *ROUTES[route]),
                               "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}]}],
    }


def given(drug: str, on: date, dose: float, unit: str, route: str = "iv") -> dict[str, Any]:
    return {"resourceType": "MedicationAdministration", "id": _id("ma"), "status": "completed",
            "medicationCodeableConcept": med(drug), "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": f"{on.isoformat()}T10:00:00Z", "dosage": {"route": cc(SCT, *ROUTES[route]), "dose": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}}


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


@pytest.fixture
def run(kb: Any, settings: Any):
    """run(resources, drafts=[], families=None, selections=None) -> (ctx, findings)."""
    from cdshooks.context.builder import build_context
    from cdshooks.rules.registry import FAMILIES, run_rules
    from support.rendered import rendered

    def go(resources: list[dict[str, Any]], drafts: list[dict[str, Any]] = (), families=None, rule_settings=None):
        by = {"Patient": "patient", "Condition": "conditions", "Observation": "observations", "MedicationRequest": "medicationRequests",
              "MedicationAdministration": "medicationAdministrations", "CarePlan": "carePlans", "MedicationStatement": "medicationStatements"}
        prefetch: dict[str, Any] = {k: _bundle([]) for k in by.values()}
        for r in resources:
            key = by[r["resourceType"]]
            if key == "patient":
                prefetch[key] = r
            else:
                prefetch[key]["entry"].append({"resource": r})
        ctx = build_context(prefetch, patient_id="p1", draft_orders=_bundle(list(drafts)) if drafts else None, selections=None, kb=kb, now=NOW)
        return ctx, rendered(run_rules(ctx, kb, rule_settings or settings, families or FAMILIES))  # with the card text

    return go


def careplan(phase: str, title: str | None = None) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "id": _id("cp"), "status": "active", "intent": "plan", "title": title or f"ALL {phase}",
            "description": f"Acute lymphoblastic leukemia treatment: {phase.lower()} phase", "subject": {"reference": "Patient/p1"},
            "period": {"start": (ORDER - timedelta(days=10)).isoformat()}}


def ids(findings) -> set[tuple[str, str]]:
    return {(f.rule_id, f.indicator) for f in findings}


@pytest.fixture(scope="session")
def fx() -> SimpleNamespace:
    return SimpleNamespace(ORDER=ORDER, LOINC=LOINC, SCT=SCT, ICD=ICD, patient=patient, condition=condition, all_dx=all_dx, quantity=quantity,
                           coded=coded, body=body, wbc=wbc, order=order, given=given, careplan=careplan, days=lambda n: timedelta(days=n), ids=ids)


