"""Doses against the patient's treatment plan: regimen template x course/phase x day (`plan.*`).

Why: the label range of a drug knows nothing of the regimen; the template does. For every order
under review whose drug belongs to the regimen (or has label dose rows), on the order's day of the
current course (`ctx.plan`, read from the CarePlan):

- `plan.dose.<item>`: the template's dose for this patient today (per m2 x BSA / per kg x weight /
  fixed, capped, rounded as the template says) vs the ordered amount; within the template's
  tolerance -> no card; beyond -> warning; more than its critical % above -> critical (verified
  rows only).
- `plan.other-phase.<item>`: the ordered dose is the dose of another phase of the same
  regimen ("matches the course B dose") - the wrong-phase error, named as such.
- `plan.not-in-plan.<regimen>.<phase>`: the drug is not in today's plan.
- `plan.already-given.<item>`: a MedicationAdministration of this dose on this day already
  covers the day's doses.
- `missing-data.plan`: the CarePlan names a regimen but course/day cannot be read (the card says
  which field would let us check); the label rules run as before.

Label and plan never contradict: where a verified plan row judged the order's dose, the label
*range* card (`dose` topic from rules/dose.py) is dropped by `suppress_label_ranges` (an engine
post-step); label *limits* (`dose-limit`, per-dose caps) always stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Iterator

from ..context.model import MedicationOrder, PatientContext, TreatmentPlan
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.dosing import dosing_view, per_unit
from ..knowledge.regimen_templates import Phase, PlanItem, RegimenTemplate, days_text, template_library
from ._dose_common import OVERRIDE_REASONS, clip_summary, deviation_pct, fmt, missing_data_finding, missing_items_text, order_day, patient_inputs, patient_lines, patient_values, size_for, unit_text
from .corrections import corrected_dose_request
from .finding import ActionSpec, Finding, SuggestionSpec
from .registry import RuleSettings, post_step, rule
from .verdict import Amount, RowRef
from .verdict import Verdict as RuleVerdict

_SIZE_ITEM = {"m2": "bsa", "kg": "weight"}
_CAREPLAN_PREFIX = re.compile(r"^CarePlan/[^\s:]+:\s*")  # context/plan.py problems start with the CarePlan read
_BAND_ITEM = {"age_years": "age", "weight_kg": "weight", "bsa_m2": "bsa"}
PLAN_CITATION = "Regimen templates (knowledge/data/regimens, CDSHOOKS_REGIMEN_DIR) read against the active CarePlan"


class _Missing(Exception):
    """A patient value the comparison needs is missing (items in args[0]) or the dose is unreadable (args[1])."""


@dataclass(frozen=True)
class Verdict:
    order: str
    drug: str
    kind: str  # "match" | "deviation" | "already-given" | "other-phase" | "not-in-plan" | "unchecked"
    item: PlanItem | None = None
    finding: Finding | RuleVerdict | None = None


@dataclass(frozen=True)
class _Fit:
    item: PlanItem
    low: float  # absolute, capped and rounded
    high: float
    ordered: float

    @property
    def pct(self) -> float:
        return deviation_pct(self.ordered, self.low, self.high)

    @property
    def expected_text(self) -> str:
        unit = unit_text(self.item.dose.amount_unit)
        return f"{fmt(self.low)} {unit}" if self.low == self.high else f"{fmt(self.low)}–{fmt(self.high)} {unit}"


def _round(value: float, increment: float) -> float:
    return round(round(value / increment) * increment, 6)


def _ordered(ctx: PatientContext, order: MedicationOrder, amount_unit: str) -> float:
    q = order.dose.amount if order.dose else None
    if q is None or q.comparator or not q.unit:
        why = "no structured dose" if q is None else (f"the dose has a comparator ('{q.comparator}')" if q.comparator else "the dose has no UCUM unit")
        raise _Missing((), why)
    for basis in ("fixed", "m2", "kg"):
        try:
            value = convert(q.value, q.unit, per_unit(amount_unit, basis))
        except UnitError:
            continue
        size = size_for(ctx, basis)
        if size is None:
            raise _Missing((_SIZE_ITEM[basis],), None)
        return value * size
    raise _Missing((), f"the dose unit '{q.unit}' does not convert to {unit_text(amount_unit)}")


def _fit(ctx: PatientContext, item: PlanItem, ordered: float) -> _Fit:
    size = size_for(ctx, item.dose.basis)
    if size is None:
        raise _Missing((_SIZE_ITEM[item.dose.basis],), None)
    low, high = item.dose.low * size, item.dose.high * size
    if item.cap is not None:
        low, high = min(low, item.cap), min(high, item.cap)
    return _Fit(item, _round(low, item.rounding), _round(high, item.rounding), ordered)


def _applies(ctx: PatientContext, item: PlanItem, route: str) -> bool:
    if route not in item.routes:
        return False
    matched = item.bands.match(patient_values(ctx))
    if matched is None:
        raise _Missing(tuple(_BAND_ITEM[v] for v in item.bands.variables()), None)
    return matched


def _label(phase: Phase) -> str:
    return phase.name.split(" (")[0]


def _plan_lines(plan: TreatmentPlan, template: RegimenTemplate, phase: Phase, day: int) -> list[str]:
    course = f", course {plan.course}" if plan.course else ""
    cycle = f" (cycle day {phase.cycle_day(day)})" if phase.repeat_days else ""
    today = [f"{i.drug} {i.dose.text} {'/'.join(i.routes)}" for i in phase.items if phase.cycle_day(day) in i.days]
    return [
        f"- Plan: {template.title} – `{template.id}` ({plan.source}, named by {plan.named_by})",
        f"- Phase: {phase.name}{course}; day {day}{cycle} (day 1 = {plan.course_start.isoformat() if plan.course_start else '?'}, from {plan.start_from})",
        f"- Planned that day: {'; '.join(today) or 'nothing'}",
    ]


def _plan_facts(plan: TreatmentPlan, template: RegimenTemplate, phase: Phase, day: int) -> dict:
    """What the plan says for the order's day, for a template (the facts behind `_plan_lines`)."""
    return {
        "title": template.title, "named_by": plan.named_by, "phase": phase.name, "course": plan.course, "day": day,
        "cycle_day": phase.cycle_day(day) if phase.repeat_days else None, "course_start": plan.course_start, "start_from": plan.start_from,
        "planned": [{"drug": i.drug, "dose": i.dose.text, "routes": list(i.routes)} for i in phase.items if phase.cycle_day(day) in i.days],
    }


