"""Defensive FHIR reading: one pass that makes every resource safe to read, plus typed accessors.

Why a pass at the edge and not `isinstance` at every read: the context builders, medication and
observation readers and the knowledge lookups all chain `.get()` calls and compare values against
sets. EHR payloads (and hostile testers) put any JSON type anywhere - `status` as an object, a
`coding` of numbers, `referenceRange: true`, `entry: 1`, a height of 1e308, arrays nested 990
deep. Rather than trusting every reader to check, `conform` walks each resource once, against a
small table of the R4 elements we read (their JSON kinds per datatype), and

  * keeps a value whose JSON kind is right,
  * wraps a single object sent where FHIR has an array (the common EHR quirk),
  * DROPS a value of the wrong kind, a number that is not finite or is absurdly large, and
    anything nested deeper than MAX_DEPTH, and records each drop as a problem on the resource.

After `conform`, a reader may assume: a string element is a `str` (or absent), an object element
is a dict, an array element is a list of the right kind, a number is a finite int/float with
|x| <= MAX_MAGNITUDE. The dropped values are *data problems*, not absences: `problems_of(resource)`
lists them and `context.fhir.validate` reports them first, so a check that needs that resource
says "cannot check" (a `missing-data` finding) instead of silently using half a resource.

Elements not in the table are kept as sent (depth-limited): nothing we do not read is judged.
"""

from __future__ import annotations

import math
from decimal import Decimal
from collections.abc import Mapping  # not typing's: isinstance on those is ~5x slower
from typing import Any

MALFORMED = "__malformed__"  # key on a conformed resource: its dropped elements (never FHIR)
MAX_DEPTH = 32  # FHIR resources we read are < 12 levels deep; deeper is hostile or broken
MAX_MAGNITUDE = 1e12  # no clinical number we read (mg, kg, cm, cells/L as 10*9/L) comes near this
MAX_PROBLEMS = 20

S, N, B = "str", "num", "bool"
RESOURCE = "@resource"  # a nested resource (contained): its own resourceType picks its table


def _obj(t: str) -> str:
    return "obj:" + t


def _list(t: str) -> str:
    return "list:" + t


_CC, _CODING, _QTY, _REF, _PERIOD, _RANGE, _RATIO = (
    "CodeableConcept", "Coding", "Quantity", "Reference", "Period", "Range", "Ratio")

