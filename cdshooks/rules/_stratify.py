"""Risk-group computation shared by the risk, regimen and monitoring families (no findings here).

Why a separate module: RA-08/RA-09 (regimen) need the same NCI group the risk card shows, and a
second implementation could drift. Everything here is pure and returns what it used and what was
missing, so a card can state every input with its date and every gap ("no day-29 MRD recorded")
instead of guessing. The leading underscore keeps the registry from importing it as a family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Iterable

from ..context.model import LabResult, MedicationOrder, PatientContext
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.monitoring import monitoring_view
from ..knowledge.risk import RiskKnowledge, Threshold, format_number, risk_view
from ._percall import given_with, memoized

POSITIVE = frozenset({"positive", "present", "detected", "pos", "yes"})
NEGATIVE = frozenset({"negative", "absent", "not-detected", "undetectable", "neg", "no"})


# -- small readers -----------------------------------------------------------------------
def value_in(lab: LabResult | None, unit: str) -> float | None:
    """The lab's numeric value in `unit` (UCUM, through context.units), or None if unusable."""
    if lab is None or lab.value is None or not lab.unit:
        return None
    if lab.unit == unit:
        return lab.value
    try:
        return convert(lab.value, lab.unit, unit)
    except UnitError:
        return None


def coded(lab: LabResult | None) -> str | None:
    """'positive' / 'negative' from a coded answer, or from a numeric value (0 = negative)."""
    if lab is None:
        return None
    answer = (lab.code_value or "").strip().lower()
    if answer in POSITIVE:
        return "positive"
    if answer in NEGATIVE:
        return "negative"
    if lab.value is not None and lab.code_value is None:
        return "positive" if lab.value > 0 else "negative"
    return None


def lab_input(lab: LabResult, value: float | None = None, unit: str | None = None) -> dict[str, Any]:
    return {
        "value": value if value is not None else lab.value,
        "unit": unit if unit is not None else lab.unit,
        "code": lab.code_value,
        "date": lab.date.isoformat(),
        "source": lab.source,
    }


def lab_fact(lab: LabResult, value: float | None = None, unit: str | None = None) -> dict[str, Any]:
    """A lab reading for a card template: value (in `unit` when converted), unit, coded answer, date.
    No resource id: the card names the result by what and when, the inputs keep the source."""
    return {
        "key": lab.key,
        "value": round(value if value is not None else lab.value, 4) if (value if value is not None else lab.value) is not None else None,
        "unit": unit if unit is not None else lab.unit,
        "code": lab.code_value,
        "date": lab.date,
    }


def latest_within(ctx: PatientContext, key: str, days: int, *, on: date | None = None) -> LabResult | None:
    """Newest result of `key` dated within `days` days before (or on) `on` (default: order date)."""
    on = on or ctx.order_date
    since = on - timedelta(days=days)
    newest = getattr(ctx.labs, "newest", None)  # a LabSeries builds only the result it returns
    if newest is not None:
        return newest(key, since, on)  # type: ignore[no-any-return]
    for lab in ctx.labs.get(key) or ():
        if since <= lab.date <= on:
            return lab
    return None


def oldest_lab(ctx: PatientContext, key: str, test: Callable[[date], bool]) -> LabResult | None:
    """The first result of `key`, oldest first (ties in reading order), whose date passes `test`."""
    oldest = getattr(ctx.labs, "oldest", None)  # a LabSeries builds only the result it returns
    if oldest is not None:
        return oldest(key, test)  # type: ignore[no-any-return]
    return next((lab for lab in sorted(ctx.labs.get(key) or (), key=lambda lab: lab.date) if test(lab.date)), None)


def first_on_or_after(ctx: PatientContext, key: str, start: date | None) -> LabResult | None:
    return oldest_lab(ctx, key, lambda day: start is None or day >= start)