def _given_facts(plan: TreatmentPlan, drug: str) -> list[dict]:
    return [{"date": a.date, "dose": Amount(a.dose.value, a.dose.unit) if a.dose else None} for a in plan.given if drug in a.drug_ids]


def _finding(ctx, order, drug, rule_id, topic, indicator, summary, lines, fit: _Fit | None, template, extra_inputs, suggest=False) -> Finding:
    item = fit.item if fit else None
    citation = f"{item.citation}; {template.citation}" if item else template.citation
    detail = [f"**{drug} vs treatment plan** – {order.display} ({order.ref})", "", *lines, "", f"Patient on {ctx.order_date.isoformat()}:", *patient_lines(ctx)]
    if item and not item.verified:
        detail.append("- This template row is UNVERIFIED (soft rule): warning only.")
    detail += ["", f"Source: {citation}"]
    suggestions: tuple[SuggestionSpec, ...] = ()
    if suggest and fit and order.resource:
        target = min(max(fit.ordered, fit.low), fit.high)
        label = f"Change {drug} dose to {fmt(target)} {unit_text(fit.item.dose.amount_unit)} (plan)"
        action = ActionSpec("update", label, resource=corrected_dose_request(order.resource, target, fit.item.dose.amount_unit), resource_id=order.ref)
        suggestions = (SuggestionSpec(label=label, actions=(action,), is_recommended=True),)
    return Finding(
        rule_id=rule_id, topic=topic, indicator=indicator if (item is None or item.verified) else "warning",
        summary=clip_summary(summary), detail="\n".join(detail), citation=citation, orders=(order.ref,),
        inputs={**patient_inputs(ctx), **extra_inputs}, drug=drug, suggestions=suggestions, override_reasons=OVERRIDE_REASONS,
    )