# datatype / resource type -> element -> kind. "obj:X" is an object of datatype X, "list:X" an
# array of X ("list:str" an array of strings). Elements not listed are kept unjudged.
_VALUE_X = {
    "valueQuantity": _obj(_QTY), "valueCodeableConcept": _obj(_CC), "valueString": S,
    "valueBoolean": B, "valueInteger": N, "valueRange": _obj(_RANGE), "valueRatio": _obj(_RATIO),
    "valueDateTime": S, "valuePeriod": _obj(_PERIOD), "dataAbsentReason": _obj(_CC),
    "interpretation": _list(_CC), "referenceRange": _list("ReferenceRange"),
}
_MED_X = {"medicationCodeableConcept": _obj(_CC), "medicationReference": _obj(_REF)}
_RESOURCE = {
    "resourceType": S, "id": S, "meta": _obj("Meta"), "text": _obj("Narrative"),
    "identifier": _list("Identifier"), "subject": _obj(_REF), "patient": _obj(_REF),
    "status": S, "category": _list(_CC), "note": _list("Annotation"), "basedOn": _list(_REF),
    "partOf": _list(_REF), "reasonCode": _list(_CC), "reasonReference": _list(_REF),
    "encounter": _obj(_REF), "contained": _list(RESOURCE),
}
SCHEMA: dict[str, dict[str, str]] = {
    _CC: {"coding": _list(_CODING), "text": S},
    _CODING: {"system": S, "version": S, "code": S, "display": S, "userSelected": B},
    _QTY: {"value": N, "comparator": S, "unit": S, "system": S, "code": S},
    _REF: {"reference": S, "type": S, "display": S, "identifier": _obj("Identifier")},
    "Identifier": {"system": S, "value": S, "use": S, "type": _obj(_CC)},
    _PERIOD: {"start": S, "end": S},
    _RANGE: {"low": _obj(_QTY), "high": _obj(_QTY)},
    _RATIO: {"numerator": _obj(_QTY), "denominator": _obj(_QTY)},
    "Annotation": {"text": S, "time": S},
    "Meta": {"lastUpdated": S, "versionId": S, "profile": _list(S)},
    "Narrative": {"status": S, "div": S},
    "Timing": {"event": _list(S), "repeat": _obj("TimingRepeat"), "code": _obj(_CC)},
    "TimingRepeat": {
        "boundsDuration": _obj(_QTY), "boundsRange": _obj(_RANGE), "boundsPeriod": _obj(_PERIOD),
        "count": N, "countMax": N, "duration": N, "durationMax": N, "durationUnit": S,
        "frequency": N, "frequencyMax": N, "period": N, "periodMax": N, "periodUnit": S,
        "dayOfWeek": _list(S), "timeOfDay": _list(S), "when": _list(S), "offset": N,
    },
    "Dosage": {
        "sequence": N, "text": S, "additionalInstruction": _list(_CC), "patientInstruction": S,
        "timing": _obj("Timing"), "asNeededBoolean": B, "asNeededCodeableConcept": _obj(_CC),
        "site": _obj(_CC), "route": _obj(_CC), "method": _obj(_CC), "doseAndRate": _list("DoseAndRate"),
        "maxDosePerPeriod": _obj(_RATIO), "maxDosePerAdministration": _obj(_QTY),
        "maxDosePerLifetime": _obj(_QTY),
    },
    "DoseAndRate": {
        "type": _obj(_CC), "doseRange": _obj(_RANGE), "doseQuantity": _obj(_QTY),
        "rateRatio": _obj(_RATIO), "rateRange": _obj(_RANGE), "rateQuantity": _obj(_QTY),
    },
    "AdministrationDosage": {
        "text": S, "site": _obj(_CC), "route": _obj(_CC), "method": _obj(_CC), "dose": _obj(_QTY),
        "rateRatio": _obj(_RATIO), "rateQuantity": _obj(_QTY),
    },
    "ReferenceRange": {
        "low": _obj(_QTY), "high": _obj(_QTY), "type": _obj(_CC), "appliesTo": _list(_CC),
        "age": _obj(_RANGE), "text": S,
    },
    "ObservationComponent": {"code": _obj(_CC), **_VALUE_X},
    "Patient": {
        **_RESOURCE, "birthDate": S, "gender": S, "deceasedBoolean": B, "deceasedDateTime": S,
        "active": B, "name": _list("HumanName"),
    },
    "HumanName": {"text": S, "family": S, "given": _list(S), "use": S},
    "Observation": {
        **_RESOURCE, **_VALUE_X, "code": _obj(_CC), "effectiveDateTime": S, "effectivePeriod": _obj(_PERIOD),
        "effectiveInstant": S, "issued": S, "component": _list("ObservationComponent"),
        "hasMember": _list(_REF), "derivedFrom": _list(_REF), "specimen": _obj(_REF),
    },
    "Condition": {
        **_RESOURCE, "clinicalStatus": _obj(_CC), "verificationStatus": _obj(_CC), "severity": _obj(_CC),
        "code": _obj(_CC), "onsetDateTime": S, "onsetAge": _obj(_QTY), "onsetPeriod": _obj(_PERIOD),
        "onsetString": S, "abatementDateTime": S, "recordedDate": S,
    },
    "MedicationRequest": {
        **_RESOURCE, **_MED_X, "intent": S, "statusReason": _obj(_CC), "priority": S, "doNotPerform": B,
        "authoredOn": S, "requester": _obj(_REF), "courseOfTherapyType": _obj(_CC),
        "dosageInstruction": _list("Dosage"), "supportingInformation": _list(_REF),
        "groupIdentifier": _obj("Identifier"), "priorPrescription": _obj(_REF),
    },
    "MedicationStatement": {
        **_RESOURCE, **_MED_X, "category": _obj(_CC), "effectiveDateTime": S,
        "effectivePeriod": _obj(_PERIOD), "dateAsserted": S, "dosage": _list("Dosage"),
    },
    "MedicationAdministration": {
        **_RESOURCE, **_MED_X, "category": _obj(_CC), "effectiveDateTime": S,
        "effectivePeriod": _obj(_PERIOD), "request": _obj(_REF), "dosage": _obj("AdministrationDosage"),
    },
    "Medication": {
        **_RESOURCE, "code": _obj(_CC), "form": _obj(_CC), "amount": _obj(_RATIO),
        "ingredient": _list("MedicationIngredient"),
    },
    "MedicationIngredient": {
        "itemCodeableConcept": _obj(_CC), "itemReference": _obj(_REF), "isActive": B, "strength": _obj(_RATIO),
    },
    "CarePlan": {
        **_RESOURCE, "intent": S, "title": S, "description": S, "period": _obj(_PERIOD), "created": S,
        "activity": _list("CarePlanActivity"), "replaces": _list(_REF), "instantiatesCanonical": _list(S),
        "addresses": _list(_REF), "goal": _list(_REF),
    },
    "CarePlanActivity": {
        "detail": _obj("CarePlanActivityDetail"), "reference": _obj(_REF),
        "outcomeCodeableConcept": _list(_CC), "outcomeReference": _list(_REF), "progress": _list("Annotation"),
    },
    "CarePlanActivityDetail": {
        "kind": S, "code": _obj(_CC), "status": S, "doNotPerform": B, "scheduledTiming": _obj("Timing"),
        "scheduledPeriod": _obj(_PERIOD), "scheduledString": S, "productCodeableConcept": _obj(_CC),
        "productReference": _obj(_REF), "dailyAmount": _obj(_QTY), "quantity": _obj(_QTY),
        "description": S, "reasonCode": _list(_CC), "instantiatesCanonical": _list(S),
    },
}


