"""Corrected MedicationRequests for `update` suggestions.

Why a deep copy of the EHR's own resource: the clinician accepts a suggestion into the order they
were writing, so everything we do not mean to change (medication, route, timing, notes, ids,
extensions) must come back exactly as sent. Only the dose is replaced, the order stays a draft,
and the replaced dose carries a proper UCUM quantity (system + code), never a display string alone.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Rounded:
    """A corrected dose as it can be given, and how it was rounded (shown in the card)."""

    value: float  # in the order's own unit (tablets, mL or the amount unit)
    quantity: dict[str, Any]  # the FHIR Quantity to put in doseQuantity (the EHR's own unit code kept)
    amount: float  # the resulting amount in the rule's unit (mg, IU)
    label: str  # "1 tablet (50 mg)", "1.4 mL (1.4 mg)", "1.5 mg" (the suggestion's button names it)
    step: str = "written"  # how it was rounded: "half-unit" (tablets), "volume" (0.1 mL), "written" (as a dose is written)
    strength: str | None = None  # the ordered product's strength, for "half-unit"/"volume"
    low: float | None = None  # the range it was kept inside (rule unit)
    high: float | None = None
    unit: str | None = None  # UCUM of low/high/amount

    def facts(self) -> dict[str, Any]:
        """What a card shows about the rounding (cards/templates/dose.md.j2 writes the sentence)."""
        return {"label": self.label, "step": self.step, "strength": self.strength, "low": self.low, "high": self.high, "unit": self.unit,
                "amount": self.amount}


def round_for_order(target: float, low: float, high: float, unit: str, written: Any, strength: Any) -> Rounded | None:
    """Round `target` (rule unit, e.g. mg) to what the ordered product can give, inside [low, high].

    Tablets/capsules: whole or half units of the ordered strength. Volumes: 0.1 mL steps. Amounts:
    `round_dose`. The step nearest `target` that stays inside the rule's range wins; None when no
    step fits (then no dose is suggested, and the card says so).
    """
    eps = 1e-9 * max(1.0, high)
    if written is not None and strength is not None:
        per_count = strength.per != "mL"
        step = 0.5 if per_count else 0.1
        n_target = target / strength.value
        candidates = sorted({round(n_target / step) * step, math.floor(n_target / step) * step, math.ceil(n_target / step) * step},
                            key=lambda n: abs(n - n_target))
        for n in candidates:
            n = round(n, 4)
            amount = n * strength.value
            if n > 0 and low - eps <= amount <= high + eps:
                word = (f"{n:g} {'tablet' if strength.per == '{tablet}' else strength.per.strip('{}')}" + ("s" if n > 1 else "")) if per_count else f"{n:g} mL"
                quantity = {"value": n, "unit": written.text or written.unit, "system": UCUM, "code": written.unit}
                return Rounded(n, quantity, amount, f"{word} ({amount:g} {UNIT_DISPLAY.get(unit, unit)})",
                               "half-unit" if per_count else "volume", str(strength), low, high, unit)
        return None
    value = round_dose(target, unit)
    if not (low - eps <= value <= high + eps):
        value = min(max(value, low), high)
    shown = UNIT_DISPLAY.get(unit, unit)
    return Rounded(value, {"value": value, "unit": shown, "system": UCUM, "code": unit}, value, f"{value:g} {shown}", "written", None, low, high, unit)


def corrected_quantity_request(resource: Mapping[str, Any], quantity: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `resource` whose first doseQuantity is `quantity` (doseRange removed), still a draft."""
    corrected = corrected_dose_request(resource, float(quantity["value"]), str(quantity["code"]))
    corrected["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = dict(quantity)
    return corrected