@memoized  # a dozen rules ask, each for the same tuple
def subject_orders(ctx: PatientContext) -> tuple[MedicationOrder, ...]:
    """Order hooks: the identified orders under review (a draft with no medication chosen yet is not a
    treatment); patient-view (no targets): the active medications."""
    return tuple(o for o in ctx.targets if o.drug_ids) if ctx.targets else ctx.active_medications


def with_drugs(orders: Iterable[MedicationOrder], drugs: Iterable[str]) -> tuple[MedicationOrder, ...]:
    wanted = frozenset(drugs)
    return tuple([o for o in orders if not wanted.isdisjoint(o.drug_ids)])


@memoized  # asked by most rows of most families (scope "ALL"): once per call
def has_all_diagnosis(ctx: PatientContext, rk: RiskKnowledge) -> bool:
    return any(ctx.has_fact(key) for key in rk.diagnosis_facts)


def in_scope(scope: str | None, ctx: PatientContext, kb: Knowledge) -> bool:
    """A knowledge row's `scope`: "ALL" rows (protocol dose bands, TLS reminders, regimen and phase
    checks) need an ALL diagnosis; "any" rows (label-level safety) apply to every patient."""
    return scope != "ALL" or has_all_diagnosis(ctx, risk_view(kb))


def lineage(ctx: PatientContext, rk: RiskKnowledge) -> str | None:
    """'B-precursor', 'T' or 'mature B' from the lineage facts; None when not recorded."""
    for key, name in rk.lineage_facts.items():
        if ctx.has_fact(key):
            return name
    return None


def mrd_at(ctx: PatientContext, rk: RiskKnowledge, timepoint: str) -> LabResult | None:
    """MRD for a timepoint: key 'mrd' with the timepoint in code_value, or key 'mrd_<timepoint>'."""
    aliases = rk.mrd_timepoints[timepoint]
    candidates = [lab for lab in ctx.labs.get("mrd") or () if (lab.code_value or "").lower() in aliases]
    for alias in sorted(aliases):
        candidates.extend(ctx.labs.get(f"mrd_{alias.replace('-', '_')}") or ())
    return max(candidates, key=lambda lab: lab.date) if candidates else None


def mrd_percent(lab: LabResult | None) -> float | None:
    return value_in(lab, "%")


# -- NCI ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NciResult:
    group: str | None  # "standard" | "high" | "infant" | "not-applicable" | None = cannot assign
    reasons: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    rows: tuple[Threshold, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)
    lineage_recorded: bool = True


def first_cytoreductive_day(ctx: PatientContext, kb: Knowledge) -> date | None:
    """Date of the first recorded administration of a cytoreductive agent (monitoring.json class)."""
    members = monitoring_view(kb).members("cytoreductive")
    days = [a.date for a in given_with(ctx, members) if a.status not in ("entered-in-error", "not-done")]
    return min(days) if days else None


def _day_bounds(row: Threshold) -> tuple[int | None, int | None] | None:
    """(least, greatest) whole number x with `row.holds(x)` (None: unbounded on that side), or None
    when that is not a plain range (no threshold, not a finite number)."""
    op, value = row.op, row.value
    if op not in ("<", "<=", ">", ">=") or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if op == "<":
        return None, math.ceil(value) - 1
    if op == "<=":
        return None, math.floor(value)
    if op == ">":
        return math.floor(value) + 1, None
    return math.ceil(value), None


def day_window(before: Threshold, after: Threshold, dx: date) -> Callable[[date], bool] | None:
    """`lambda day: before.holds((dx - day).days) and after.holds((day - dx).days)` as date bounds,
    or None when a row is not a plain range or a bound is outside the calendar (then ask the rows).

    Why: the presenting-WBC search tests every WBC date of a two-year chart against the window."""
    b, a = _day_bounds(before), _day_bounds(after)
    if b is None or a is None:
        return None
    # t = (day - dx).days: before.holds(-t) and after.holds(t)
    lows = [x for x in (None if b[1] is None else -b[1], a[0]) if x is not None]
    highs = [x for x in (None if b[0] is None else -b[0], a[1]) if x is not None]
    try:
        lo = dx + timedelta(days=max(lows)) if lows else None
        hi = dx + timedelta(days=min(highs)) if highs else None
    except OverflowError:  # a bound past year 1 or 9999: a date cannot say it
        return None
    if lo is not None and hi is not None:
        return lambda day: lo <= day <= hi
    if lo is not None:
        return lambda day: lo <= day
    if hi is not None:
        return lambda day: day <= hi
    return lambda day: True


