"""Tiny FHIR JSON factories for the context tests (plain dicts, as an EHR would send them)."""

from __future__ import annotations

from typing import Any

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def bundle(*resources: dict[str, Any], with_type: bool = True) -> dict[str, Any]:
    b: dict[str, Any] = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    if with_type:
        b["type"] = "searchset"
    return b


def qty(value: Any, code: str | None = None, *, system: str | None = UCUM, unit: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if code is not None:
        q["code"] = code
    if system is not None:
        q["system"] = system
    if unit is not None:
        q["unit"] = unit
    return q


def obs(oid: str, loinc: str | None, value: dict[str, Any] | None, when: str, *, status: str = "final",
        text: str | None = None, **extra: Any) -> dict[str, Any]:
    code: dict[str, Any] = {}
    if loinc:
        code["coding"] = [{"system": LOINC, "code": loinc}]
    if text:
        code["text"] = text
    o: dict[str, Any] = {"resourceType": "Observation", "id": oid, "status": status, "code": code, "effectiveDateTime": when}
    if value is not None:
        o["valueQuantity"] = value
    o.update(extra)
    return o


def patient(birth: str | None = "2015-06-15", gender: str = "female") -> dict[str, Any]:
    p: dict[str, Any] = {"resourceType": "Patient", "id": "p1", "gender": gender}
    if birth:
        p["birthDate"] = birth
    return p


def med_request(mid: str, *, med: dict[str, Any] | None = None, dose: dict[str, Any] | None = None,
                route: dict[str, Any] | None = None, timing: dict[str, Any] | None = None,
                authored: str | None = "2024-03-10", status: str = "draft", **extra: Any) -> dict[str, Any]:
    dosage: dict[str, Any] = {}
    if dose is not None:
        dosage["doseAndRate"] = [dose]
    if route is not None:
        dosage["route"] = route
    if timing is not None:
        dosage["timing"] = timing
    r: dict[str, Any] = {"resourceType": "MedicationRequest", "id": mid, "status": status, "intent": "order",
                         "subject": {"reference": "Patient/p1"}}
    if med is not None:
        r["medicationCodeableConcept"] = med
    if authored:
        r["authoredOn"] = authored
    if dosage:
        r["dosageInstruction"] = [dosage]
    r.update(extra)
    return r


def rx(code: str, text: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"coding": [{"system": RXNORM, "code": code}]}
    if text:
        c["text"] = text
    return c
