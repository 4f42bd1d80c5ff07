"""The request the browser test's page sends: clinical-rules T13, vincristine ordered intrathecal.

A 6-year-old (20 kg, 115 cm, measured yesterday) with one draft order for vincristine 1.2 mg by
the intrathecal route (SNOMED 72607000), RxNorm SCD 1863354 "2 ML vincristine sulfate 1 MG/ML
Injection", with every prefetch key filled. Dates are relative to `today`, so the measurements
are never stale and the age never crosses a branch boundary whatever day the suite runs.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

PATIENT_ID = "pt-browser-1"


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _observation(oid: str, loinc: str, display: str, value: float, unit: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [_coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")],
        "code": _coding("http://loinc.org", loinc, display),
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def _bundle(*resources: dict[str, Any], type_: str = "searchset") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": type_, "entry": [{"resource": r} for r in resources]}


def intrathecal_vincristine_request(today: date) -> dict[str, Any]:
    """order-sign for T13. BSA (Mosteller) = sqrt(20 * 115 / 3600) = 0.80 m2, so 1.5 mg/m2 = 1.2 mg:
    the dose is in range and only the route (SNOMED 72607000 intrathecal) is wrong."""
    birth = today.replace(year=today.year - 6) - timedelta(days=90)  # 6 y 3 mo: clear of the birthday
    measured = (today - timedelta(days=1)).isoformat()
    order = {
        "resourceType": "MedicationRequest",
        "id": "mr-vcr-it",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "authoredOn": today.isoformat(),
        "medicationCodeableConcept": {
            **_coding("http://www.nlm.nih.gov/research/umls/rxnorm", "1863354", "2 ML vincristine sulfate 1 MG/ML Injection"),
            "text": "vincristine 1 mg/mL injection",
        },
        "dosageInstruction": [
            {
                "text": "vincristine 1.5 mg/m2 = 1.2 mg intrathecal once",
                "route": _coding("http://snomed.info/sct", "72607000", "Intrathecal route"),
                "timing": {"repeat": {"count": 1}},
                "doseAndRate": [
                    {"doseQuantity": {"value": 1.2, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}
                ],
            }
        ],
    }
    prefetch = {
        "patient": {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth.isoformat(), "gender": "female"},
        "conditions": _bundle(),
        "bodyMeasurements": _bundle(
            _observation("wt-1", "29463-7", "Body weight", 20, "kg", measured),
            _observation("ht-1", "8302-2", "Body height", 115, "cm", measured),
        ),
        "observations": _bundle(),
        "medicationRequests": _bundle(),
        "medicationStatements": _bundle(),
        "medicationAdministrations": _bundle(),
        "carePlans": _bundle(),
    }
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/doc-browser",
            "patientId": PATIENT_ID,
            "draftOrders": _bundle(order, type_="collection"),
        },
        "prefetch": prefetch,
    }
