"""Helpers shared by the dose, route, schedule and cumulative rules (no rules live here).

Why one place: every order-time card shows the same patient inputs with their dates, the same
number formatting and the same override reasons; a missing input is reported the same way
(`missing-data`, naming what is missing and since when) whichever rule needed it.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from ..context.model import MedicationOrder, PatientContext, Timing
from .patient import patient_inputs  # noqa: F401 (re-exported: the one definition is rules/patient.py)
from .finding import Coding, Finding
from .verdict import Row, RowRef, Verdict

OVERRIDE_SYSTEM = "urn:all-cds:override-reason"
OVERRIDE_REASONS = (
    Coding(OVERRIDE_SYSTEM, "protocol-specified-dose", "Dose specified by the treatment protocol"),
    Coding(OVERRIDE_SYSTEM, "dose-capped-per-protocol", "Dose capped as the protocol directs"),
    Coding(OVERRIDE_SYSTEM, "patient-specific-adjustment", "Patient-specific adjustment (documented)"),
    Coding(OVERRIDE_SYSTEM, "other", "Other reason (documented in the chart)"),
)

ITEM_NAMES = {"age": "age (birth date)", "weight": "body weight", "height": "height", "bsa": "body surface area"}

# Timing.code -> days between doses. HL7 v3 GTSAbbreviation codes of the FHIR R4 ValueSet
# timing-abbreviation (http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation: QD, BID, TID, QID,
# AM, PM, QOD, Q1H..Q8H, BED, WK, MO), then spellings EHRs send as local codes or text (Q1W, DAILY ...).
GTS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
_CODE_INTERVAL_DAYS = {
    "QD": 1.0, "AM": 1.0, "PM": 1.0, "BED": 1.0, "BID": 0.5, "TID": 1 / 3, "QID": 0.25, "QOD": 2.0,
    "Q1H": 1 / 24, "Q2H": 1 / 12, "Q3H": 1 / 8, "Q4H": 1 / 6, "Q6H": 0.25, "Q8H": 1 / 3, "WK": 7.0, "MO": 30.0,
    # local / text spellings
    "DAILY": 1.0, "ONCEDAILY": 1.0, "QAM": 1.0, "QPM": 1.0, "HS": 1.0, "QHS": 1.0, "Q24H": 1.0, "Q12H": 0.5,
    "Q48H": 2.0, "EVERYOTHERDAY": 2.0, "QW": 7.0, "QWK": 7.0, "Q1W": 7.0, "Q7D": 7.0, "WEEKLY": 7.0, "ONCEWEEKLY": 7.0,
    "Q2W": 14.0, "Q14D": 14.0, "Q3W": 21.0, "Q21D": 21.0, "Q4W": 28.0, "Q28D": 28.0,
}


def code_interval_days(code: str | None) -> float | None:
    """Days between doses for a timing code (GTS abbreviation or a common spelling); None if unknown."""
    if not isinstance(code, str):
        return None
    return _CODE_INTERVAL_DAYS.get("".join(code.upper().split()))


def text_only_sig(order: MedicationOrder) -> bool:
    """A dosage with free text and nothing structured to check (no dose, no timing, no route)."""
    if not order.dosage_text or order.dose is not None:
        return False  # the usual order: nothing more to read (the checks below have no side effects)
    t = order.timing
    timed = t is not None and (t.frequency or t.period or t.code or t.count or t.day_of_week or t.bounds_start)
    sent_route = order.route is not None and order.route.implied_by is None
    return bool(order.dosage_text) and order.dose is None and not timed and not sent_route


def fmt(value: float) -> str:
    """Numbers as a clinician writes them: 3 significant digits, thousands separators, 2.5 ×10^8."""
    v = float(value)
    if abs(v) >= 1e5:
        exp = len(str(int(abs(v)))) - 1
        mant = v / 10**exp
        return f"{mant:.3g} ×10^{exp}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def unit_text(unit: str) -> str:
    return {
        "ug/d": "µg/day", "[iU]": "IU", "{cells}": "cells", "mg/m2": "mg/m²", "[iU]/m2": "IU/m²",
        "ug/m2/d": "µg/m²/day", "ug": "µg", "mg/kg": "mg/kg",
    }.get(unit, unit)


def patient_values(ctx: PatientContext) -> dict[str, float | None]:
    """The band variables of the knowledge rows (age in completed years at the order date)."""
    return {
        "age_years": float(ctx.age.years) if ctx.age else None,
        "weight_kg": ctx.weight.value if ctx.weight else None,
        "bsa_m2": ctx.bsa.value if ctx.bsa else None,
    }


def patient_lines(ctx: PatientContext) -> list[str]:
    """Markdown bullet lines showing the patient inputs and their dates."""
    lines = []
    lines.append(f"- Age: {ctx.age} on {ctx.age.at.isoformat()}" if ctx.age else "- Age: not known")
    if ctx.weight:
        lines.append(f"- Weight: {ctx.weight.value:g} kg on {ctx.weight.date.isoformat()} ({ctx.weight.original})")
    else:
        lines.append("- Weight: not available")
    if ctx.height:
        lines.append(f"- Height: {ctx.height.value:g} cm on {ctx.height.date.isoformat()} ({ctx.height.original})")
    else:
        lines.append("- Height: not available")
    lines.append(f"- BSA ({ctx.bsa.formula}): {ctx.bsa.value:.2f} m²" if ctx.bsa else "- BSA: not available")
    return lines


def missing_items_text(ctx: PatientContext, items: Iterable[str]) -> tuple[str, list[str], dict[str, Any]]:
    """Short phrase, detail lines and inputs naming each missing item with its gap and date."""
    names, lines, gaps = [], [], {}
    for item in dict.fromkeys(items):
        names.append(ITEM_NAMES.get(item, item))
        related = ctx.gaps_for(item) or (ctx.gaps_for("weight") + ctx.gaps_for("height") if item == "bsa" else ())
        if not related:
            lines.append(f"- {ITEM_NAMES.get(item, item)}: not recorded")
        for gap in related:
            since = f" (last usable value {gap.since.isoformat()})" if gap.since else ""
            lines.append(f"- {ITEM_NAMES.get(gap.item, gap.item)}: {gap.reason}{since}")
            gaps.setdefault(item, []).append({"item": gap.item, "reason": gap.reason, "since": gap.since.isoformat() if gap.since else None})
    return ", ".join(names), lines, gaps


def missing_data_finding(
    ctx: PatientContext,
    order: MedicationOrder,
    drug: str,
    rule_id: str,
    check: str,
    problem: str,
    citation: str,
    lines: Iterable[str] = (),
    inputs: Mapping[str, Any] | None = None,
) -> Finding:
    """A `missing-data` warning, older text form (callers move to `missing_data_verdict`)."""
    summary = f"{drug}: {check} could not be checked – {problem}"
    if len(summary) >= 140:
        summary = summary[:136] + "…"
    detail = "\n".join(
        [f"**{check.capitalize()} not checked** for {order.display} ({order.ref}): {problem}.", "", *lines, "", *patient_lines(ctx), "", f"Rule: {citation}"]
    )
    return Finding(
        rule_id=rule_id,
        topic="missing-data",
        indicator="warning",
        summary=summary,
        detail=detail,
        citation=citation,
        orders=(order.ref,),
        inputs={**patient_inputs(ctx), **(inputs or {})},
        drug=drug,
    )


def missing_items(ctx: PatientContext, items: Iterable[str]) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """(the items needed, one fact per gap for the template, the `missing` inputs) - no words.

    `items` are "age", "weight", "height", "bsa"; a BSA gap is explained by the weight and height
    gaps behind it. An item with no recorded gap is "not recorded" (reason None)."""
    needed, shown, gaps = [], [], {}
    for item in dict.fromkeys(items):
        needed.append(item)
        related = ctx.gaps_for(item) or (ctx.gaps_for("weight") + ctx.gaps_for("height") if item == "bsa" else ())
        if not related:
            shown.append({"item": item, "reason": None, "since": None})
        for gap in related:
            shown.append({"item": gap.item, "reason": gap.reason, "since": gap.since})
            gaps.setdefault(item, []).append({"item": gap.item, "reason": gap.reason, "since": gap.since.isoformat() if gap.since else None})
    return needed, shown, gaps


def missing_data_verdict(
    order: MedicationOrder,
    drug: str,
    rule_id: str,
    check: str,
    problem: str | None,
    row: "Row | str",
    facts: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    *,
    message: str = "not-checked",
    indicator: str = "warning",
) -> Verdict:
    """A `missing-data` verdict: the check named could not run; never a silent pass.

    `problem` is a short phrase the template quotes after "could not be checked -" (None when
    `facts` says it: `needed` item keys and `missing` gap facts from `missing_items`, `per` "m²"/"kg"
    when the order is written per size). `row` is the knowledge row the check would have used (its
    citation and status; an UNVERIFIED row makes the card a soft rule) or just its citation. The rule
    id is the missing-data id given, and `inputs` stay exactly as given (the patient inputs are added
    by the engine). `message` names another macro of missing-data.md.j2 for a topic that needs one."""
    citation = row if isinstance(row, str) else row.citation
    status = "verified" if isinstance(row, str) else row.status
    return Verdict(
        row=RowRef(rule_id, citation, status), topic="missing-data", indicator=indicator, message=message, drug=drug,
        orders=(order.ref,), patient=True, inputs=dict(inputs or {}),
        facts={"check": check, "problem": problem, "display": order.display, "needed": [], "missing": [], "per": None, **(facts or {})},
    )


def interval_days(timing: Timing | None) -> float | None:
    """Days between doses from frequency/period, a timing code, or days of the week."""
    if timing is None:
        return None
    if timing.interval_days is not None:
        return timing.interval_days
    if code_interval_days(timing.code) is not None:
        return code_interval_days(timing.code)
    if timing.day_of_week:
        return 7 / len(set(timing.day_of_week))
    return None


def order_day(order: MedicationOrder, ctx: PatientContext) -> date:
    """The first day the order is for: bounds start, else authoredOn, else the context's order date."""
    if order.timing and order.timing.bounds_start:
        return order.timing.bounds_start
    return order.authored_on or ctx.order_date


