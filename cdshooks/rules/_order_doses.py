"""Dose arithmetic shared by the interaction, population and pharmacogenomic rules.

Why one place: "is this methotrexate high-dose?", "is mercaptopurine already reduced to 1/3?"
and "what is 75% of this order?" all need the ordered amount in a comparable unit (mg, mg/kg,
mg/m2), using weight or BSA from the context. Every conversion goes through
`cdshooks.context.units.convert`; anything that cannot be converted returns a reason string
(shown to the clinician as "could not check ..."), never a guessed number.

Facts for templates: `Normalized.facts()` gives the amount as written, the doses per day and each
× / ÷ step with the weight or BSA used (value, date, formula); `dose.md.j2`'s `normalized` macro
writes "2.5 mg × 2/day × 20 kg (weight of 2026-10-30) = 100 mg". `how` is the older one-line text,
kept while the interaction, population and verification cards still write their own lines.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..context.model import MedicationOrder, PatientContext
from ..context.units import UnitError, convert, is_count
from ._percall import memoized
from .verdict import Amount

HIGH_DOSE_MTX_MG_M2 = 500.0  # clinical-rules.md DDI-01: high-dose methotrexate >= 500 mg/m2
_HIGH_DOSE_TEXT = re.compile(r"\bhigh[- ]dose\b|\bhd[- ]?mtx\b", re.IGNORECASE)


@dataclass(frozen=True)
class Normalized:
    value: float
    unit: str  # mg | mg/kg | mg/m2
    how: str  # older form: the computation as one line of text (templates use facts())
    written: Amount | None = None  # the order's amount as sent
    per_day: float = 1.0  # doses per day multiplied in (1 = per dose)
    steps: tuple[dict[str, Any], ...] = ()  # {"op": "×"|"/", "size": Amount, "what": "weight"|"BSA", "date", "formula"}

    def facts(self) -> dict[str, Any]:
        """The computation for a template: written × per day (× or / each size) = result."""
        return {"written": self.written, "per_day": self.per_day, "steps": list(self.steps), "result": Amount(self.value, self.unit)}


def _split(unit: str) -> tuple[str, str]:
    """'mg/m2' -> ('mg', 'm2'); 'g' -> ('g', ''); only mass over nothing/kg/m2 is accepted."""
    if "/" in unit:
        num, den = unit.split("/", 1)
    else:
        num, den = unit, ""
    if den not in ("", "kg", "m2"):
        raise UnitError(f"unit {unit!r} is not a per-dose amount")
    return num, den


def normalize(order: MedicationOrder, ctx: PatientContext, targets: Sequence[str], per_day: bool = False) -> Normalized | str:
    """The order's amount in the first of `targets` reachable with the data at hand (or why not)."""
    dose = order.dose.amount if order.dose else None
    if dose is None:
        return "no dose on the order"
    if dose.comparator:
        return f"dose has a comparator ({dose.comparator}{dose.value:g} {dose.unit})"
    factor, freq_note = (doses_per_day(order) if per_day else (1.0, ""))
    try:
        num, den = _split(dose.unit)
        mg = convert(dose.value, num, "mg") * factor
    except (UnitError, ValueError) as exc:
        return f"dose unit {dose.unit!r} not usable ({exc})"
    shown = f"{dose.value:g} {dose.unit}{freq_note}"
    reasons: list[str] = []
    # the order's own basis first (75 mg/m2 is judged against an mg/m2 threshold, not via BSA/weight)
    ordered = sorted(targets, key=lambda t: _split(t)[1] != den)
    written = Amount(dose.value, dose.unit)
    for target in ordered:
        _, tden = _split(target)
        value, steps = mg, shown
        facts: list[dict[str, Any]] = []
        if den == tden:
            return Normalized(value, target, steps if not freq_note else f"{steps} = {value:.4g} {target}", written, factor)
        # to an absolute mass first
        if den == "kg":
            if ctx.weight is None:
                reasons.append("no current weight")
                continue
            value, steps = value * ctx.weight.value, f"{steps} x {ctx.weight.value:g} kg (weight {ctx.weight.date})"
            facts.append(_weight_step("×", ctx))
        elif den == "m2":
            if ctx.bsa is None:
                reasons.append("no current BSA")
                continue
            value, steps = value * ctx.bsa.value, f"{steps} x {ctx.bsa.value:.2f} m2 (BSA {ctx.bsa.formula})"
            facts.append(_bsa_step("×", ctx))
        if tden == "kg":
            if ctx.weight is None:
                reasons.append("no current weight")
                continue
            value, steps = value / ctx.weight.value, f"{steps} / {ctx.weight.value:g} kg (weight {ctx.weight.date})"
            facts.append(_weight_step("/", ctx))
        elif tden == "m2":
            if ctx.bsa is None:
                reasons.append("no current BSA")
                continue
            value, steps = value / ctx.bsa.value, f"{steps} / {ctx.bsa.value:.2f} m2 (BSA {ctx.bsa.formula})"
            facts.append(_bsa_step("/", ctx))
        return Normalized(value, target, f"{steps} = {value:.4g} {target}", written, factor, tuple(facts))
    return "cannot convert the ordered dose: " + ", ".join(dict.fromkeys(reasons))