def _fit_inputs(plan: TreatmentPlan, day: int, fit: _Fit, settings_tol: float) -> dict:
    return {
        "plan": {"regimen": plan.regimen, "phase": plan.phase, "course": plan.course, "day": day, "course_start": plan.course_start.isoformat() if plan.course_start else None, "source": plan.source},
        "template_row": fit.item.id,
        "expected": {"low": fit.low, "high": fit.high, "unit": fit.item.dose.amount_unit, "cap": fit.item.cap},
        "ordered": {"absolute": round(fit.ordered, 6), "unit": fit.item.dose.amount_unit},
        "deviation_pct": round(fit.pct, 2),
        "tolerance_pct": settings_tol,
    }


def _fit_line(fit: _Fit, ctx: PatientContext) -> str:
    d = fit.item.dose
    size = f" × {ctx.bsa.value:.2f} m²" if d.basis == "m2" and ctx.bsa else (f" × {fmt(ctx.weight.value)} kg" if d.basis == "kg" and ctx.weight else "")
    cap = f", capped at {fmt(fit.item.cap)} {unit_text(d.amount_unit)}" if fit.item.cap is not None else ""
    return f"- Template row `{fit.item.id}`: {d.text}{size}{cap}, rounded to {fmt(fit.item.rounding)} {unit_text(d.amount_unit)} = **{fit.expected_text}** ({fit.item.frequency or f'{fit.item.doses_per_day}/day'}; days {fit.item.days_text})"


def _other_phase(ctx, template: RegimenTemplate, drug: str, route: str, ordered: float, exclude: set[str], tol: float) -> _Fit | None:
    """A row of another phase (not in `exclude`) whose dose the order matches within tolerance."""
    for item in template.items():
        if item.drug != drug or item.phase in exclude or route not in item.routes:
            continue
        try:
            if not item.bands.match(patient_values(ctx)):
                continue
            fit = _fit(ctx, item, ordered)
        except _Missing:
            continue
        if abs(fit.pct) <= tol:
            return fit
    return None


def _given_today(plan: TreatmentPlan, fit: _Fit, ctx: PatientContext, day_date: date, tol: float) -> list[str]:
    """Administrations on `day_date` of this row's drug, route and dose."""
    refs = []
    for a in plan.given:
        if a.date != day_date or fit.item.drug not in a.drug_ids or (a.route and a.route.kind and a.route.kind not in fit.item.routes) or a.dose is None:
            continue
        try:
            amount = convert(a.dose.value, a.dose.unit, fit.item.dose.amount_unit)
        except UnitError:
            continue
        if abs(_Fit(fit.item, fit.low, fit.high, amount).pct) <= tol:
            refs.append(a.ref)
    return refs