def size_for(ctx: PatientContext, basis: str) -> float | None:
    """The patient size a per-m2 / per-kg dose multiplies by (1.0 for a fixed dose; None if unknown)."""
    if basis == "m2":
        return ctx.bsa.value if ctx.bsa else None
    if basis == "kg":
        return ctx.weight.value if ctx.weight else None
    return 1.0


def deviation_pct(ordered: float, low: float, high: float) -> float:
    """Signed % deviation from the nearest end of low..high (0 inside), rounded against float noise."""
    if ordered > high:
        return round((ordered - high) / high * 100, 6)
    if ordered < low:
        return round((ordered - low) / low * 100, 6)
    return 0.0


def clip_summary(text: str) -> str:
    return text if len(text) < 140 else text[:136] + "…"


def schedule_speaks(schedules, order: MedicationOrder, candidates: Sequence[Any]) -> bool:
    """A min-interval schedule rule flags this order's interval (daily oral methotrexate): then neither a
    per-dose comparison (it would invite a higher daily dose) nor a per-period one (the same error
    again) is a second card - the schedule card is the one finding."""
    period = candidates[0].period_days or 0
    route = order.route.kind if order.route else None
    return any(s.kind == "min-interval" and (s.min_interval_days or 0) >= period and (not s.routes or route in s.routes)
               for s in schedules)


def per_period(order: MedicationOrder, candidates: Sequence[Any]) -> tuple[float, dict[str, float] | None]:
    """Like with like: a dose the rule gives once per N days, ordered every M days, is compared per
    N days (2.5 mg daily = 17.5 mg per 7 days against 20 mg/m² once weekly), so a daily order is never
    told to take more per dose. (1.0, None) when the rule is per dose or the intervals agree; else the
    factor and its facts (interval_days, period_days, doses per period) for the card."""
    periods = {r.period_days for r in candidates}
    interval = interval_days(order.timing)
    if len(periods) != 1 or None in periods or not interval:
        return 1.0, None
    period = periods.pop()
    assert period is not None
    if abs(interval - period) < 1e-9:
        return 1.0, None
    factor = period / interval
    return factor, {"interval_days": interval, "period_days": period, "doses": factor}
