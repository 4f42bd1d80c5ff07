"""Cumulative anthracycline checks (`cumulative-dose` cards) against cumulative.json.

Why projected totals: cardiomyopathy risk follows the lifetime dose, so the check adds every
past administration of the counted drug (MedicationAdministration, mg converted through
`context.units`; mg/m2 as given) to this order (dose x planned doses) and compares with the
label limit for this patient (adult 550 / 400 with chest radiation, doxorubicin 400 also with
previous or concomitant cyclophosphamide, child >=2 y 300 mg/m2, <2 y 10 mg/kg). Doxorubicin rows count
prior daunorubicin at 0.6 doxorubicin-equivalents (Feijen 2019, cumulative.json).
A past dose in mg is normalized with the BSA or weight of the day it was given (the newest weight
and height on or before that date); only when the record has none is the current BSA or weight
used, and the card's line for that dose says which one was used.
Over the limit = critical; at or above 90% = warning. A past dose that cannot be read makes the
total a lower bound: said in a `missing-data` finding, never ignored. For a daunorubicin order with
prior doxorubicin, a separate soft rule (warning only) adds both as doxorubicin-equivalents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator

from ..context.model import MedicationOrder, PatientContext, Quantity
from ..context.observations import measurement_on_or_before, mosteller
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.dosing import CumulativeRule, DosingView, dosing_view
from ._dose_common import missing_data_verdict, missing_items, patient_values
from ._percall import all_medications, given_with
from .registry import RuleSettings, rule
from .verdict import Amount, Verdict

_DONE = {"entered-in-error", "not-done", "stopped", "cancelled"}


@dataclass(frozen=True)
class _Total:
    prior: float
    this_order: float
    unreadable: tuple[str, ...]  # administration refs whose dose could not be used
    doses: tuple[dict[str, Any], ...]  # each counted dose (facts for the card), this order last

    @property
    def total(self) -> float:
        return self.prior + self.this_order


Size = dict[str, Any]  # {"what": "BSA"|"weight", "value": Amount, "date": date | None, "current": bool}


def _size_on(ctx: PatientContext, unit: str, when: date | None) -> tuple[float | None, Size | None]:
    """BSA (mg/m2) or weight (mg/kg) on `when` from the record's series, else today's, and which."""
    if when is not None:
        weight = measurement_on_or_before(ctx.weights, when)
        height = measurement_on_or_before(ctx.heights, when)
        if unit == "mg/kg" and weight:
            return weight.value, {"what": "weight", "value": Amount(weight.value, "kg"), "date": weight.date, "current": False}
        if unit == "mg/m2" and weight and height:
            value = mosteller(weight, height).value
            return value, {"what": "BSA", "value": Amount(value, "m2"), "date": max(weight.date, height.date), "current": False}
    if unit == "mg/m2":
        return (ctx.bsa.value, {"what": "BSA", "value": Amount(ctx.bsa.value, "m2"), "date": None, "current": True}) if ctx.bsa else (None, None)
    return (ctx.weight.value, {"what": "weight", "value": Amount(ctx.weight.value, "kg"), "date": None, "current": True}) if ctx.weight else (None, None)


def _per_basis(ctx: PatientContext, q: Quantity | None, unit: str, when: date | None = None) -> float | None:
    """A quantity as mg/m2 or mg/kg: past doses with the size of their day, this order with today's."""
    return _per_basis_how(ctx, q, unit, when)[0]


def _per_basis_how(ctx: PatientContext, q: Quantity | None, unit: str, when: date | None = None) -> tuple[float | None, Size | None]:
    if q is None or q.comparator or not q.unit:
        return None, None
    size, how = _size_on(ctx, unit, when)
    value = _to_basis(ctx, q, unit, size)
    return value, (how if value is not None and not q.unit.endswith(unit[2:]) else None)


def _to_basis(ctx: PatientContext, q: Quantity, unit: str, size: float | None) -> float | None:
    try:
        return convert(q.value, q.unit, unit)
    except UnitError:
        pass
    try:
        mg = convert(q.value, q.unit, "mg")
    except UnitError:
        # an mg/m2 amount for an mg/kg limit (or the reverse): go through mg with current sizes
        other = "mg/kg" if unit == "mg/m2" else "mg/m2"
        other_size = ctx.weight.value if other == "mg/kg" and ctx.weight else (ctx.bsa.value if ctx.bsa else None)
        try:
            mg = convert(q.value, q.unit, other) * other_size if other_size else None
        except UnitError:
            return None
        if mg is None:
            return None
    return mg / size if size else None


def _planned(order: MedicationOrder) -> int:
    return order.timing.count if order.timing and order.timing.count else 1


def _sum(ctx: PatientContext, order: MedicationOrder, counted: dict[str, float], unit: str) -> _Total | None:
    """Prior + this order in `unit`; None when this order's own dose cannot be read."""
    prior, unreadable, doses = 0.0, [], []
    for adm in sorted(given_with(ctx, counted), key=lambda a: a.date):  # stable: same order as sorting all
        drug = next((d for d in adm.drug_ids if d in counted), None)
        if drug is None or adm.status in _DONE:
            continue
        value, how = _per_basis_how(ctx, adm.dose, unit, adm.date)
        if value is None:
            unreadable.append(adm.ref)
            continue
        prior += value * counted[drug]
        doses.append({"date": adm.date, "drug": drug, "dose": Amount(adm.dose.value, adm.dose.unit),  # type: ignore[union-attr]
                      "value": Amount(value, unit), "factor": counted[drug], "size": how, "this_order": False})
    drug = next((d for d in order.drug_ids if d in counted), None)
    this = _per_basis(ctx, order.dose.amount if order.dose else None, unit)
    if drug is None or this is None:
        return None
    this_total = this * _planned(order) * counted[drug]
    doses.append({"date": None, "drug": drug, "dose": Amount(this, unit), "value": Amount(this_total, unit), "factor": counted[drug],
                  "size": None, "this_order": True, "planned": _planned(order)})
    return _Total(prior, this_total, tuple(unreadable), tuple(doses))


