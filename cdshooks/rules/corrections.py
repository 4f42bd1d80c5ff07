"""Corrected MedicationRequests for `update` suggestions.

Why a deep copy of the EHR's own resource: the clinician accepts a suggestion into the order they
were writing, so everything we do not mean to change (medication, route, timing, notes, ids,
extensions) must come back exactly as sent. Only the dose is replaced, the order stays a draft,
and the replaced dose carries a proper UCUM quantity (system + code), never a display string alone.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

UCUM = "http://unitsofmeasure.org"

# How UCUM codes are shown in Quantity.unit (display only; `code` is what systems read).
UNIT_DISPLAY = {
    "mg": "mg",
    "g": "g",
    "ug": "µg",
    "ug/d": "µg/day",
    "[iU]": "IU",
    "{cells}": "cells",
    "mg/m2": "mg/m²",
    "mg/kg": "mg/kg",
    "[iU]/m2": "IU/m²",
    "ug/m2/d": "µg/m²/day",
}


def round_dose(value: float, unit: str) -> float:
    """Round a computed dose the way it would be written: IU and cells whole, mg to 2 decimals."""
    if unit in ("[iU]", "{cells}"):
        return float(round(value))
    if value >= 100:
        return float(round(value))
    if value >= 10:
        return round(value, 1)
    return round(value, 2)


def corrected_dose_request(resource: Mapping[str, Any], value: float, unit: str) -> dict[str, Any]:
    """A deep copy of `resource` whose first dose is `value` `unit` (UCUM), status kept draft.

    The first dosageInstruction's first doseAndRate gets `doseQuantity`; a `doseRange` there is
    removed (a range and a quantity together would be ambiguous). A rate is left alone unless the
    unit is a per-day rate, in which case the rate is what is replaced.
    """
    corrected: dict[str, Any] = copy.deepcopy(dict(resource))
    corrected["status"] = "draft"
    quantity = {"value": value, "unit": UNIT_DISPLAY.get(unit, unit), "system": UCUM, "code": unit}
    instructions = corrected.setdefault("dosageInstruction", [])
    if not instructions:
        instructions.append({})
    dosage = instructions[0]
    rates = dosage.setdefault("doseAndRate", [])
    if not rates:
        rates.append({})
    entry = rates[0]
    if unit.endswith("/d") and ("rateQuantity" in entry or "doseQuantity" not in entry and "doseRange" not in entry):
        entry["rateQuantity"] = quantity
        return corrected
    entry.pop("doseRange", None)
    entry["doseQuantity"] = quantity
    return corrected
