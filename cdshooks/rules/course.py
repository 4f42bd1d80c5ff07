"""Course totals (`dose` cards): a dose written per COURSE is checked as a course, not per dose.

Why: cyclophosphamide 40-50 mg/kg is a course divided over 2-5 days (seed Table 1). Checking each
dose against the per-course range called a standard single protocol dose (1,000 mg/m2, about 37
mg/kg in a child) "48% above". Here the course total = past administrations of the drug within the
row's `course.days` (the order day included) + every draft order of the drug (dose x planned
doses), converted to the row's unit with the current weight/BSA, and compared with `course.max`.
Single doses are left to the dose family, which flags one only above the course maximum.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator, Mapping

from ..context.model import MedicationOrder, PatientContext, Quantity
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.dosing import DoseRule, dosing_view
from ._dose_common import order_day
from ._stratify import in_scope
from ._percall import given_with
from .registry import RuleSettings, rule
from .verdict import Amount, Verdict

_DONE = {"entered-in-error", "not-done", "stopped", "cancelled"}


def _per(ctx: PatientContext, q: Quantity | None, unit: str) -> float | None:
    """A quantity in `unit` (mg/kg or mg/m2) for this patient, or None when it cannot be read."""
    if q is None or q.comparator or not q.unit:
        return None
    try:
        return convert(q.value, q.unit, unit)
    except UnitError:
        pass
    size = {"mg/kg": ctx.weight.value if ctx.weight else None, "mg/m2": ctx.bsa.value if ctx.bsa else None}[unit]
    other = "mg/m2" if unit == "mg/kg" else "mg/kg"
    other_size = ctx.bsa.value if other == "mg/m2" and ctx.bsa else (ctx.weight.value if other == "mg/kg" and ctx.weight else None)
    try:
        mg = convert(q.value, q.unit, "mg")
    except UnitError:
        try:
            mg = convert(q.value, q.unit, other) * other_size if other_size else None
        except UnitError:
            return None
    return mg / size if mg is not None and size else None


def _planned(order: MedicationOrder) -> int:
    return order.timing.count if order.timing and order.timing.count else 1


def _course_row(kb: Knowledge, drug: str, route: str | None) -> DoseRule | None:
    return next((r for r in dosing_view(kb).doses_for(drug) if r.course and (not r.routes or route in r.routes)), None)


@rule("dose")
def course_total(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """One finding per drug whose course total (administrations in the window + drafts) exceeds the course maximum."""
    done: set[str] = set()
    for order in ctx.targets:
        for drug in order.drug_ids:
            row = _course_row(kb, drug, order.route.kind if order.route else None)
            if row is None or drug in done or not in_scope(row.scope, ctx, kb):
                continue
            if not row.verified and not settings.soft_rule_enabled(row.id):
                continue
            done.add(drug)
            finding = _judge(ctx, order, drug, row, dict(row.course or {}), settings)
            if finding:
                yield finding


def _judge(ctx: PatientContext, order: MedicationOrder, drug: str, row: DoseRule, course: Mapping[str, Any], settings: RuleSettings) -> Verdict | None:
    unit, limit, days = course["unit"], float(course["max"]), int(course["days"])
    day = order_day(order, ctx)
    start = day - timedelta(days=days - 1)
    lines: list[dict[str, Any]] = []  # each counted dose: {kind, date?, display?, given (Amount), value, count, total}
    total = 0.0
    for adm in sorted(given_with(ctx, (drug,)), key=lambda a: a.date):  # stable: same order as sorting all
        if adm.status in _DONE or not (start <= adm.date <= day):
            continue
        value = _per(ctx, adm.dose, unit)
        if value is None:
            return None  # an unreadable past dose: the cumulative/dose families say what is missing
        total += value
        lines.append({"kind": "given", "date": adm.date, "given": Amount(adm.dose.value, adm.dose.unit), "value": value, "count": 1, "total": value})  # type: ignore[union-attr]
    drafts = [o for o in ctx.draft_orders if o.has(drug)]
    for o in drafts:
        value = _per(ctx, o.dose.amount if o.dose else None, unit)
        if value is None:
            return None  # the dose family reports an unreadable or unconvertible dose
        total += value * _planned(o)
        lines.append({"kind": "draft", "display": o.display, "value": value, "count": _planned(o), "total": value * _planned(o)})
    if round(total, 6) <= limit:
        return None
    if len(lines) == 1 and len(drafts) == 1 and _planned(drafts[0]) == 1:
        return None  # one single dose above the course maximum is the dose family's card (one card per finding)
    pct = (total - limit) / limit * 100
    indicator = "critical" if row.verified and pct > settings.dose_critical_pct else "warning"
    return Verdict(
        row=row, rule_id=course["id"], topic="dose", indicator=indicator, message="course-total", drug=drug, patient=True,
        orders=tuple(o.ref for o in ctx.targets if o.has(drug)) or (order.ref,),
        facts={"display": order.display, "lines": lines, "unit": unit, "total": total, "limit": limit, "pct": pct, "dose_text": row.dose_text,
               "window": {"start": start, "end": day, "days": days}},
        inputs={"rule_row": row.id, "course_total": round(total, 2), "unit": unit, "course_max": limit, "window_days": days, "deviation_pct": round(pct, 2)},
    )