def _radiation(ctx: PatientContext, view: DosingView) -> bool:
    return any(ctx.has_fact(k) for k in view.radiation_facts)


def _cardiotoxic(ctx: PatientContext, view: DosingView) -> dict[str, Any] | None:
    """Previous or concomitant cardiotoxic therapy (cumulative.json cardiotoxic_drugs, the label's
    'e.g. cyclophosphamide'): a past administration, an active medication or a draft order."""
    wanted = set(view.cardiotoxic_drugs)
    for a in given_with(ctx, wanted):
        if a.status not in _DONE:
            return {"drugs": sorted(wanted.intersection(a.drug_ids)), "how": "given", "date": a.date}
    for m in all_medications(ctx):
        if wanted.intersection(m.drug_ids):
            return {"drugs": sorted(wanted.intersection(m.drug_ids)), "how": "ordered" if m.is_draft else "active", "date": None}
    return None


def _applies(ctx: PatientContext, view: DosingView, row: CumulativeRule, values: dict) -> bool:
    return (row.bands.match(values) is not False and (not row.requires_radiation or _radiation(ctx, view))
            and (not row.requires_cardiotoxic or _cardiotoxic(ctx, view) is not None))


@rule("cumulative-dose")
def cumulative_anthracycline(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    view = dosing_view(kb)
    values = patient_values(ctx)
    for order in ctx.targets:
        for drug in order.drug_ids:
            rows = view.cumulative_for(drug)
            if not rows:
                continue
            matched = [r for r in rows if _applies(ctx, view, r, values)]
            row = matched[0] if matched else None
            if row is None:
                continue
            needed = [{"age_years": "age"}[v] for v in row.bands.variables() if values[v] is None]
            needed += ["bsa"] if row.unit == "mg/m2" and ctx.bsa is None else (["weight"] if row.unit == "mg/kg" and ctx.weight is None else [])
            if needed:
                items, shown, gaps = missing_items(ctx, needed)
                yield missing_data_verdict(order, drug, "missing-data.cumulative-dose", "cumulative dose", None, row.citation,
                                           {"needed": items, "missing": shown}, {"missing": gaps})
                continue
            total = _sum(ctx, order, dict(row.counted), row.unit)
            if total is None:
                continue  # the dose rule reports an unreadable dose on this order
            finding = _judge(ctx, order, drug, row, row.limit, total, view, settings)
            if finding:
                yield finding
            if total.unreadable:
                yield missing_data_verdict(
                    order, drug, "missing-data.cumulative-dose", "cumulative dose", None, row.citation,
                    {"unreadable": len(total.unreadable)}, {"unreadable_administrations": list(total.unreadable)},
                    message="lower-bound",
                )
            yield from _equivalence(ctx, order, drug, view, settings, row)


def _equivalence(ctx: PatientContext, order: MedicationOrder, drug: str, view: DosingView, settings: RuleSettings,
                 row: CumulativeRule) -> Iterator[Verdict]:
    eq = view.equivalence
    if eq is None or drug not in eq.counted or not settings.soft_rule_enabled(eq.id) or ctx.bsa is None:
        return
    if set(eq.counted) <= set(row.counted):
        return  # the drug's own (label) row already counts every anthracycline: one card per finding
    used = {d for a in given_with(ctx, eq.counted) if a.status not in _DONE for d in a.drug_ids if d in eq.counted} | {drug}
    if len(used) < 2:
        return  # one anthracycline only: the verified single-drug limit already applies
    lower = _radiation(ctx, view) or _cardiotoxic(ctx, view) is not None
    limit = view.equivalence_limit_with_radiation if lower and view.equivalence_limit_with_radiation else eq.limit
    total = _sum(ctx, order, dict(eq.counted), "mg/m2")
    if total is not None:
        finding = _judge(ctx, order, drug, eq, limit, total, view, settings)
        if finding:
            yield finding


def _judge(ctx, order, drug, row: CumulativeRule, limit: float, t: _Total, view: DosingView, settings) -> Verdict | None:
    fraction = round(t.total / limit, 9)  # float noise must not move a patient across 90% or 100%
    if fraction < view.warn_fraction:
        return None
    over = round(t.total, 6) > limit
    facts = {
        "display": order.display, "limit": Amount(limit, row.unit), "total": Amount(t.total, row.unit), "prior": Amount(t.prior, row.unit),
        "fraction": fraction, "over": over, "warn_fraction": view.warn_fraction,
        "branch": row.branch, "equivalents": row.drug == "anthracycline", "doses": list(t.doses),
        "radiation": _radiation(ctx, view), "radiation_facts": list(view.radiation_facts),
        "cardiotoxic": _cardiotoxic(ctx, view), "cardiotoxic_drugs": list(view.cardiotoxic_drugs),
    }
    inputs: dict[str, Any] = {
        "rule_row": row.id, "limit": limit, "unit": row.unit, "prior_total": round(t.prior, 2),
        "this_order": round(t.this_order, 2), "projected_total": round(t.total, 2), "fraction_of_limit": round(fraction, 4),
        "unreadable_administrations": list(t.unreadable),
    }
    return Verdict(  # an unverified row (the equivalence rule) is capped at warning by the engine
        row=row, topic="cumulative-dose", indicator="critical" if over else "warning", message="lifetime-limit", drug=drug,
        orders=(order.ref,), facts=facts, inputs=inputs, patient=True,
    )
