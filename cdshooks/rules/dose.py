"""Order-time dose checks (`dose`, `dose-limit`, `missing-data` cards) against dosing.json.

How a dose is judged, and why:
- Every dosing.json row of the drug whose patient bands match is an acceptable branch
  (cyclophosphamide's three regimens, nelarabine's 16-21 y overlap, blinatumomab's step doses).
  The ordered amount, converted to absolute units through `context.units.convert` (per m2 x BSA,
  per kg x weight, per-day rates for infusions), is compared with the nearest branch; the
  deviation is taken against the nearest end of that branch's range.
- Within `settings.dose_tolerance_pct` -> nothing. Beyond -> `dose` warning; more than
  `dose_critical_pct` over -> critical, unless the amount is exactly the dose of a neighbouring
  branch whose cut-off the patient sits on (10.0 vs >10 kg, 44.9 vs >=45 kg): that is a
  wrong-branch choice at a boundary and stays a warning that names the right branch.
- Over a per-dose cap (vincristine 2 mg, blinatumomab 9/28 ug/day, brexucabtagene 1e8 cells,
  imatinib 600 mg, tocilizumab 800 mg) -> one critical `dose-limit` finding per order, which also
  states the % above the calculated dose.
- Any input the branch needs that is missing or stale (age, weight, BSA) and any dose that cannot
  be read (no dose, a comparator, no or an unconvertible unit) -> `missing-data`, never a pass.
- UNVERIFIED rows are soft: switchable, and never stronger than a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterator

from ..context.model import MedicationOrder, PatientContext, Quantity
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.dosing import DoseRule, LabelLimit, dosing_view, per_unit
from ._dose_common import (
    deviation_pct,
    fmt,
    interval_days,
    missing_data_verdict,
    missing_items,
    patient_values,
    per_period,
    size_for,
    schedule_speaks,
    text_only_sig,
    unit_text,
)
from ._stratify import in_scope
from .corrections import Rounded, corrected_dose_request, corrected_quantity_request, round_dose, round_for_order
from .finding import ActionSpec, SuggestionSpec
from .registry import RuleSettings, rule
from .verdict import Amount, Verdict
from .verification import capped_bsa_note

_SIZE_ITEM = {"m2": "bsa", "kg": "weight"}
_BAND_ITEM = {"age_years": "age", "weight_kg": "weight", "bsa_m2": "bsa"}


class _Unreadable(Exception):
    """The ordered dose cannot be used for a check: args[0] is a facts dict for missing-data.md.j2
    `dose-unreadable` (why: dropped | no-dose | not-positive | comparator | no-unit | unconvertible)."""


class _NeedsInput(Exception):
    """Converting the ordered dose needs a patient value that is missing (item in args[0])."""


@dataclass(frozen=True)
class _Branch:
    row: DoseRule
    low: float  # absolute, after the cap
    high: float
    cap: float | None  # absolute
    size: float | None  # BSA or weight used
    ordered: float  # absolute

    @property
    def pct(self) -> float:
        """Signed % deviation from the nearest end of the range (0 inside), rounded against float noise."""
        return deviation_pct(self.ordered, self.low, self.high)

    @property
    def target(self) -> float:
        return min(max(self.ordered, self.low), self.high)


_size = size_for


def _ordered_absolute(ctx: PatientContext, order: MedicationOrder, amount_unit: str) -> tuple[float, str, Quantity]:
    """(absolute amount, the order's basis, the quantity read) or _Unreadable/_NeedsInput."""
    dose = order.dose
    per_day = amount_unit.endswith("/d")
    q = (dose.rate if per_day and dose and dose.rate else None) or (dose.amount if dose else None)
    if q is None:
        dropped = [p for p in order.problems if "doseAndRate" in p or ".dose." in p]
        if dropped:  # a dose was sent but read.conform refused it (wrong type, absurd number)
            path, _, why = dropped[0].partition(": ")
            raise _Unreadable({"why": "dropped", "field": ".".join(path.split(".")[-2:]), "reason": why})
        raise _Unreadable({"why": "no-dose", "text": order.dosage_text})
    if q.value <= 0:
        raise _Unreadable({"why": "not-positive", "amount": Amount(q.value, q.unit or "")})
    if q.comparator:
        raise _Unreadable({"why": "comparator", "comparator": q.comparator})
    if not q.unit:
        raise _Unreadable({"why": "no-unit"})
    attempts = [(q.value, q.unit)]
    interval = interval_days(order.timing)
    if per_day and interval:
        attempts.append((q.value / interval, f"{q.unit}/d"))
    for value, unit in attempts:
        for basis in ("fixed", "m2", "kg"):
            try:
                converted = convert(value, unit, per_unit(amount_unit, basis))
            except UnitError:
                continue
            size = _size(ctx, basis)
            if size is None:
                raise _NeedsInput(_SIZE_ITEM[basis])
            return converted * size, basis, q
    raise _Unreadable({"why": "unconvertible", "unit": q.unit, "to": amount_unit})


def _row_amounts(row: DoseRule) -> tuple[float, float, float | None]:
    """The row's range per m²/kg (or fixed) in its amount unit, and its cap: knowledge only."""
    unit = per_unit(row.amount_unit, row.basis)
    return (convert(row.low, row.dose_unit, unit), convert(row.high, row.dose_unit, unit),
            convert(row.cap.value, row.cap.unit, row.amount_unit) if row.cap else None)


# id(row) -> (row, its `_row_amounts`): dose rows are knowledge (immutable, loaded once); an entry
# holds its row, so no other object can take its id. A conversion that fails is never kept.
_ROW_AMOUNTS: dict[int, tuple[DoseRule, tuple[float, float, float | None]]] = {}


def _branch(ctx: PatientContext, row: DoseRule, ordered: float) -> _Branch | None:
    size = _size(ctx, row.basis)
    if size is None:
        return None
    kept = _ROW_AMOUNTS.get(id(row))
    if kept is None or kept[0] is not row:
        if len(_ROW_AMOUNTS) > 4096:  # only tests load knowledge bases again and again
            _ROW_AMOUNTS.clear()
        kept = _ROW_AMOUNTS[id(row)] = (row, _row_amounts(row))
    per_low, per_high, cap = kept[1]
    low, high = per_low * size, per_high * size
    if cap is not None:
        low, high = min(low, cap), min(high, cap)
    return _Branch(row, low, high, cap, None if row.basis == "fixed" else size, ordered)


@rule("dose")
def dose_for_patient(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    view = dosing_view(kb)
    all_dx: bool | None = None  # in_scope("ALL", ...): the same answer for every row of the call, asked once
    for order in ctx.targets:
        for drug in order.drug_ids:
            doses, limits = view.doses_for(drug), view.limits_for(drug)
            if not doses and not limits:
                continue  # nothing below reads anything for this drug
            if all_dx is None:
                all_dx = in_scope("ALL", ctx, kb)
            rows = tuple(r for r in doses if r.verified or settings.soft_rule_enabled(r.id))
            # protocol bands need an ALL diagnosis; without one only their per-dose caps are checked
            rows = tuple(r for r in rows if r.cap is not None or r.scope != "ALL" or all_dx)  # in_scope(r.scope, ctx, kb)
            limits = tuple(lim for lim in limits if lim.status == "verified" or settings.soft_rule_enabled(lim.id))
            if rows or limits:
                schedules = tuple(x for x in view.schedules_for(drug) if x.status == "verified" or settings.soft_rule_enabled(x.id))
                yield from _check_order(ctx, order, drug, rows, limits, settings, schedules, all_dx, kb)


def _check_order(
    ctx: PatientContext, order: MedicationOrder, drug: str, rows: tuple[DoseRule, ...], limits: tuple[LabelLimit, ...], settings: RuleSettings,
    schedules: tuple = (), all_dx: bool = True, kb: Knowledge | None = None,
) -> Iterator[Verdict]:
    if text_only_sig(order):
        return  # one card quotes the free text and names every check it blocks (rules/orders.py)
    values = patient_values(ctx)
    route = order.route.kind if order.route else None
    rows = tuple(r for r in rows if not r.routes or route in r.routes)  # no route: the route rule reports it
    missing: list[str] = []
    limit_findings = []
    for lim in limits:
        applies, allowed = lim.applies.match(values), lim.allowed.match(values)
        if applies is False:
            continue
        if applies is None or allowed is None:
            missing += [_BAND_ITEM[v] for v in lim.applies.variables() + lim.allowed.variables() if values[v] is None]
        elif allowed is False:
            limit_findings.append(_limit_finding(ctx, order, drug, lim, values))
    candidates = []
    for row in rows:
        matched = row.bands.match(values)
        if matched is False:
            continue
        if matched is None:
            missing += [_BAND_ITEM[v] for v in row.bands.variables() if values[v] is None]
        elif _size(ctx, row.basis) is None:
            missing.append(_SIZE_ITEM[row.basis])
        else:
            candidates.append(row)
    yield from limit_findings
    cite = (candidates or rows or limits)[0].citation if (candidates or rows or limits) else ""
    if missing:
        needed, shown, gaps = missing_items(ctx, missing)
        yield missing_data_verdict(order, drug, "missing-data.dose-inputs", "dose", None, cite, {"needed": needed, "missing": shown}, {"missing": gaps})
        return
    if not candidates:
        return
    amount_unit = candidates[0].amount_unit
    try:
        ordered, order_basis, q = _ordered_absolute(ctx, order, amount_unit)
    except _NeedsInput as exc:
        needed, shown, gaps = missing_items(ctx, [exc.args[0]])
        yield missing_data_verdict(order, drug, "missing-data.dose-inputs", "dose", None, cite,
                                   {"needed": needed, "missing": shown, "per": "m²" if exc.args[0] == "bsa" else "kg"}, {"missing": gaps})
        return
    except _Unreadable as exc:
        yield missing_data_verdict(order, drug, "missing-data.dose-amount", "dose", None, cite, {"unreadable": exc.args[0]},
                                   message="dose-unreadable")
        return
    factor, period_note = per_period(order, candidates)
    if factor > 1 and schedule_speaks(schedules, order, candidates):
        factor = 0.0  # more often than the rule's period: the critical schedule card is the one finding
    branches = [b for b in (_branch(ctx, r, ordered * factor) for r in candidates) if b is not None]
    caps = [b.cap for b in branches]  # a branch's range and cap do not depend on the amount ordered
    best = min(branches, key=lambda b: (abs(b.pct), not b.row.verified))
    if caps and all(c is not None for c in caps) and round(ordered, 6) > round(max(caps), 6):  # type: ignore[type-var]
        yield _cap_finding(ctx, order, drug, replace(best, ordered=ordered), q, order_basis, settings)
        return
    if factor == 0.0 or best.row.scope == "ALL" and not all_dx:
        return
    if abs(best.pct) <= settings.dose_tolerance_pct:
        yield from _max_per_period(ctx, order, drug, best, q, order_basis, settings)
        return
    neighbour = _bordering_branch(ctx, order, drug, rows, candidates, values, ordered * factor, settings)
    indicator = "warning"
    if best.pct > settings.dose_critical_pct and neighbour is None and best.row.verified:
        indicator = "critical"
    yield _dose_finding(ctx, order, drug, best, q, order_basis, indicator, neighbour, settings, period_note, kb)


def _max_per_period(ctx, order: MedicationOrder, drug: str, b: _Branch, q: Quantity, order_basis: str, settings: RuleSettings) -> Iterator[Verdict]:
    """maxDosePerPeriod ("up to 4 tablets a day") allowing more per period than the rule's range."""
    limit = order.dose.max_per_period if order.dose else None
    if limit is None or not b.row.period_days or b.row.basis == "fixed" and b.row.amount_unit.endswith("/d"):
        return
    amount, days = limit
    try:
        per_period = convert(amount.value, amount.unit, b.row.amount_unit) * b.row.period_days / days
    except UnitError:
        return
    over = round((per_period - b.high) / b.high * 100, 6)
    if over <= settings.dose_tolerance_pct:
        return
    facts, inputs = _facts(ctx, order, b, q, order_basis, settings)
    facts["max_per_period"] = {"allowed": amount.derivation or Amount(amount.value, amount.unit), "days": days,
                               "amount": Amount(per_period, b.row.amount_unit), "over_pct": over}
    inputs["max_per_period"] = {"amount": per_period, "unit": b.row.amount_unit, "over_pct": round(over, 2)}
    yield Verdict(row=b.row, topic="dose", indicator="warning", message="max-per-period", drug=drug, orders=(order.ref,),
                  facts=facts, inputs=inputs, patient=True)


def _bordering_branch(ctx, order, drug, rows, candidates, values, ordered, settings) -> _Branch | None:
    """A non-matching branch whose cut-off the patient sits on, and whose dose the order matches."""
    for row in rows:
        if row in candidates or row.bands.distance(values) > settings.dose_tolerance_pct / 100:
            continue
        b = _branch(ctx, row, ordered)
        if b is not None and abs(b.pct) <= settings.dose_tolerance_pct:
            return b
    return None


def _amount_facts(b: _Branch) -> dict[str, Any]:
    """The expected range with its arithmetic: the rule's dose per m²/kg (or fixed) × the size used."""
    unit = b.row.amount_unit
    return {
        "low": Amount(b.low, unit), "high": Amount(b.high, unit), "cap": Amount(b.cap, unit) if b.cap is not None else None,
        "per_low": Amount(b.row.low, b.row.dose_unit), "per_high": Amount(b.row.high, b.row.dose_unit),
        "basis": b.row.basis, "branch": b.row.branch, "bands": b.row.bands.text, "dose_text": b.row.dose_text,
        "period_days": b.row.period_days,
    }


def _facts(ctx: PatientContext, order: MedicationOrder, b: _Branch, q: Quantity, order_basis: str, settings: RuleSettings):
    """Facts and inputs every dose finding shows (the inputs keys are pinned by the goldens)."""
    try:
        same = abs(convert(q.value, q.unit, b.row.amount_unit) - b.ordered) < 1e-9 * max(1.0, b.ordered)
    except UnitError:
        same = False
    size = None
    if b.row.basis == "m2" and ctx.bsa:
        size = {"value": Amount(ctx.bsa.value, "m2"), "what": "BSA", "formula": ctx.bsa.formula, "date": None}
    elif b.row.basis == "kg" and ctx.weight:
        size = {"value": Amount(ctx.weight.value, "kg"), "what": "weight", "formula": None, "date": ctx.weight.date}
    facts: dict[str, Any] = {
        "display": order.display,
        "ordered": Amount(b.ordered, b.row.amount_unit), "written": Amount(q.value, q.unit), "written_same": same,
        "derivation": q.derivation, "order_basis": order_basis,
        "expected": _amount_facts(b), "size": size,
        "pct": b.pct, "tolerance_pct": settings.dose_tolerance_pct, "critical_pct": settings.dose_critical_pct,
        "per_period": None, "rounded": None, "suggest": False, "neighbour": None, "capped_bsa": None, "not_per": None,
        "verified": b.row.verified,
    }
    inputs = {
        "rule_row": b.row.id,
        "branch": b.row.branch,
        "expected": {"low": b.low, "high": b.high, "unit": b.row.amount_unit, "cap": b.cap},
        "ordered": {"value": q.value, "unit": q.unit, "absolute": b.ordered, "absolute_unit": b.row.amount_unit, "basis": order_basis},
        "deviation_pct": round(b.pct, 2),
        "tolerance_pct": settings.dose_tolerance_pct,
        "critical_pct": settings.dose_critical_pct,
    }
    return facts, inputs


def _rounding(order: MedicationOrder, b: _Branch, q: Quantity) -> Rounded | None:
    """The corrected dose as the ordered product can give it (whole/half tablets, 0.1 mL), in range."""
    strength = order.product.strength if order.product and q.written is not None else None
    if b.row.amount_unit.endswith("/d"):
        value = round_dose(b.target, b.row.amount_unit)
        return Rounded(value, {"value": value, "code": b.row.amount_unit}, value, f"{fmt(value)} {unit_text(b.row.amount_unit)}", "rate",
                       None, b.low, b.high, b.row.amount_unit)
    return round_for_order(b.target, b.low, b.high, b.row.amount_unit, q.written if strength else None, strength)


def _suggestion(order: MedicationOrder, drug: str, rounded: Rounded | None, unit: str) -> tuple[SuggestionSpec, ...]:
    if not order.resource or rounded is None:
        return ()
    label = f"Change {drug} dose to {rounded.label}"
    if rounded.quantity.get("system"):
        resource = corrected_quantity_request(order.resource, rounded.quantity)
    else:
        resource = corrected_dose_request(order.resource, rounded.value, unit)
    action = ActionSpec("update", label, resource=resource, resource_id=order.ref)
    return (SuggestionSpec(label=label, actions=(action,), is_recommended=True),)


def _rounded_facts(rounded: Rounded | None) -> dict[str, Any] | None:
    return None if rounded is None else rounded.facts()


def _cap_finding(ctx, order, drug, b: _Branch, q, order_basis, settings) -> Verdict:
    cap = b.row.cap
    assert cap is not None and b.cap is not None
    above_calc = round((b.ordered - b.low) / b.low * 100, 6)
    facts, inputs = _facts(ctx, order, b, q, order_basis, settings)
    rounded = _rounding(order, b, q)
    facts.update(cap=Amount(b.cap, b.row.amount_unit), over=Amount(b.ordered - b.cap, b.row.amount_unit),
                 above_calculated_pct=above_calc, rounded=_rounded_facts(rounded), suggest=True)
    inputs["above_calculated_pct"] = round(above_calc, 2)
    return Verdict(
        row=cap, topic="dose-limit", indicator="critical" if b.row.verified else "warning",  # the engine caps an unverified cap row
        message="per-dose-cap", drug=drug, orders=(order.ref,), facts=facts, inputs=inputs, patient=True,
        citation=f"{cap.citation}; {b.row.citation}", suggestions=_suggestion(order, drug, rounded, b.row.amount_unit),
    )


def _dose_finding(ctx, order, drug, b: _Branch, q, order_basis, indicator, neighbour: _Branch | None, settings, period_note: dict | None = None,
                  kb: Knowledge | None = None) -> Verdict:
    facts, inputs = _facts(ctx, order, b, q, order_basis, settings)
    if b.row.basis == "fixed" and order_basis != "fixed":
        facts["not_per"] = order_basis
    if period_note:
        facts["per_period"] = dict(period_note)
        inputs["per_period"] = {"period_days": b.row.period_days, "interval_days": interval_days(order.timing), "amount": b.ordered}
    rounded = _rounding(order, b, q) if not period_note else None  # a wrong interval is the schedule card's to correct
    facts.update(rounded=_rounded_facts(rounded), suggest=not period_note)
    if neighbour is not None:
        facts["neighbour"] = {"branch": neighbour.row.branch, "dose_text": neighbour.row.dose_text}
        inputs["matches_branch"] = neighbour.row.id
    if kb is not None and b.pct < 0 and b.row.basis == "m2" and b.size:
        _, extra = capped_bsa_note(kb, ctx, b.low / b.size, b.high / b.size, b.ordered, b.row.amount_unit)
        if extra:
            m2 = extra["matches_capped_bsa_m2"]
            facts["capped_bsa"] = {"cap": Amount(m2, "m2"), "low": Amount(b.low / b.size * m2, b.row.amount_unit),
                                   "high": Amount(b.high / b.size * m2, b.row.amount_unit)}
        inputs.update(extra)
    return Verdict(
        row=b.row, topic="dose", indicator=indicator, message="off-range", drug=drug, orders=(order.ref,),
        facts=facts, inputs=inputs, patient=True, suggestions=_suggestion(order, drug, rounded, b.row.amount_unit),
    )


def _limit_finding(ctx: PatientContext, order: MedicationOrder, drug: str, lim: LabelLimit, values) -> Verdict:
    """A label limit on who may get the product (dasatinib tablets <10 kg): the patient values it read."""
    shown = [{"what": name, "value": Amount(values[v], unit)}
             for v, (name, unit) in (("age_years", ("age", "a")), ("weight_kg", ("weight", "kg")), ("bsa_m2", ("BSA", "m2")))
             if v in lim.allowed.variables() and values[v] is not None]
    return Verdict(
        row=lim, topic=lim.topic, indicator="warning", message="label-limit", drug=drug, orders=(order.ref,), patient=True,
        facts={"display": order.display, "row_message": lim.message, "shown": shown, "allowed": lim.allowed.text,
               "applies": lim.applies.text if lim.applies.bounds else None},
        inputs={"rule_row": lim.id},
        override=("protocol-specified", "patient-specific-adjustment", "patient-data-incorrect", "other"),
    )