def diagnostic_wbc(ctx: PatientContext, rk: RiskKnowledge, kb: Knowledge | None = None) -> tuple[LabResult | None, float | None, str | None]:
    """The presenting WBC in /uL: the first WBC from NCI-WBC-WINDOW-BEFORE days before to
    NCI-WBC-WINDOW days after the diagnosis date, not after the first cytoreductive
    administration; or (lab?, None, why)."""
    if ctx.diagnosis_date is None:
        return None, None, "no diagnosis date recorded (needed to find the WBC at diagnosis)"
    before, after = rk.criterion("NCI-WBC-WINDOW-BEFORE"), rk.criterion("NCI-WBC-WINDOW")
    dx = ctx.diagnosis_date
    started = first_cytoreductive_day(ctx, kb) if kb is not None else None

    def in_window(day: date) -> bool:
        return before.holds((dx - day).days) and after.holds((day - dx).days)

    in_window = day_window(before, after, dx) or in_window  # the same answers, as two date comparisons

    # The presenting WBC is the first (oldest first) in the window, used when it is not after
    # treatment started: were it after, every later one in the window would be too. Only dates
    # decide, so a lazy series builds just the one result used (tests/rules/risk/test_diagnostic_wbc.py).
    first = oldest_lab(ctx, "wbc", in_window)
    pre = first if first is not None and (started is None or first.date <= started) else None
    span = f"{format_number(before.value or 0)} days before to {format_number(after.value or 0)} days after the diagnosis date {dx.isoformat()}"
    if pre is None:
        if first is not None:
            return first, None, (
                f"every WBC from {span} is after the first cytoreductive administration ({started.isoformat() if started else '?'}): on treatment, not used"
            )
        later = oldest_lab(ctx, "wbc", lambda day: day > dx)
        if later is not None:
            return later, None, f"no WBC from {span}; the first after it is from {later.date.isoformat()} (likely on treatment, not used)"
        return None, None, f"no WBC recorded from {span}"
    lab = pre
    value = value_in(lab, "/uL")
    if value is None:
        return lab, None, f"the WBC of {lab.date.isoformat()} has no usable unit"
    return lab, value, None


def nci_group(ctx: PatientContext, kb: Knowledge) -> NciResult:
    rk = risk_view(kb)
    lin = lineage(ctx, rk)
    inputs: dict[str, Any] = {"lineage": lin, "diagnosis_date": ctx.diagnosis_date.isoformat() if ctx.diagnosis_date else None}
    if lin in ("T", "mature B"):
        return NciResult("not-applicable", (f"{lin} lineage",), rows=(rk.criterion("NCI-0"),), inputs=inputs)
    age = ctx.age_at_diagnosis
    if age is None:
        return NciResult(None, missing=("age at diagnosis (birth date or diagnosis date missing)",), inputs=inputs, lineage_recorded=lin is not None)
    inputs["age_at_diagnosis"] = {"years": age.years, "days": age.days, "at": age.at.isoformat()}
    infant = rk.criterion("NCI-1")
    if infant.holds(age.days):
        return NciResult("infant", (f"age {age.days} d at diagnosis",), rows=(infant,), inputs=inputs, lineage_recorded=lin is not None)
    age_row, wbc_row, window = rk.criterion("NCI-3-age"), rk.criterion("NCI-3-wbc"), rk.criterion("NCI-WBC-WINDOW")
    lab, wbc, why = diagnostic_wbc(ctx, rk, kb)
    if lab is not None:
        inputs["wbc_at_diagnosis"] = lab_input(lab, wbc, "/uL" if wbc is not None else None)
    reasons: list[str] = []
    if age_row.holds(age.years):
        reasons.append(f"age {age_row.text}")
    if wbc is not None and wbc_row.holds(wbc):
        reasons.append(f"WBC {wbc_row.text}")
    rows = (age_row, wbc_row, window, rk.criterion("NCI-WBC-WINDOW-BEFORE"))
    if reasons:
        return NciResult("high", tuple(reasons), (why,) if why else (), rows, inputs, lin is not None)
    if wbc is None:
        return NciResult(None, missing=(why or "no WBC at diagnosis",), rows=rows, inputs=inputs, lineage_recorded=lin is not None)
    return NciResult("standard", (f"age {age.years} y, WBC {format_number(wbc)}/µL",), (), rows + (rk.criterion("NCI-2"),), inputs, lin is not None)