def _weight_step(op: str, ctx: PatientContext) -> dict[str, Any]:
    assert ctx.weight is not None
    return {"op": op, "size": Amount(ctx.weight.value, "kg"), "what": "weight", "date": ctx.weight.date, "formula": None}


def _bsa_step(op: str, ctx: PatientContext) -> dict[str, Any]:
    assert ctx.bsa is not None
    return {"op": op, "size": Amount(ctx.bsa.value, "m2"), "what": "BSA", "date": None, "formula": ctx.bsa.formula}


def doses_per_day(order: MedicationOrder) -> tuple[float, str]:
    """Doses per day from the timing (1 when absent or less often than daily: per-dose compare)."""
    interval = order.timing.interval_days if order.timing else None
    if interval and interval < 1:
        n = 1 / interval
        return n, f" x {n:g}/day"
    return 1.0, ""


@memoized  # asked per interacting pair and per population row of the same order: once per call
def is_high_dose_methotrexate(order: MedicationOrder, ctx: PatientContext) -> tuple[bool | None, str]:
    """True/False with the computation, or None with the reason when it cannot be told (older text form)."""
    high, facts = high_dose_methotrexate(order, ctx)
    if facts.get("by") == "text":
        return True, f"order text says high-dose ({order.display!r})"
    if facts.get("reason") is not None or facts.get("by") is None:
        return high, facts.get("reason") or ""
    n = facts["normalized"]
    return high, f"{n.how} ({'>=' if high else '<'} 500 mg/m2)"


def high_dose_methotrexate(order: MedicationOrder, ctx: PatientContext) -> tuple[bool | None, dict[str, Any]]:
    """Is this a high-dose methotrexate order (>= 500 mg/m2, or its text says so)? With facts:
    by ("text" | "dose" | None), display, normalized (Normalized) or reason (why it cannot be told),
    threshold (Amount)."""
    facts: dict[str, Any] = {"by": None, "display": order.display, "normalized": None, "reason": None,
                             "threshold": Amount(HIGH_DOSE_MTX_MG_M2, "mg/m2")}
    if not order.has("methotrexate"):
        return False, facts
    text = " ".join(filter(None, (order.display, order.dosage_text)))
    if _HIGH_DOSE_TEXT.search(text):
        return True, {**facts, "by": "text"}
    n = normalize(order, ctx, ("mg/m2",))
    if isinstance(n, str):
        return None, {**facts, "reason": n}
    return n.value >= HIGH_DOSE_MTX_MG_M2, {**facts, "by": "dose", "normalized": n}


def scaled_resource(order: MedicationOrder, factor: float | None = None, cap_mg: float | None = None) -> Mapping[str, Any] | None:
    """Deep copy of the MedicationRequest with doseQuantity (or doseRange) scaled/capped, or None."""
    resource = copy.deepcopy(dict(order.resource))
    changed = False
    for instr in resource.get("dosageInstruction") or ():
        for dr in instr.get("doseAndRate") or ():
            targets = [dr["doseQuantity"]] if isinstance(dr.get("doseQuantity"), dict) else []
            rng = dr.get("doseRange") if isinstance(dr.get("doseRange"), dict) else {}
            targets += [rng[k] for k in ("low", "high") if isinstance(rng.get(k), dict)]
            for q in targets:
                if not isinstance(q.get("value"), (int, float)):
                    continue
                value = float(q["value"]) * (factor if factor is not None else 1.0)
                code = q.get("code", q.get("unit"))
                if cap_mg is not None:
                    if code != "mg":
                        return None
                    value = min(value, cap_mg)
                if isinstance(code, str) and (is_count(code) or code.upper() in ("TAB", "CAP")):
                    given = max(0.5, round(value * 2) / 2)  # whole or half tablets only
                    if abs(given - value) > 0.25 * value:
                        return None  # no half-tablet step near the scaled dose: no suggestion rather than a wrong one
                    value = given
                elif code == "mL":
                    value = round(value, 1)  # a measurable volume
                q["value"] = round(value, 4)
                changed = True
    return resource if changed else None