# -- accessors (for readers that want them; after `conform` plain `.get` is equally safe) -------

def finite_number(value: Any) -> float | None:
    """A JSON number as float if finite and plausible in magnitude; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    try:
        out = float(value)
    except (OverflowError, ValueError):
        return None
    return out if math.isfinite(out) and abs(out) <= MAX_MAGNITUDE else None


def text_of(obj: Any, key: str) -> str | None:
    """obj[key] if obj is an object and the value is a non-empty string, else None."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) and value else None


def object_of(obj: Any, key: str) -> Mapping[str, Any] | None:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else None


def objects_of(obj: Any, key: str) -> list[Mapping[str, Any]]:
    """The objects in obj[key] (a single object counts as a list of one); never raises."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if isinstance(value, Mapping):
        return [value]
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def problems_of(resource: Any) -> list[str]:
    """What `conform` dropped from this resource, as short strings (paths and kinds, no values)."""
    found = resource.get(MALFORMED) if isinstance(resource, Mapping) else None
    return list(found) if isinstance(found, list) else []


def without_marker(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != MALFORMED}


# -- the pass ------------------------------------------------------------------------------------

def _kind_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


class _Walk:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def drop(self, path: str, why: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{path}: {why}")

    def value(self, value: Any, kind: str | None, path: str, depth: int) -> tuple[bool, Any]:
        """(keep, conformed value)."""
        if depth > MAX_DEPTH:
            self.drop(path, f"nested deeper than {MAX_DEPTH} levels")
            return False, None
        if value is None:
            return False, None  # JSON null is never valid FHIR; treat as absent
        if kind is None:
            return True, self.unjudged(value, path, depth)
        if kind == S:
            if isinstance(value, str):
                return True, value
            self.drop(path, f"{_kind_name(value)}, expected a string")
            return False, None
        if kind == N:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if finite_number(value) is not None:
                    return True, value
                self.drop(path, "number out of the plausible range")
                return False, None
            self.drop(path, f"{_kind_name(value)}, expected a number")
            return False, None
        if kind == B:
            if isinstance(value, bool):
                return True, value
            self.drop(path, f"{_kind_name(value)}, expected true/false")
            return False, None
        shape, _, dtype = kind.partition(":")
        if shape == "list":
            items = [value] if isinstance(value, dict) else value
            if not isinstance(items, list):
                self.drop(path, f"{_kind_name(value)}, expected an array")
                return False, None
            out = []
            item_kind = S if dtype == S else _obj(dtype)
            for n, item in enumerate(items):
                keep, conformed = self.value(item, item_kind, f"{path}[{n}]", depth + 1)
                if keep:
                    out.append(conformed)
            return True, out
        if not isinstance(value, dict):
            self.drop(path, f"{_kind_name(value)}, expected an object")
            return False, None
        if dtype == RESOURCE:
            rtype = value.get("resourceType")
            if not isinstance(rtype, str):
                self.drop(path, "contained resource without a resourceType")
                return False, None
            dtype = rtype
        return True, self.element(value, dtype, path, depth)

    def element(self, obj: Mapping[str, Any], dtype: str, path: str, depth: int) -> dict[str, Any]:
        table = SCHEMA.get(dtype, {})
        out: dict[str, Any] = {}
        for key, value in obj.items():
            keep, conformed = self.value(value, table.get(key), f"{path}.{key}", depth + 1)
            if keep:
                out[key] = conformed
        return out

    def unjudged(self, value: Any, path: str, depth: int) -> Any:
        """An element we do not read: kept as sent, only cut below MAX_DEPTH."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                keep, conformed = self.value(item, None, f"{path}.{key}", depth + 1)
                if keep:
                    out[key] = conformed
            return out
        if isinstance(value, list):
            return [c for n, v in enumerate(value) for keep, c in [self.value(v, None, f"{path}[{n}]", depth + 1)] if keep]
        return value


def conform(resource: Any) -> dict[str, Any] | None:
    """A copy of `resource` whose every read element has its FHIR JSON kind (see module doc).

    None if `resource` is not an object with a string resourceType. Dropped elements are listed
    under MALFORMED (read them with `problems_of`).
    """
    if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
        return None
    rtype = resource["resourceType"]
    walk = _Walk()
    out = walk.element(resource, rtype, rtype, 0)
    out.pop(MALFORMED, None)
    if walk.problems:
        out[MALFORMED] = walk.problems
    return out
