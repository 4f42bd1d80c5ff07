"""Schedule checks (`schedule` cards) against schedules.json.

Why these and how: the schedule errors that kill are pattern errors, not amount errors - oral
methotrexate daily instead of weekly, pegaspargase repeated inside 14 days, clofarabine past day 5,
adult nelarabine 1,500 mg/m2 on consecutive days. Each check reads the order's own timing and,
where the label speaks of an interval between doses, the patient's past administrations (and other
active/draft orders for pegaspargase). Intervals are compared exclusively: exactly 7 (or 14) days
apart is allowed. Oral methotrexate with no readable timing is `missing-data`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterator

from ..context.model import MedicationOrder, PatientContext
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.dosing import ScheduleRule, dosing_view
from ._dose_common import interval_days, missing_data_verdict, order_day, text_only_sig
from .finding import ActionSpec, SuggestionSpec
from ._percall import all_medications, given_with
from .registry import RuleSettings, rule
from .verdict import Amount, Verdict

_DONE = {"entered-in-error", "not-done", "stopped", "cancelled"}


@rule("schedule")
def schedule_pattern(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    view = dosing_view(kb)
    for order in ctx.targets:
        if text_only_sig(order):
            continue  # rules/orders.py: one free-text card
        for drug in order.drug_ids:
            for spec in view.schedules_for(drug):
                if spec.status != "verified" and not settings.soft_rule_enabled(spec.id):
                    continue
                route = order.route.kind if order.route else None
                if spec.routes and route not in spec.routes:
                    continue
                check = {"min-interval": _min_interval, "max-consecutive-days": _consecutive, "adult-alternate-days": _adult_alternate}[spec.kind]
                yield from check(ctx, order, drug, spec)


def _past_days(ctx: PatientContext, drug: str, day: date) -> list[date]:
    return sorted({a.date for a in given_with(ctx, (drug,)) if a.status not in _DONE and a.date <= day}, reverse=True)


def _last_day(ctx: PatientContext, drug: str, day: date) -> date | None:
    """`_past_days(...)[0]` (the newest), or None: the one day the min-interval check reads, without the sort."""
    return max((a.date for a in given_with(ctx, (drug,)) if a.status not in _DONE and a.date <= day), default=None)


def _min_interval(ctx: PatientContext, order: MedicationOrder, drug: str, spec: ScheduleRule) -> Iterator[Verdict]:
    assert spec.min_interval_days is not None
    interval = interval_days(order.timing)
    day = order_day(order, ctx)
    if interval is None and spec.require_timing:
        yield missing_data_verdict(order, drug, "missing-data.schedule", "schedule", None, spec, message="timing-unknown",
                                   facts={"expected": spec.expected, "label": spec.message, "dosage_text": order.dosage_text},
                                   inputs={"rule_row": spec.id})
    elif interval is not None and interval < spec.min_interval_days:
        yield _verdict(ctx, order, drug, spec, "too-frequent", {"interval_days": interval}, {"interval_days": interval})
        return
    if spec.check_history:
        past = _last_day(ctx, drug, day)  # only the newest past day can be too recent
        if past is not None:
            gap = (day - past).days
            if gap < spec.min_interval_days:
                yield _verdict(ctx, order, drug, spec, "given-too-recently",
                               {"last_given": past, "days_since": gap, "day": day, "earliest": past + timedelta(days=spec.min_interval_days)},
                               {"last_given": past.isoformat(), "days_since": gap})
                return
    if spec.check_other_drafts:
        yield from _other_drafts(ctx, order, drug, spec, day)
    if spec.check_other_orders:
        for other in all_medications(ctx):
            if other.ref == order.ref or not other.has(drug) or other.status not in ("active", "draft", "on-hold", None):
                continue
            other_day = other.timing.bounds_start if other.timing and other.timing.bounds_start else other.authored_on
            if other_day is None:
                yield _verdict(ctx, order, drug, spec, "other-order-undated", {"other": other.display, "other_status": other.status},
                               {"other_order": other.ref}, "warning")
                return
            gap = abs((day - other_day).days)
            if gap < spec.min_interval_days:
                yield _verdict(ctx, order, drug, spec, "other-order-close",
                               {"other": other.display, "other_status": other.status, "other_day": other_day, "days_apart": gap, "day": day},
                               {"other_order": other.ref, "days_apart": gap})
                return


def _other_drafts(ctx: PatientContext, order: MedicationOrder, drug: str, spec: ScheduleRule, day: date) -> Iterator[Verdict]:
    """Two drafts of the drug closer than the minimum interval: one card for the pair (on the later target)."""
    assert spec.min_interval_days is not None
    targets = [o.ref for o in ctx.targets]
    for other in ctx.draft_orders:
        if other.ref == order.ref or not other.has(drug):
            continue
        if other.ref in targets and targets.index(other.ref) < targets.index(order.ref):
            continue  # the pair was reported on the earlier target
        other_day = order_day(other, ctx)
        gap = abs((day - other_day).days)
        if gap < spec.min_interval_days:
            both = (order.ref,) + ((other.ref,) if other.ref in targets else ())  # order-select: only the selections
            yield _verdict(ctx, order, drug, spec, "drafts-together",
                           {"other": other.display, "other_day": other_day, "days_apart": gap, "day": day},
                           {"other_order": other.ref, "days_apart": gap}, orders=tuple(dict.fromkeys(both)))
            return


def _planned_days(order: MedicationOrder) -> int | None:
    t = order.timing
    if t is None:
        return None
    if t.count:
        return t.count
    if t.duration and t.duration_unit == "d":
        return int(t.duration)
    if t.bounds_start and t.bounds_end:
        return (t.bounds_end - t.bounds_start).days + 1
    return None


def _consecutive(ctx: PatientContext, order: MedicationOrder, drug: str, spec: ScheduleRule) -> Iterator[Verdict]:
    assert spec.max_days is not None
    day = order_day(order, ctx)
    prior, expect = 0, day - timedelta(days=1)
    for past in _past_days(ctx, drug, day - timedelta(days=1)):
        if past != expect:
            break
        prior, expect = prior + 1, expect - timedelta(days=1)
    planned = _planned_days(order)
    total = prior + (planned or 1)
    if total > spec.max_days:
        data = {"prior_consecutive_days": prior, "planned_days": planned, "total_days": total, "max_days": spec.max_days}
        yield _verdict(ctx, order, drug, spec, "too-many-days", {**data, "counted_planned": planned or 1, "day": day}, data)


def _dose_per_m2(ctx: PatientContext, order: MedicationOrder) -> float | None:
    q = order.dose.amount if order.dose else None
    if q is None or q.comparator or not q.unit:
        return None
    try:
        return convert(q.value, q.unit, "mg/m2")
    except UnitError:
        pass
    try:
        return convert(q.value, q.unit, "mg") / ctx.bsa.value if ctx.bsa else None
    except UnitError:
        return None


def _adult_alternate(ctx: PatientContext, order: MedicationOrder, drug: str, spec: ScheduleRule) -> Iterator[Verdict]:
    assert spec.min_interval_days is not None and spec.pediatric_dose_per_m2 is not None
    per_m2 = _dose_per_m2(ctx, order)
    adult_age = ctx.age is not None and spec.adult_age_min_exclusive is not None and ctx.age.years > spec.adult_age_min_exclusive
    # An adult-sized dose means the adult regimen only from the adult trial ages (16 y); in a younger
    # child it is an overdose, which the dose rule reports (one card per problem).
    midpoint = (spec.pediatric_dose_per_m2 + (spec.adult_dose_per_m2 or spec.pediatric_dose_per_m2)) / 2
    old_enough = ctx.age is None or spec.adult_regimen_min_age is None or ctx.age.years >= spec.adult_regimen_min_age
    adult_dose = per_m2 is not None and per_m2 > midpoint and old_enough
    if not (adult_age or adult_dose):
        return
    interval = interval_days(order.timing)
    day = order_day(order, ctx)
    past = _past_days(ctx, drug, day - timedelta(days=1))
    data: dict[str, Any] = {"dose_mg_per_m2": round(per_m2, 1) if per_m2 else None, "age_years": ctx.age.years if ctx.age else None}
    facts = {**data, "adult_age": adult_age, "adult_age_min_exclusive": spec.adult_age_min_exclusive,
             "adult_dose_per_m2": spec.adult_dose_per_m2}
    if interval is not None and interval < spec.min_interval_days:
        yield _verdict(ctx, order, drug, spec, "adult-too-frequent", {**facts, "interval_days": interval}, {**data, "interval_days": interval})
    elif past and (day - past[0]).days < spec.min_interval_days:
        yield _verdict(ctx, order, drug, spec, "adult-given-too-recently", {**facts, "last_given": past[0], "day": day,
                                                                           "earliest": past[0] + timedelta(days=spec.min_interval_days)},
                       {**data, "last_given": past[0].isoformat()})


def _order_facts(order: MedicationOrder) -> dict[str, Any]:
    """The dose and route as read, so the card shows what was judged (a derived dose, an implied route)."""
    amount = order.dose.amount if order.dose else None
    route = order.route
    return {
        "display": order.display,
        "dose": None if amount is None else (amount.derivation or Amount(amount.value, amount.unit)),
        "route": route.kind if route else None,
        "route_implied_by": route.implied_by if route else None,
    }


def _verdict(ctx: PatientContext, order: MedicationOrder, drug: str, spec: ScheduleRule, message: str, facts: dict[str, Any],
             data: dict[str, Any], indicator: str | None = None, orders: tuple[str, ...] | None = None) -> Verdict:
    """One schedule finding: `facts` for the template, `data` the inputs the card carries (goldens pin them)."""
    action = ActionSpec("delete", f"Remove this {drug} order and re-order {spec.expected}", resource_id=order.ref)
    return Verdict(
        row=spec, topic="schedule", indicator=indicator or spec.indicator, message=message, drug=drug,
        orders=orders or (order.ref,), patient=True,
        facts={**_order_facts(order), "expected": spec.expected, "label": spec.message, "phase": ctx.phase,
               "min_interval_days": spec.min_interval_days, **facts},
        inputs={"rule_row": spec.id, "phase": ctx.phase, **data},
        suggestions=(SuggestionSpec(label=f"Re-order {drug} {spec.expected}", actions=(action,)),),
    )