def _check(ctx: PatientContext, order: MedicationOrder, drug: str, plan: TreatmentPlan, template: RegimenTemplate, phase: Phase) -> Verdict:
    tol, crit = template.tolerance_pct, template.critical_pct
    day_date = order_day(order, ctx)
    day = (day_date - plan.course_start).days + 1  # type: ignore[operator]
    route = order.route.kind if order.route else None
    if route is None:
        return Verdict(order.ref, drug, "unchecked")  # the route rule reports an unreadable route
    if day < 1 or (phase.length_days and day > phase.length_days):
        why = (f"the order's day {day_date.isoformat()} is before the course start" if day < 1
               else f"day {day} is past the {phase.length_days} days of {_label(phase)}: record the next course's start")
        return Verdict(order.ref, drug, "unchecked", finding=missing_data_finding(
            ctx, order, drug, "missing-data.plan", "the plan dose", why + f" ({plan.start_from})", template.citation, _plan_lines(plan, template, phase, max(day, 1))))
    cday = phase.cycle_day(day)
    dlabel = f"cycle day {cday}" if phase.repeat_days else f"day {day}"
    today = [i for i in phase.items if i.drug == drug and cday in i.days]
    amount_unit = next((i.dose.amount_unit for i in template.items() if i.drug == drug), "mg")
    ordered: float | None = None
    try:
        today = [i for i in today if _applies(ctx, i, route)]
        if today or drug in template.drugs:
            try:
                ordered = _ordered(ctx, order, amount_unit)
            except _Missing:
                if today:
                    raise  # the dose check needs it; a not-in-plan card does not
        fits = [_fit(ctx, i, ordered) for i in today]  # type: ignore[arg-type]
    except _Missing as exc:
        items, why = exc.args
        phrase, lines, gaps = missing_items_text(ctx, items) if items else (why, [], {})
        return Verdict(order.ref, drug, "unchecked", finding=missing_data_finding(
            ctx, order, drug, "missing-data.plan-dose", "the plan dose", f"needs {phrase}" if items else why, template.citation, lines, {"missing": gaps}))
    lines = _plan_lines(plan, template, phase, day)
    given = [f"{a.date.isoformat()} {fmt(a.dose.value) + ' ' + unit_text(a.dose.unit) if a.dose else 'dose not recorded'} ({a.ref})" for a in plan.given if drug in a.drug_ids]
    lines.append(f"- {drug} given this course: {'; '.join(given) or 'none recorded (MedicationAdministration)'}")
    unit = unit_text(amount_unit)
    if fits:
        best = min(fits, key=lambda f: (abs(f.pct), not f.item.verified))
        inputs = _fit_inputs(plan, day, best, tol)
        fit_lines = [*lines, _fit_line(best, ctx), f"- Ordered: {fmt(ordered)} {unit}; deviation {best.pct:+.1f}% (template tolerance ±{tol:g}%, critical above +{crit:g}%)"]
        if abs(best.pct) <= tol:
            given = _given_today(plan, best, ctx, day_date, tol)
            if len(given) >= best.item.doses_per_day:
                summary = f"{drug}: the {_label(phase)} {dlabel} dose is already given ({len(given)} of {best.item.doses_per_day} on {day_date.isoformat()})"
                f = _finding(ctx, order, drug, f"plan.already-given.{best.item.id}", "schedule", "warning", summary,
                             [*fit_lines, f"- Already given on {day_date.isoformat()}: {', '.join(given)}"], best, template, {**inputs, "given": given})
                return Verdict(order.ref, drug, "already-given", best.item, f)
            return Verdict(order.ref, drug, "match", best.item)
        other = _other_phase(ctx, template, drug, route, ordered, {phase.id}, tol)
        if other is not None:
            return _other_verdict(ctx, order, drug, plan, template, phase, day, dlabel, other, fit_lines, inputs)
        n = best.item.doses_per_day
        if n > 1 and abs(deviation_pct(ordered, best.low * n, best.high * n)) <= tol:
            fit_lines.append(f"- {fmt(ordered)} {unit} is the day's total of {n} doses; the plan gives {best.expected_text} per dose ({best.item.frequency}).")
        direction = "above" if best.pct > 0 else "below"
        indicator = "critical" if best.pct > crit else "warning"
        summary = f"{drug} {fmt(ordered)} {unit} is {abs(best.pct):.0f}% {direction} the {_label(phase)} {dlabel} dose ({best.item.dose.text} = {best.expected_text})"
        f = _finding(ctx, order, drug, f"plan.dose.{best.item.id}", "dose", indicator, summary, fit_lines, best, template, inputs, suggest=True)
        return Verdict(order.ref, drug, "deviation", best.item, f)
    # the same phase's dose on another day is a wrong-day order; only then look at other phases
    other = None
    if ordered is not None and not _other_phase(ctx, template, drug, route, ordered, {p.id for p in template.phases} - {phase.id}, tol):
        other = _other_phase(ctx, template, drug, route, ordered, {phase.id}, tol)
    if other is not None:
        return _other_verdict(ctx, order, drug, plan, template, phase, day, dlabel, other, [*lines, f"- Ordered: {fmt(ordered)} {unit} ({route})"], {})
    planned = sorted({d for i in phase.items if i.drug == drug and route in i.routes for d in i.days})
    rule_id = f"plan.not-in-plan.{template.id}.{phase.id}"
    f = RuleVerdict(
        row=RowRef(rule_id, template.citation), topic="regimen", indicator="warning", message="not-in-plan", drug=drug, orders=(order.ref,),
        patient=True,
        facts={"plan": _plan_facts(plan, template, phase, day), "given": _given_facts(plan, drug), "route": route, "regimen": template.id,
               "phase_label": _label(phase), "day_label": dlabel, "scheduled_days": days_text(planned) if planned else None,
               "ordered": Amount(ordered, amount_unit) if ordered is not None else None, "dosage_text": order.dosage_text, "on": day_date,
               "display": order.display},
        inputs={"plan": {"regimen": template.id, "phase": phase.id, "course": plan.course, "day": day}, "scheduled_days": planned},
    )
    return Verdict(order.ref, drug, "not-in-plan", None, f)


