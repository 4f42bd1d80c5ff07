"""Special-population checks (knowledge/data/populations.json, SP-01..SP-30).

Each row `kind` has one evaluator (a typed row class of knowledge/populations.py -> a function
here; a kind without one stops the import). Boundaries are applied exactly as the row states them
(`knowledge.bands.Bound`: min/max with explicit inclusivity; ages in completed years/months or
total days). A lab a row needs that is missing or older than the row's window never passes
silently: it becomes one `missing-data.population-labs` finding per order naming every such lab.
Dose-reduction bands carry an `update` suggestion with the reduced MedicationRequest; a dose
already at or below the reduced reference dose (within the dose tolerance) gives an info card
instead of a warning. Rules yield Verdicts; wording is in cards/templates/population.md.j2.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..context.model import LabResult, MedicationOrder, PatientContext
from ..errors import KnowledgeError
from ..knowledge import Knowledge
from ..knowledge.populations import (ROW_TYPES, AgeRow, DownSyndromeRow, FactRow, HbvRow, InfantRow, LabBand, LabRow, LvefRow,
                                     NeurotoxicityRow, PopulationRow, ReproductiveRow, population_knowledge)
from ._order_doses import is_high_dose_methotrexate, normalize, scaled_resource
from ._percall import all_medications, given_with
from ._status import Status, status_evidence
from ._stratify import in_scope
from .finding import ActionSpec, SuggestionSpec
from .registry import RuleSettings, rule
from .verdict import Amount, RowRef, Verdict

Row = PopulationRow
DOSE_OVERRIDES = ("already-reduced", "lab-not-current", "protocol-specified", "other")  # cards/overrides.py codes
Missing = Callable[[MedicationOrder, str, str, dict[str, Any]], None]


def _enabled(row: Row, settings: RuleSettings) -> bool:
    rid = f"population.{row.id}"
    if rid in settings.disabled_rules:
        return False
    return settings.soft_rule_enabled(rid, default=row.default_enabled)


def _targets(ctx: PatientContext, row: Row) -> Iterator[tuple[MedicationOrder, str]]:
    for order in ctx.targets:
        for drug in order.drug_ids:
            if drug in row.drugs:
                yield order, drug
                break


def _verdict(row: Row, order: MedicationOrder, drug: str, severity: str, message: str, facts: dict[str, Any], inputs: dict[str, Any],
             suggestions: tuple[SuggestionSpec, ...] = (), override: tuple[str, ...] = (), suffix: str = "") -> Verdict:
    """One population verdict; the engine caps an UNVERIFIED row at warning and adds the soft-rule note."""
    return Verdict(row=row, topic="population", indicator=severity, message=message, drug=drug,
                   orders=(order.ref,) if order.is_draft else (), facts={"row_message": row.message, **facts}, inputs=inputs,
                   rule_id=f"population.{row.id}{suffix}", suggestions=suggestions, override=override)


def _fact_source(ctx: PatientContext, keys: list[str]) -> tuple[str, str, dict[str, Any]] | None:
    for key in keys:
        for f in ctx.facts.get(key) or ():
            return key, f"{f.source} ({f.code}{', onset ' + str(f.onset) if f.onset else ''})", _record(f.source, f.code, f.onset)
    return None


def _record(source: str, code: str, day: Any, text: str | None = None) -> dict[str, Any]:
    """What the card says about where a fact was recorded (never the resource id)."""
    return {"record": source.split("/")[0], "code": code.split("|")[-1] if code else "", "day": day, "text": text}


# -- kind: fact -----------------------------------------------------------------------------
def _eval_fact(ctx: PatientContext, row: FactRow, settings: RuleSettings, kb: Knowledge) -> Iterator[Verdict]:
    keys = list(row.facts)
    is_status = len(keys) == 1 and keys[0] in population_knowledge(kb).status_currency  # pregnant, lactating
    status = status_evidence(ctx, kb, keys[0]) if is_status else None
    if status is not None and status.state == "stale":
        yield from _stale_status(ctx, row, keys[0], status)
        return
    hit = (keys[0], status.source, _record(status.record, status.code, status.day, status.text)) if status else (
        None if is_status else _fact_source(ctx, keys))
    if not hit or (row.proxy_for and ctx.has_fact(row.proxy_for)):
        return  # a proxy row (retention for obstruction) is silent when the real fact is recorded
    escalate = row.escalate_without_all_diagnosis
    no_all = escalate is not None and not in_scope("ALL", ctx, kb)
    for order, drug in _targets(ctx, row):
        severity = row.severity
        prior = _prior_therapy(ctx, row.critical_with_prior_therapy)
        if prior:
            severity = "critical"
        escalated = no_all and escalate is not None and drug in escalate.drugs
        if escalated:
            severity = escalate.severity
        facts = {"fact": hit[0], "recorded": hit[2], "note": row.drug_notes.get(drug), "prior_checked": bool(row.critical_with_prior_therapy),
                 "prior": prior, "escalation": escalate.message if escalated and escalate else None}
        yield _verdict(row, order, drug, severity, "condition", facts,
                       {"fact": hit[0], "source": hit[1], "all_diagnosis": not no_all if escalate else None})


def _prior_therapy(ctx: PatientContext, drugs: tuple[str, ...]) -> dict[str, Any] | None:
    """A past administration or a non-draft medication of one of `drugs`; else None."""
    if not drugs:
        return None
    wanted = set(drugs)
    for a in given_with(ctx, wanted):
        if a.date <= ctx.order_date and a.status not in ("entered-in-error", "not-done"):
            return {"drugs": list(a.drug_ids), "day": a.date, "what": "administration"}
    for m in ctx.active_medications:
        if wanted.intersection(m.drug_ids):
            return {"drugs": list(m.drug_ids), "day": None, "what": m.display}
    return None


def _stale_status(ctx: PatientContext, row: Row, key: str, status: Status) -> Iterator[Verdict]:
    """An old positive status and nothing later: ask to confirm (never silent, never a hard stop)."""
    for order, drug in _targets(ctx, row):
        yield _verdict(row, order, drug, "warning", "status-not-current",
                       {"fact": key, "day": status.day, "text": status.text, "current_days": status.current_days},
                       {"fact": key, "source": status.source, "current": False}, suffix=".status-not-current")


# -- kind: lab ------------------------------------------------------------------------------
def _fresh_lab(ctx: PatientContext, keys: tuple[str, ...], window: int) -> tuple[LabResult | None, str, list[dict[str, Any]]]:
    """The first usable lab of `keys` within `window` days; else why not (audit text, and facts)."""
    why, gaps = [], []
    for key in keys:
        lab = ctx.lab(key)
        if lab is None or lab.value is None:
            why.append(f"{key}: none recorded")
            gaps.append({"lab": key, "problem": "none", "window": window})
        elif (ctx.order_date - lab.date).days > window:
            why.append(f"{key}: last {lab.date} is older than {window} days")
            gaps.append({"lab": key, "problem": "old", "day": lab.date, "window": window})
        else:
            return lab, "", []
    return None, "; ".join(why), gaps


def _eval_lab(ctx: PatientContext, row: LabRow, settings: RuleSettings, missing: Missing) -> Iterator[Verdict]:
    for order, drug in _targets(ctx, row):
        lab, why, gaps = _fresh_lab(ctx, row.labs, row.window_days)
        if lab is None:
            bound = row.upper_bound_from
            if bound:  # e.g. direct bilirubin <= total bilirubin: a low total rules out the band
                total, _, _ = _fresh_lab(ctx, (bound,), row.window_days)
                lowest = min(b.range.min for b in row.bands if b.range.min is not None)
                if total is not None and total.unit == row.unit and total.value is not None and total.value <= lowest:
                    continue
            missing(order, "/".join(row.labs), f"{row.id} ({drug}): {why}", {"labs": list(row.labs), "gaps": gaps})
            continue
        if row.scale == "uln":
            if lab.times_uln is None:
                missing(order, lab.key, f"{row.id} ({drug}): {lab.source} has no reference upper limit (ULN)",
                        {"labs": [lab.key], "gaps": [{"lab": lab.key, "problem": "no-uln", "day": lab.date}]})
                continue
            value = lab.times_uln
        else:
            if lab.unit != row.unit and not (lab.key == "egfr" and row.unit == "mL/min"):
                missing(order, lab.key, f"{row.id} ({drug}): {lab.source} unit {lab.unit!r}, expected {row.unit!r}",
                        {"labs": [lab.key], "gaps": [{"lab": lab.key, "problem": "unit", "day": lab.date, "unit": lab.unit, "expected": row.unit}]})
                continue
            value = lab.value
        band = row.band_for(value)
        if band is None:
            continue
        yield _band_verdict(ctx, row, band, order, drug, lab, settings)


def _band_verdict(ctx: PatientContext, row: LabRow, band: LabBand, order: MedicationOrder, drug: str, lab: LabResult,
                  settings: RuleSettings) -> Verdict:
    inputs: dict[str, Any] = {"lab": lab.key, "value": lab.value, "unit": lab.unit, "uln": lab.reference_high, "date": str(lab.date), "band": band.id}
    facts: dict[str, Any] = {"lab": "/".join(row.labs) if len(row.labs) > 1 else lab.key, "measured": lab.key, "value": Amount(lab.value, lab.unit), "day": lab.date, "scale": row.scale,
                             "uln": Amount(lab.reference_high, lab.unit) if lab.reference_high is not None else None,
                             "times_uln": lab.times_uln, "action": band.action, "band": band.range, "checks": [], "reduced": None}
    severity, suggestions = band.severity, ()
    factor, cap = band.dose_factor, band.max_dose
    if factor is not None or cap is not None:
        refs = row.references_at(ctx.age.years if ctx.age else None)
        n = normalize(order, ctx, tuple(r.unit for r in refs)) if refs else "no reference dose in the knowledge row"
        reduced = None
        tol = 1 + settings.dose_tolerance_pct / 100
        if cap is not None:
            m = normalize(order, ctx, ("mg",))
            if isinstance(m, str):
                facts["checks"].append({"kind": "cap-unknown", "limit": Amount(cap.value, "mg/d"), "why": m})
            else:
                facts["checks"].append({"kind": "cap", "ordered": Amount(m.value, "mg"), "how": m.how, "limit": Amount(cap.value, "mg/d")})
                reduced = m.value <= cap.value * tol
        if factor is not None and not isinstance(n, str):
            ref = next(r for r in refs if r.unit == n.unit)
            limit = ref.value * factor
            facts["checks"].append({"kind": "factor", "ordered": Amount(n.value, n.unit), "how": n.how, "factor": factor * 100,
                                    "reference": Amount(ref.value, ref.unit), "limit": Amount(limit, n.unit)})
            reduced = (reduced if reduced is not None else True) and n.value <= limit * tol
            inputs["reference_dose"] = ref.as_json()
        elif factor is not None:
            facts["checks"].append({"kind": "factor-unknown", "why": n})
            reduced = False
        inputs["dose_already_reduced"] = reduced
        facts["reduced"] = reduced
        if reduced:
            severity = "info"
        else:
            resource = scaled_resource(order, factor, cap.value if cap is not None else None)
            if resource is not None:
                label = f"Reduce {drug} to {factor:.0%} of the ordered dose" if factor else f"Cap {drug} at {cap.value:g} mg"
                suggestions = (SuggestionSpec(label, (ActionSpec("update", label, resource, order.ref),), True),)
    return _verdict(row, order, drug, severity, "lab-band", facts, inputs, suggestions, DOSE_OVERRIDES, suffix=f".{band.id}")


# -- kinds: age, infant, reproductive, lvef, down-syndrome, hbv, neurotoxicity ----------------
def _age_value(ctx: PatientContext, unit: str) -> int:
    assert ctx.age is not None
    return {"years": ctx.age.years, "months": ctx.age.months, "days": ctx.age.days}[unit]


def _age_facts(ctx: PatientContext) -> dict[str, Any]:
    assert ctx.age is not None
    return {"age": str(ctx.age), "at": ctx.age.at, "uncertain": ctx.age.uncertain}


def _eval_age(ctx: PatientContext, row: AgeRow, settings: RuleSettings, missing: Missing) -> Iterator[Verdict]:
    for order, drug in _targets(ctx, row):
        if ctx.age is None:
            missing(order, "age", f"{row.id} ({drug}): no birth date, label age limits not checked", {"labs": ["age"], "gaps": [{"lab": "age", "problem": "age"}]})
            continue
        out = []
        if row.below is not None and _age_value(ctx, row.below.unit) < row.below.value:
            out.append({"side": "below", "value": _age_value(ctx, row.below.unit), "unit": row.below.unit, "limit": row.below.value})
        if row.above is not None and _age_value(ctx, row.above.unit) > row.above.value:
            out.append({"side": "above", "value": _age_value(ctx, row.above.unit), "unit": row.above.unit, "limit": row.above.value})
        if out:
            yield _verdict(row, order, drug, row.severity, "age-limit", {**_age_facts(ctx), "outside": out[0]},
                           {"age_years": ctx.age.years, "age_months": ctx.age.months, "age_days": ctx.age.days, "at": str(ctx.age.at)})


def _eval_infant(ctx: PatientContext, row: InfantRow, settings: RuleSettings, missing: Missing) -> Iterator[Verdict]:
    if ctx.age is None or _age_value(ctx, row.below.unit) >= row.below.value:
        return
    for order, drug in _targets(ctx, row):
        yield _verdict(row, order, drug, row.severity, "infant", {**_age_facts(ctx), "days": ctx.age.days, "below": row.below.value},
                       {"age_days": ctx.age.days})


def _eval_reproductive(ctx: PatientContext, row: ReproductiveRow, settings: RuleSettings, missing: Missing, kb: Knowledge) -> Iterator[Verdict]:
    if ctx.age is None or not row.ages.contains(ctx.age.years):
        return
    if row.sex != "any" and ctx.sex != row.sex:
        return
    if status_evidence(ctx, kb, "pregnant"):
        return  # SP-01/SP-02 speak for a pregnant patient (or ask to confirm an old positive status)
    for order, drug in _targets(ctx, row):
        yield _verdict(row, order, drug, row.severity, "reproductive", {"sex": ctx.sex, "age_years": ctx.age.years},
                       {"sex": ctx.sex, "age_years": ctx.age.years})


def _eval_lvef(ctx: PatientContext, row: LvefRow, settings: RuleSettings, missing: Missing) -> Iterator[Verdict]:
    if ctx.age is None or not (ctx.age.years < row.below_age_years or ctx.age.years >= row.min_age_years):
        return
    lab, why, gaps = _fresh_lab(ctx, row.labs, row.window_days)
    if lab is not None:
        return
    for order, drug in _targets(ctx, row):
        yield _verdict(row, order, drug, row.severity, "lvef-missing", {"age_years": ctx.age.years, "window_days": row.window_days, "gaps": gaps},
                       {"age_years": ctx.age.years, "lvef": why})


def _eval_down(ctx: PatientContext, row: DownSyndromeRow, settings: RuleSettings, missing: Missing) -> Iterator[Verdict]:
    hit = _fact_source(ctx, list(row.facts))
    if not hit:
        return
    for order, drug in _targets(ctx, row):
        severity, extra, hd, how = row.severity, "", False, ""
        if drug == "methotrexate":
            hd, how = is_high_dose_methotrexate(order, ctx)
            if hd or hd is None:
                severity = row.high_dose_methotrexate_severity
                extra = f"high-dose methotrexate: {how}" if hd else f"could not tell whether high-dose ({how})"
        yield _verdict(row, order, drug, severity, "down-syndrome", {"recorded": hit[2], "high_dose": hd if extra else False, "how": how},
                       {"fact": hit[0], "high_dose_methotrexate": extra or None})


def _eval_hbv(ctx: PatientContext, row: HbvRow, settings: RuleSettings, missing: Missing) -> Iterator[Verdict]:
    for order, drug in _targets(ctx, row):
        labs = {k: ctx.lab(k) for k in row.labs}
        absent = [k for k, v in labs.items() if v is None or not v.code_value]
        positive = [{"lab": k, "day": v.date} for k, v in labs.items() if v is not None and v.code_value == "positive"]
        if not positive and not absent:
            continue
        yield _verdict(row, order, drug, row.severity, "hbv", {"positive": positive, "absent": absent},
                       {k: (v.code_value if v else None) for k, v in labs.items()})


def _eval_neuro(ctx: PatientContext, row: NeurotoxicityRow, settings: RuleSettings, missing: Missing) -> Iterator[Verdict]:
    evidence = [f"{a.ref} intrathecal on {a.date}" for a in ctx.administrations if a.route and a.route.kind == "intrathecal"]
    shown: list[dict[str, Any]] = [{"what": "intrathecal administration", "day": a.date, "drugs": list(a.drug_ids)}
                                   for a in ctx.administrations if a.route and a.route.kind == "intrathecal"]
    its = [m for m in all_medications(ctx) if m.route and m.route.kind == "intrathecal"]
    evidence += [f"{m.ref} intrathecal ({m.display})" for m in its]
    shown += [{"what": "intrathecal order", "day": None, "drugs": [m.display]} for m in its]
    fact = _fact_source(ctx, list(row.facts))
    if fact:
        evidence.append(f"{fact[0]}: {fact[1]}")
        shown.append({"what": fact[0], "day": fact[2]["day"], "drugs": []})
    if not evidence:
        return
    for order, drug in _targets(ctx, row):
        yield _verdict(row, order, drug, row.severity, "neurotoxicity", {"evidence": shown[:5]}, {"evidence": evidence[:5]})


# One evaluator per typed row class of the "population" family. A kind without one stops the
# import (and so start-up) rather than being skipped; knowledge/populations.py does the same at load.
_EVALUATORS: dict[type, Callable[..., Iterator[Verdict]]] = {
    FactRow: lambda ctx, row, settings, missing, kb: _eval_fact(ctx, row, settings, kb),
    ReproductiveRow: _eval_reproductive,
    AgeRow: lambda ctx, row, settings, missing, kb: _eval_age(ctx, row, settings, missing),
    InfantRow: lambda ctx, row, settings, missing, kb: _eval_infant(ctx, row, settings, missing),
    LvefRow: lambda ctx, row, settings, missing, kb: _eval_lvef(ctx, row, settings, missing),
    DownSyndromeRow: lambda ctx, row, settings, missing, kb: _eval_down(ctx, row, settings, missing),
    HbvRow: lambda ctx, row, settings, missing, kb: _eval_hbv(ctx, row, settings, missing),
    NeurotoxicityRow: lambda ctx, row, settings, missing, kb: _eval_neuro(ctx, row, settings, missing),
    LabRow: lambda ctx, row, settings, missing, kb: _eval_lab(ctx, row, settings, missing),
}


def unevaluated_kinds() -> list[str]:
    """Kinds of the population family with no evaluator here (must be empty; checked at import)."""
    return sorted(kind for kind, (cls, _) in ROW_TYPES.items() if cls.family == "population" and cls not in _EVALUATORS)


if unevaluated_kinds():  # pragma: no cover - a programming error caught by the first import
    raise KnowledgeError(f"populations: no evaluator for kind(s) {unevaluated_kinds()} (rules/populations.py _EVALUATORS)")

_MISSING_ROW = RowRef("missing-data.population-labs", "populations.json (the SP rows listed in inputs.reasons); clinical-rules.md §4")


@rule("population")
def special_populations(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """Every SP row whose drugs are among the target orders; missing labs aggregated per order."""
    if not ctx.targets or "populations" not in kb.tables:
        return
    gaps: dict[str, list[str]] = {}
    items: dict[str, set[str]] = {}
    shown: dict[str, list[dict[str, Any]]] = {}
    orders = {o.ref: o for o in ctx.targets}

    def missing(order: MedicationOrder, item: str, why: str, what: dict[str, Any]) -> None:
        gaps.setdefault(order.ref, []).append(why)
        items.setdefault(order.ref, set()).add(item)
        shown.setdefault(order.ref, []).extend(what["gaps"])

    ordered = [d for o in ctx.targets for d in o.drug_ids]  # every evaluator speaks only of these (`_targets`)
    all_dx: bool | None = None  # in_scope("ALL", ctx, kb): the same answer for every row of the call, asked once
    for row in population_knowledge(kb).population_rows_for(ordered):  # file order, population family only
        if not _enabled(row, settings):
            continue
        if row.scope == "ALL":  # in_scope(row.scope, ctx, kb), which is True for any other scope
            if all_dx is None:
                all_dx = in_scope("ALL", ctx, kb)
            if not all_dx:
                continue
        yield from _EVALUATORS[type(row)](ctx, row, settings, missing, kb)
    for ref, reasons in gaps.items():
        order = orders[ref]
        drug = order.drug_ids[0] if order.drug_ids else None
        yield Verdict(row=_MISSING_ROW, topic="missing-data", indicator="warning", message="population-labs", drug=drug,
                      orders=(ref,) if order.is_draft else (), inputs={"missing": sorted(items[ref]), "reasons": reasons},
                      facts={"what": drug or order.display, "labs": sorted(items[ref]), "gaps": list({repr(g): g for g in shown[ref]}.values())})
