"""Strength, dose form and dose of an order: the product part of reading a MedicationRequest.

Why its own module: turning "3 {pill}" into "150 mg" needs the product's strength, which may come
from a verified product row (knowledge/products.py), the Medication's `ingredient.strength` /
`form`, or the product name. Every derived amount keeps the quantity as written and a sentence
saying how it was derived, so cards can show the computation; a count or volume without a usable
strength stays as written, with a problem saying why (the dose rule then reports "cannot check").
Conversions go through `context.units` (counts of units of use are their own UCUM dimension).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence  # not typing's: isinstance on those is ~5x slower
from typing import Any

from ..knowledge.drugs import DrugTable
from ..knowledge.products import DoseForm, Product, Strength
from .fhir import concept_texts, is_object, number, ref, ucum_code
from .model import Dose, Quantity
from .units import UnitError, conversion_factor, convert, is_count


# -- strength and dose form ------------------------------------------------------------

def _medication_strength(med: Mapping[str, Any], ingredients: Sequence[Mapping[str, Any]], form: DoseForm | None) -> Strength | None:
    """Medication.ingredient[0].strength (a Ratio) as mg (ug, g, IU) per unit of use or per mL."""
    active = [i for i in ingredients if i.get("isActive") is not False and is_object(i.get("strength"))]
    if len(active) != 1:
        return None
    ratio = active[0]["strength"]
    num = ratio.get("numerator") if is_object(ratio.get("numerator")) else {}
    den = ratio.get("denominator") if is_object(ratio.get("denominator")) else {}
    value, per_value = number(num.get("value")), number(den.get("value")) if den else 1.0
    unit, _ = ucum_code(num) if num else (None, None)
    if value is None or not per_value or unit not in ("mg", "ug", "g", "[iU]") or value <= 0 or per_value <= 0:
        return None
    den_code = _count_code(den) or (ucum_code(den)[0] if den else None)
    if den_code in ("mL",):
        per = "mL"
    elif den_code is not None and is_count(den_code) or den_code in (None, "1", "{each}", "{unit}"):
        per = form.unit_of_use if form and form.unit_of_use else None  # a count of what the form says
    else:
        return None
    return Strength(value / per_value, unit, per) if per else None


def product_of(drugs: DrugTable, product_code: str | None, med: Mapping[str, Any] | None,
             ingredients: Sequence[Mapping[str, Any]], texts: Sequence[str]) -> Product | None:
    """Strength and dose form: verified product row, else the Medication, else the product name."""
    if product_code:
        known = drugs.product(product_code)
        if known and (known.strength or known.dose_form):
            return known
    if med is not None:
        form_texts = concept_texts(med.get("form"))
        form = next((f for f in (drugs.dose_form(t) for t in form_texts) if f), None)
        strength = _medication_strength(med, ingredients, form)
        if strength or form:
            parsed = next((p for p in (drugs.parse_name(t) for t in texts) if p and (p.strength or p.dose_form)), None)
            form = form or (parsed.dose_form if parsed else None)
            return Product(strength, form, source=f"{ref(med) if med.get('resourceType') else 'Medication'} ingredient.strength / form"
                           if strength else "Medication.form")
    for text in texts:
        parsed = drugs.parse_name(text)
        if parsed and (parsed.strength or parsed.dose_form):
            return Product(parsed.strength, parsed.dose_form, parsed.volume_ml, source=f"product name '{text}'")
    return None


ORDERABLE_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
# Count codes EHRs send outside UCUM (HL7 v3 orderableDrugForm, bare "TAB"): the UCUM annotation they mean.
_FORM_COUNTS = {"TAB": "{tablet}", "CAP": "{capsule}", "TABS": "{tablet}", "CAPS": "{capsule}", "TABLET": "{tablet}", "CAPSULE": "{capsule}"}


def _count_code(q: Mapping[str, Any]) -> str | None:
    """'{tablet}'/'{capsule}' for a count sent as v3 orderableDrugForm TAB/CAP (or bare 'TAB')."""
    system = q.get("system")
    for candidate in (q.get("code"), q.get("unit")):
        if isinstance(candidate, str) and system in (None, ORDERABLE_FORM) and candidate.strip().upper() in _FORM_COUNTS:
            return _FORM_COUNTS[candidate.strip().upper()]
    return None


def quantity(q: Any, what: str, problems: list[str]) -> Quantity | None:
    if not is_object(q):
        return None
    value = number(q.get("value"))
    if value is None:
        problems.append(f"{what} has no numeric value")
        return None
    code = _count_code(q)
    if code is None:
        code, why = ucum_code(q)
        if code is None:
            problems.append(f"{what} not usable: {why}")
            return None
    comparator = q.get("comparator") if isinstance(q.get("comparator"), str) else None
    text = q.get("unit") if isinstance(q.get("unit"), str) else None
    return Quantity(value, code, comparator, text)


def derive_amount(q: Quantity | None, product: Product | None, problems: list[str], what: str = "dose") -> Quantity | None:
    """A count of tablets or a volume, times the product's strength, as an amount (mg, IU ...).

    Anything else is returned unchanged. The result keeps the quantity as written and says how it
    was derived ("1 {pill} × 50 mg/tablet = 50 mg"), so every card can show the computation.
    """
    if q is None or not (is_count(q.unit) or _is_volume(q.unit)):
        return q
    strength = product.strength if product else None
    if strength is None:
        problems.append(f"{what} is {q.value:g} {q.unit} but the product's strength is not known "
                        "(no verified product code, Medication.ingredient.strength or strength in the name)")
        return q
    try:
        units_of_use = convert(q.value, q.unit, strength.per)
    except UnitError:
        problems.append(f"{what} is {q.value:g} {q.unit} but the product's strength is {strength} ({product.source})")
        return q
    amount = units_of_use * strength.value
    shown = f"{q.value:g} {q.text or q.unit}"
    how = f"{shown} × {strength} = {amount:g} {strength.unit}"
    if product.source:
        how += f" (strength from {product.source})"
    return Quantity(amount, strength.unit, q.comparator, None, how, q)


def _is_volume(unit: str) -> bool:
    return conversion_factor(unit, "mL") is not None  # what `convert(1.0, unit, "mL")` refuses is not a volume


def dose_of(dosage: Mapping[str, Any] | None, problems: list[str], product: Product | None = None) -> Dose | None:
    if not is_object(dosage):
        return None
    dar = dosage.get("doseAndRate") or []
    if is_object(dar):
        dar = [dar]
    if not isinstance(dar, list):
        dar = []
    first = dar[0] if dar and is_object(dar[0]) else {}
    rng = first.get("doseRange") if is_object(first.get("doseRange")) else {}
    dose = Dose(
        quantity=derive_amount(quantity(first.get("doseQuantity"), "doseQuantity", problems), product, problems),
        low=derive_amount(quantity(rng.get("low"), "doseRange.low", problems), product, problems, "doseRange.low"),
        high=derive_amount(quantity(rng.get("high"), "doseRange.high", problems), product, problems, "doseRange.high"),
        rate=quantity(first.get("rateQuantity"), "rateQuantity", problems),
        max_per_period=_max_per_period(dosage.get("maxDosePerPeriod"), product, problems),
    )
    if first.get("rateRatio") is not None or first.get("rateRange") is not None:
        problems.append("rateRatio/rateRange is not read; only rateQuantity is checked")
    return dose if any((dose.quantity, dose.low, dose.high, dose.rate)) else None


def _max_per_period(ratio: Any, product: Product | None, problems: list[str]) -> tuple[Quantity, float] | None:
    """maxDosePerPeriod (a Ratio, e.g. 4 {tablet} / 1 d) as (amount, period in days)."""
    if isinstance(ratio, list):
        ratio = ratio[0] if ratio else None
    if not is_object(ratio):
        return None
    amount = derive_amount(quantity(ratio.get("numerator"), "maxDosePerPeriod.numerator", problems), product, problems, "maxDosePerPeriod")
    period = quantity(ratio.get("denominator"), "maxDosePerPeriod.denominator", problems)
    if amount is None or period is None:
        return None
    try:
        days = convert(period.value, period.unit, "d")
    except UnitError:
        problems.append(f"maxDosePerPeriod period '{period.unit}' is not a time")
        return None
    return (amount, days) if days > 0 else None