# -- CNS ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CnsResult:
    status: str | None  # "CNS1" | "CNS2" | "CNS3" | "TLP+" | "TLP-" | None
    evidence: tuple[dict[str, Any], ...] = ()  # {"item": csf_wbc | csf_blasts | csf_rbc | cns_involvement | traumatic_tap_blasts, "reading": lab_fact | None}
    missing: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)


def cns_status(ctx: PatientContext, kb: Knowledge) -> CnsResult:
    rk = risk_view(kb)
    wbc_row, tlp_row = rk.criterion("CNS-WBC"), rk.criterion("CNS-TLP")
    if ctx.has_fact("cns-involvement"):
        fact = ctx.facts["cns-involvement"][0]
        return CnsResult("CNS3", ({"item": "cns_involvement", "reading": None},), inputs={"cns_involvement": fact.source})
    csf_wbc_lab = first_on_or_after(ctx, "csf_wbc", ctx.diagnosis_date)
    blasts_lab = first_on_or_after(ctx, "csf_blasts", ctx.diagnosis_date)
    rbc_lab = first_on_or_after(ctx, "csf_rbc", ctx.diagnosis_date)
    inputs: dict[str, Any] = {}
    evidence: list[dict[str, Any]] = []
    csf_wbc = value_in(csf_wbc_lab, "/uL")
    if csf_wbc_lab is not None:
        inputs["csf_wbc"] = lab_input(csf_wbc_lab, csf_wbc, "/uL")
        evidence.append({"item": "csf_wbc", "reading": lab_fact(csf_wbc_lab, csf_wbc, "/uL")})
    blasts = coded(blasts_lab)
    if blasts_lab is not None:
        inputs["csf_blasts"] = lab_input(blasts_lab)
        evidence.append({"item": "csf_blasts", "reading": {**lab_fact(blasts_lab), "value": None, "code": blasts or "unreadable"}})
    rbc = value_in(rbc_lab, "/uL")
    if rbc_lab is not None:
        inputs["csf_rbc"] = lab_input(rbc_lab, rbc, "/uL")
        evidence.append({"item": "csf_rbc", "reading": lab_fact(rbc_lab, rbc, "/uL")})
    if csf_wbc_lab is None and blasts_lab is None:
        return CnsResult(None, missing=("no diagnostic CSF (WBC and blasts) recorded",))
    if blasts is None:
        return CnsResult(None, tuple(evidence), ("CSF blasts not recorded",), inputs)
    if blasts == "negative":
        traumatic = rbc is not None and tlp_row.holds(rbc)
        return CnsResult("TLP-" if traumatic else "CNS1", tuple(evidence), (), inputs)
    if rbc is not None and tlp_row.holds(rbc):
        return CnsResult("TLP+", tuple(evidence + [{"item": "traumatic_tap_blasts", "reading": None}]), (), inputs)
    if csf_wbc is None:
        return CnsResult(None, tuple(evidence), ("CSF WBC not recorded (CNS2 vs CNS3)",), inputs)
    return CnsResult("CNS3" if wbc_row.holds(csf_wbc) else "CNS2", tuple(evidence), (), inputs)
