"""Special-population checks (knowledge/data/populations.json, SP-01..SP-30).

Each row `kind` has one evaluator. Boundaries are applied exactly as the row states them
(min/max with explicit inclusivity; ages in completed years/months or total days). A lab a row
needs that is missing or older than the row's window never passes silently: it becomes one
`missing-data.population-labs` finding per order naming every such lab. Dose-reduction bands carry
an `update` suggestion with the reduced MedicationRequest; a dose already at or below the reduced
reference dose (within the dose tolerance) gives an info card instead of a warning.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..context.model import LabResult, MedicationOrder, PatientContext
from ..errors import KnowledgeError
from ..knowledge import Knowledge
from ..knowledge.populations import (AgeRow, DownSyndromeRow, FactRow, HbvRow, InfantRow, LabBand, LabRow, LvefRow,
                                      NeurotoxicityRow, PopulationRow, ReproductiveRow, ROW_TYPES,
                                      population_knowledge)
from ._order_doses import is_high_dose_methotrexate, normalize, scaled_resource
from ._status import Status, status_evidence
from ._stratify import in_scope
from .finding import ActionSpec, Coding, Finding, SuggestionSpec
from .registry import RuleSettings, rule

Row = PopulationRow
_SYS = "urn:all-cds:override-reason"
DOSE_OVERRIDES = (
    Coding(_SYS, "already-reduced", "Dose already reduced for this condition"),
    Coding(_SYS, "lab-not-current", "Lab value not current; newer result pending"),
    Coding(_SYS, "protocol-specified", "Dose specified by the treatment protocol"),
)
POPULATION_OVERRIDES = (
    Coding(_SYS, "benefit-outweighs-risk", "Benefit outweighs risk; discussed with patient/family"),
    Coding(_SYS, "condition-resolved", "Recorded condition is no longer present"),
)


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


def _cap(row: Row, severity: str) -> str:
    return "warning" if row.status == "unverified" and severity == "critical" else severity


def _finding(row: Row, order: MedicationOrder, drug: str, severity: str, summary: str, lines: list[str], inputs: dict[str, Any],
             suggestions: tuple[SuggestionSpec, ...] = (), overrides: tuple[Coding, ...] = POPULATION_OVERRIDES, suffix: str = "") -> Finding:
    soft = "\n\nSoft rule (UNVERIFIED source): switch off with `population.%s`." % row.id if row.status == "unverified" else ""
    detail = "\n".join(lines) + f"\n\nSource: {row.citation}{soft}"
    return Finding(
        rule_id=f"population.{row.id}{suffix}", topic="population", indicator=_cap(row, severity),
        summary=summary if len(summary) < 140 else summary[:136] + "...", detail=detail, citation=row.citation,
        orders=(order.ref,) if order.is_draft else (), inputs=inputs, drug=drug, suggestions=suggestions, override_reasons=overrides,
    )


def _fact_source(ctx: PatientContext, keys: list[str]) -> tuple[str, str] | None:
    for key in keys:
        for f in ctx.facts.get(key) or ():
            return key, f"{f.source} ({f.code}{', onset ' + str(f.onset) if f.onset else ''})"
    return None


# -- kind: fact -----------------------------------------------------------------------------
def _eval_fact(ctx: PatientContext, row: FactRow, settings: RuleSettings, kb: Knowledge) -> Iterator[Finding]:
    keys = list(row.facts)
    is_status = len(keys) == 1 and keys[0] in population_knowledge(kb).status_currency  # pregnant, lactating
    status = status_evidence(ctx, kb, keys[0]) if is_status else None
    if status is not None and status.state == "stale":
        yield from _stale_status(ctx, row, keys[0], status)
        return
    hit = (keys[0], status.source) if status else (None if is_status else _fact_source(ctx, keys))
    if not hit or (row.proxy_for and ctx.has_fact(row.proxy_for)):
        return  # a proxy row (retention for obstruction) is silent when the real fact is recorded
    escalate = row.escalate_without_all_diagnosis
    no_all = escalate is not None and not in_scope("ALL", ctx, kb)
    for order, drug in _targets(ctx, row):
        note = row.drug_notes.get(drug)
        msg = f"{row.message}{': ' + note if note else ''}"
        severity = row.severity
        prior = _prior_therapy(ctx, row.critical_with_prior_therapy)
        if prior:
            severity, msg = "critical", f"{msg}. Prior asparaginase therapy on record: {prior}"
        elif row.critical_with_prior_therapy:
            msg = f"{msg}. No prior asparaginase therapy on record: warning, not a hard stop"
        if no_all and escalate is not None and drug in escalate.drugs:
            severity, msg = escalate.severity, f"{escalate.message}; {msg}"
        yield _finding(row, order, drug, severity, f"{drug}: {hit[0]} - {msg}",
                       [f"**{drug}** ({order.ref}) with **{hit[0]}** recorded: {hit[1]}.", "", msg + "."],
                       {"fact": hit[0], "source": hit[1], "all_diagnosis": not no_all if escalate else None})


def _prior_therapy(ctx: PatientContext, drugs: tuple[str, ...]) -> str | None:
    """A past administration or a non-draft medication of one of `drugs`, described; else None."""
    if not drugs:
        return None
    wanted = set(drugs)
    for a in ctx.administrations:
        if wanted.intersection(a.drug_ids) and a.date <= ctx.order_date and a.status not in ("entered-in-error", "not-done"):
            return f"{a.ref} ({'/'.join(a.drug_ids)}, {a.date})"
    for m in ctx.active_medications:
        if wanted.intersection(m.drug_ids):
            return f"{m.ref} ({m.display})"
    return None


def _stale_status(ctx: PatientContext, row: Row, key: str, status: Status) -> Iterator[Finding]:
    """An old positive status and nothing later: ask to confirm (never silent, never a hard stop)."""
    for order, drug in _targets(ctx, row):
        summary = f"{drug}: last {key} status positive ({status.source.split(' on ')[-1].split(' ')[0]}), none current - confirm status"
        yield _finding(row, order, drug, "warning", summary,
                       [f"**{drug}** ({order.ref}): {status.source}; {status.note}.", "", f"Confirm the current {key} status before ordering. If {key}: {row.message}."],
                       {"fact": key, "source": status.source, "current": False}, suffix=".status-not-current")


# -- kind: lab ------------------------------------------------------------------------------
def _fresh_lab(ctx: PatientContext, keys: tuple[str, ...], window: int) -> tuple[LabResult | None, str]:
    why = []
    for key in keys:
        lab = ctx.lab(key)
        if lab is None or lab.value is None:
            why.append(f"{key}: none recorded")
        elif (ctx.order_date - lab.date).days > window:
            why.append(f"{key}: last {lab.date} is older than {window} days")
        else:
            return lab, ""
    return None, "; ".join(why)


def _eval_lab(ctx: PatientContext, row: LabRow, settings: RuleSettings, missing: Callable[[MedicationOrder, str, str], None]) -> Iterator[Finding]:
    for order, drug in _targets(ctx, row):
        lab, why = _fresh_lab(ctx, row.labs, row.window_days)
        if lab is None:
            bound = row.upper_bound_from
            if bound:  # e.g. direct bilirubin <= total bilirubin: a low total rules out the band
                total, _ = _fresh_lab(ctx, (bound,), row.window_days)
                lowest = min(b.range.min for b in row.bands if b.range.min is not None)
                if total is not None and total.unit == row.unit and total.value is not None and total.value <= lowest:
                    continue
            missing(order, "/".join(row.labs), f"{row.id} ({drug}): {why}")
            continue
        if row.scale == "uln":
            if lab.times_uln is None:
                missing(order, lab.key, f"{row.id} ({drug}): {lab.source} has no reference upper limit (ULN)")
                continue
            value, shown = lab.times_uln, f"{lab.value:g} {lab.unit} / ULN {lab.reference_high:g} = {lab.times_uln:.2f}x ULN"
        else:
            if lab.unit != row.unit and not (lab.key == "egfr" and row.unit == "mL/min"):
                missing(order, lab.key, f"{row.id} ({drug}): {lab.source} unit {lab.unit!r}, expected {row.unit!r}")
                continue
            value, shown = lab.value, f"{lab.value:g} {lab.unit}"
        band = row.band_for(value)
        if band is None:
            continue
        yield _band_finding(ctx, row, band, order, drug, lab, shown, settings)


def _band_finding(ctx: PatientContext, row: LabRow, band: LabBand, order: MedicationOrder, drug: str, lab: LabResult, shown: str,
                  settings: RuleSettings) -> Finding:
    lines = [f"**{drug}** ({order.ref}): {lab.key} {shown} on {lab.date} ({lab.source}) -> {band.action}."]
    inputs: dict[str, Any] = {"lab": lab.key, "value": lab.value, "unit": lab.unit, "uln": lab.reference_high, "date": str(lab.date), "band": band.id}
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
                lines.append(f"- Could not compare with the {cap.value:g} mg maximum: {m}.")
            else:
                lines.append(f"- Ordered {m.how}; maximum {cap.value:g} mg/day.")
                reduced = m.value <= cap.value * tol
        if factor is not None and not isinstance(n, str):
            ref = next(r for r in refs if r.unit == n.unit)
            limit = ref.value * factor
            lines.append(f"- Ordered {n.how}; {factor:.0%} of the reference {ref.value:g} {ref.unit} = {limit:.4g} {n.unit}.")
            reduced = (reduced if reduced is not None else True) and n.value <= limit * tol
            inputs["reference_dose"] = ref.as_json()
        elif factor is not None:
            lines.append(f"- Could not tell whether the dose is already reduced ({n}).")
            reduced = False
        inputs["dose_already_reduced"] = reduced
        if reduced:
            severity = "info"
            lines.append("- The ordered dose appears already reduced: no change suggested.")
        else:
            resource = scaled_resource(order, factor, cap.value if cap is not None else None)
            if resource is not None:
                label = f"Reduce {drug} to {factor:.0%} of the ordered dose" if factor else f"Cap {drug} at {cap.value:g} mg"
                suggestions = (SuggestionSpec(label, (ActionSpec("update", label, resource, order.ref),), True),)
    summary = f"{drug}: {lab.key} {shown.split(' = ')[-1] if row.scale == 'uln' else shown} - {band.action}"
    return _finding(row, order, drug, severity, summary, lines, inputs, suggestions, DOSE_OVERRIDES, suffix=f".{band.id}")


# -- kinds: age, infant, reproductive, lvef, down-syndrome, hbv, neurotoxicity ----------------
def _age_value(ctx: PatientContext, unit: str) -> int:
    assert ctx.age is not None
    return {"years": ctx.age.years, "months": ctx.age.months, "days": ctx.age.days}[unit]


def _eval_age(ctx: PatientContext, row: AgeRow, settings: RuleSettings, missing: Callable[[MedicationOrder, str, str], None]) -> Iterator[Finding]:
    for order, drug in _targets(ctx, row):
        if ctx.age is None:
            missing(order, "age", f"{row.id} ({drug}): no birth date, label age limits not checked")
            continue
        out = []
        if row.below is not None and _age_value(ctx, row.below.unit) < row.below.value:
            out.append(f"age {_age_value(ctx, row.below.unit)} {row.below.unit} < {row.below.value}")
        if row.above is not None and _age_value(ctx, row.above.unit) > row.above.value:
            out.append(f"age {_age_value(ctx, row.above.unit)} {row.above.unit} > {row.above.value}")
        if out:
            yield _finding(row, order, drug, row.severity, f"{drug}: {row.message} (patient {ctx.age})",
                           [f"**{drug}** ({order.ref}): {out[0]} at {ctx.age.at}{' (birth date partial)' if ctx.age.uncertain else ''}.", "", row.message + "."],
                           {"age_years": ctx.age.years, "age_months": ctx.age.months, "age_days": ctx.age.days, "at": str(ctx.age.at)})


def _eval_infant(ctx: PatientContext, row: InfantRow, settings: RuleSettings, missing: Callable[..., None]) -> Iterator[Finding]:
    if ctx.age is None or _age_value(ctx, row.below.unit) >= row.below.value:
        return
    for order, drug in _targets(ctx, row):
        yield _finding(row, order, drug, row.severity, f"{drug}: {row.message}",
                       [f"**{drug}** ({order.ref}) for an infant: {ctx.age.days} days old at {ctx.age.at} (< {row.below.value} days).", "", row.message + "."],
                       {"age_days": ctx.age.days})


def _eval_reproductive(ctx: PatientContext, row: ReproductiveRow, settings: RuleSettings, missing: Callable[..., None], kb: Knowledge) -> Iterator[Finding]:
    if ctx.age is None or not row.ages.contains(ctx.age.years):
        return
    if row.sex != "any" and ctx.sex != row.sex:
        return
    if status_evidence(ctx, kb, "pregnant"):
        return  # SP-01/SP-02 speak for a pregnant patient (or ask to confirm an old positive status)
    for order, drug in _targets(ctx, row):
        yield _finding(row, order, drug, row.severity, f"{drug}: {row.message}"[:139],
                       [f"**{drug}** ({order.ref}); patient {ctx.sex or 'sex unknown'}, {ctx.age.years} y.", "", row.message + "."],
                       {"sex": ctx.sex, "age_years": ctx.age.years})


def _eval_lvef(ctx: PatientContext, row: LvefRow, settings: RuleSettings, missing: Callable[..., None]) -> Iterator[Finding]:
    if ctx.age is None or not (ctx.age.years < row.below_age_years or ctx.age.years >= row.min_age_years):
        return
    lab, why = _fresh_lab(ctx, row.labs, row.window_days)
    if lab is not None:
        return
    for order, drug in _targets(ctx, row):
        yield _finding(row, order, drug, row.severity, f"{drug}: no LVEF within {row.window_days} days (age {ctx.age.years} y: higher cardiotoxicity risk)",
                       [f"**{drug}** ({order.ref}); age {ctx.age.years} y.", f"- LVEF: {why}.", "", row.message + "."],
                       {"age_years": ctx.age.years, "lvef": why})


def _eval_down(ctx: PatientContext, row: DownSyndromeRow, settings: RuleSettings, missing: Callable[..., None]) -> Iterator[Finding]:
    hit = _fact_source(ctx, list(row.facts))
    if not hit:
        return
    for order, drug in _targets(ctx, row):
        severity, extra = row.severity, ""
        if drug == "methotrexate":
            hd, how = is_high_dose_methotrexate(order, ctx)
            if hd or hd is None:
                severity = row.high_dose_methotrexate_severity
                extra = f"high-dose methotrexate: {how}" if hd else f"could not tell whether high-dose ({how})"
        yield _finding(row, order, drug, severity, f"{drug}: Down syndrome - careful monitoring, consider less-intensive therapy",
                       [f"**{drug}** ({order.ref}); Down syndrome recorded: {hit[1]}.", *([f"- {extra}."] if extra else []), "", row.message + "."],
                       {"fact": hit[0], "high_dose_methotrexate": extra or None})


def _eval_hbv(ctx: PatientContext, row: HbvRow, settings: RuleSettings, missing: Callable[..., None]) -> Iterator[Finding]:
    for order, drug in _targets(ctx, row):
        labs = {k: ctx.lab(k) for k in row.labs}
        absent = [k for k, v in labs.items() if v is None or not v.code_value]
        positive = [f"{k} positive ({v.date}, {v.source})" for k, v in labs.items() if v is not None and v.code_value == "positive"]
        if positive:
            text = f"HBV marker positive: {', '.join(positive)} - HBV reactivation risk, hepatology review/antiviral prophylaxis"
        elif absent:
            text = f"no {' / '.join(absent)} result: {row.message}"
        else:
            continue
        yield _finding(row, order, drug, row.severity, f"{drug}: {text}"[:139], [f"**{drug}** ({order.ref}): {text}."],
                       {k: (v.code_value if v else None) for k, v in labs.items()})


def _eval_neuro(ctx: PatientContext, row: NeurotoxicityRow, settings: RuleSettings, missing: Callable[..., None]) -> Iterator[Finding]:
    evidence = [f"{a.ref} intrathecal on {a.date}" for a in ctx.administrations if a.route and a.route.kind == "intrathecal"]
    evidence += [f"{m.ref} intrathecal ({m.display})" for m in ctx.all_medications() if m.route and m.route.kind == "intrathecal"]
    fact = _fact_source(ctx, list(row.facts))
    if fact:
        evidence.append(f"{fact[0]}: {fact[1]}")
    if not evidence:
        return
    for order, drug in _targets(ctx, row):
        yield _finding(row, order, drug, row.severity, f"{drug}: {row.message}"[:139],
                       [f"**{drug}** ({order.ref}):", *[f"- {e}" for e in evidence[:5]], "", row.message + "."], {"evidence": evidence[:5]})


# One evaluator per typed row class of the "population" family. A kind without one stops the
# import (and so start-up) rather than being skipped; knowledge/populations.py does the same at load.
_EVALUATORS: dict[type, Callable[..., Iterator[Finding]]] = {
    FactRow: lambda ctx, row, settings, missing, kb: _eval_fact(ctx, row, settings, kb),
    ReproductiveRow: lambda ctx, row, settings, missing, kb: _eval_reproductive(ctx, row, settings, missing, kb),
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


@rule("population")
def special_populations(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """Every SP row whose drugs are among the target orders; missing labs aggregated per order."""
    if not ctx.targets or "populations" not in kb.tables:
        return
    gaps: dict[str, list[str]] = {}
    items: dict[str, set[str]] = {}
    orders = {o.ref: o for o in ctx.targets}

    def missing(order: MedicationOrder, item: str, why: str) -> None:
        gaps.setdefault(order.ref, []).append(why)
        items.setdefault(order.ref, set()).add(item)

    for row in population_knowledge(kb).rows:
        if not _enabled(row, settings) or not in_scope(row.scope, ctx, kb):
            continue
        if row.family == "population":
            yield from _EVALUATORS[type(row)](ctx, row, settings, missing, kb)
    for ref, reasons in gaps.items():
        order = orders[ref]
        drug = order.drug_ids[0] if order.drug_ids else None
        names = ", ".join(sorted(items[ref]))
        yield Finding(
            rule_id="missing-data.population-labs", topic="missing-data", indicator="warning",
            summary=f"{drug or order.display}: cannot check special-population limits - missing or stale: {names}"[:139],
            detail="\n".join([f"Population checks for **{drug or order.display}** ({ref}) could not run:"] + [f"- {r}" for r in reasons]
                             + ["", "Lab look-back windows are institutional defaults (populations.json 'window')."]),
            citation="populations.json (SP rows named in detail); clinical-rules.md §4",
            orders=(ref,) if order.is_draft else (), inputs={"missing": sorted(items[ref]), "reasons": reasons}, drug=drug,
        )
