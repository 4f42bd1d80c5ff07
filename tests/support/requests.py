"""Builders for CDS Hooks request bodies used by protocol tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

PATIENT_ID = "pt-1"


def patient(birth_date: str = "2020-05-01", gender: str = "male", pid: str = PATIENT_ID) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth_date, "gender": gender}


def bundle(*resources: dict[str, Any], type_: str = "searchset") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": type_, "entry": [{"resource": r} for r in resources]}


def observation(oid: str, loinc: str, value: float, unit: str, date: str, pid: str = PATIENT_ID) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def vincristine_order(
    mid: str = "mr-vcr",
    dose_mg: float = 1.7,
    route_code: str = "47625008",
    route_display: str = "Intravenous route",
    authored_on: str = "2026-11-02",
    pid: str = PATIENT_ID,
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": authored_on,
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1863354", "display": "2 ML vincristine sulfate 1 MG/ML Injection"}],
            "text": "vincristine 1 mg/mL injection",
        },
        "dosageInstruction": [
            {
                "route": {"coding": [{"system": "http://snomed.info/sct", "code": route_code, "display": route_display}]},
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}},
                "doseAndRate": [{"doseQuantity": {"value": dose_mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}],
            }
        ],
    }


def order_sign_request(
    orders: list[dict[str, Any]] | None = None,
    prefetch: dict[str, Any] | None = None,
    *,
    with_prefetch: bool = True,
    fhir_server: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    orders = orders if orders is not None else [vincristine_order()]
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/doc-1",
            "patientId": PATIENT_ID,
            "draftOrders": bundle(*orders, type_="collection"),
        },
    }
    if with_prefetch:
        body["prefetch"] = prefetch if prefetch is not None else default_prefetch()
    if fhir_server:
        body["fhirServer"] = fhir_server
    if token:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "all-cds",
            "patient": PATIENT_ID,
        }
    return body


def default_prefetch() -> dict[str, Any]:
    return {
        "patient": patient(),
        "conditions": bundle(),
        "bodyMeasurements": bundle(
            observation("wt", "29463-7", 20, "kg", "2026-10-30"),
            observation("ht", "8302-2", 115, "cm", "2026-10-30"),
        ),
        "observations": bundle(),
        "medicationRequests": bundle(),
        "medicationStatements": bundle(),
        "medicationAdministrations": bundle(),
        "carePlans": bundle(),
    }


def all_condition(pid: str = PATIENT_ID) -> dict[str, Any]:
    """An active precursor B-ALL Condition (verified SNOMED CT code): protocol dose bands apply."""
    return {
        "resourceType": "Condition", "id": "dx-all", "subject": {"reference": f"Patient/{pid}"}, "onsetDateTime": "2026-10-01",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "277572006", "display": "Precursor B-cell acute lymphoblastic leukemia"}]},
    }


def all_prefetch() -> dict[str, Any]:
    """`default_prefetch()` for a patient with an ALL diagnosis (issue 13: protocol rules need one)."""
    pre = default_prefetch()
    pre["conditions"] = bundle(all_condition())
    return pre


def order_select_request(**kwargs: Any) -> dict[str, Any]:
    body = order_sign_request(**kwargs)
    body["hook"] = "order-select"
    first = body["context"]["draftOrders"]["entry"][0]["resource"]
    body["context"]["selections"] = [f"MedicationRequest/{first['id']}"]
    return body


def patient_view_request(prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    pre = copy.deepcopy(prefetch if prefetch is not None else default_prefetch())
    pre.pop("medicationStatements", None)
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID},
        "prefetch": pre,
    }