def _other_verdict(ctx, order, drug, plan, template, phase, day, dlabel, other: _Fit, lines, inputs) -> Verdict:
    other_phase = template.phase(other.item.phase)
    name = _label(other_phase) if other_phase else other.item.phase
    what = f"the {name} dose (day {other.item.days_text})"
    summary = f"{drug} {fmt(other.ordered)} {unit_text(other.item.dose.amount_unit)} matches {what}, not {_label(phase)} {dlabel}"
    lines = [*lines, f"- The ordered dose matches another part of the regimen: {_fit_line(other, ctx)[2:]}"]
    f = _finding(ctx, order, drug, f"plan.other-phase.{other.item.id}", "dose", "warning", summary, lines, other, template,
                 {**inputs, **_fit_inputs(plan, day, other, template.tolerance_pct), "matches_row": other.item.id, "current_phase": phase.id})
    return Verdict(order.ref, drug, "other-phase", other.item, f)


def _judged(kb: Knowledge, template: RegimenTemplate | None) -> frozenset[str]:
    """Drugs the plan speaks for: the regimen's own (any template's when the regimen is unknown),
    plus every drug with label dose rows."""
    labelled = frozenset(r.drug for r in dosing_view(kb).dose_rules)
    if template is None:
        return labelled.union(*(t.drugs for t in template_library(kb).templates.values()))
    return template.drugs | labelled


def evaluate(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> list[Verdict]:
    """One verdict per (order under review, drug the plan speaks for); findings ride on them."""
    plan = ctx.plan
    if plan is None:
        return []
    lib = template_library(kb)
    template = lib.get(plan.regimen)
    judged = _judged(kb, template)
    orders = [(o, d) for o in ctx.targets for d in o.drug_ids if d in judged]
    if not orders:
        return []
    phase = template.phase(plan.phase) if template and plan.phase else None
    if not plan.usable or template is None or phase is None:
        refs = tuple(dict.fromkeys(o.ref for o, _ in orders))
        finding = RuleVerdict(
            row=RowRef("missing-data.plan", PLAN_CITATION), topic="missing-data", indicator="warning" if template else "info",
            message="plan-unreadable", orders=refs, facts={"problems": [_CAREPLAN_PREFIX.sub("", p) for p in plan.problems]},  # no resource ids in text
            inputs={"plan_problems": list(plan.problems), "careplan": plan.source},
        )
        return [Verdict(refs[0], orders[0][1], "unchecked", finding=finding)]
    return [_check(ctx, o, d, plan, template, phase) for o, d in orders]


@rule("dose")
def plan_doses(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding | RuleVerdict]:
    for verdict in evaluate(ctx, kb, settings):
        if verdict.finding is not None:
            yield verdict.finding


@post_step
def suppress_label_ranges(findings: list[Finding], ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> list[Finding]:
    """One finding, one card, and plan and label never contradict:

    - a label-range `dose` card goes where a verified plan row judged the same order and drug;
    - `plan.already-given` goes where a label `schedule` interval card already says the same.
    """
    if ctx.plan is None:
        return findings

    def label(f: Finding, topic: str) -> bool:
        return f.topic == topic and not f.rule_id.startswith("plan.") and len(f.orders) == 1

    judged = {(v.order, v.drug) for v in evaluate(ctx, kb, settings)
              if v.kind in ("match", "deviation", "already-given") and v.item is not None and v.item.verified}
    intervals = {(f.orders[0], f.drug) for f in findings if label(f, "schedule")}
    return [f for f in findings
            if not (label(f, "dose") and (f.orders[0], f.drug) in judged)
            and not (f.rule_id.startswith("plan.already-given.") and (f.orders[0], f.drug) in intervals)]
