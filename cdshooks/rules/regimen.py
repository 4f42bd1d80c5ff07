"""Regimen fit (`regimen` cards): RA-01..RA-21 of clinical-rules.md §6, rows in regimen.json.

Order hooks check the orders under review; patient-view checks the active medications. Checks
that depend on the treatment phase read ctx.phase (CarePlan); when it is unknown they do not guess:
one `missing-data.phase` finding names the checks that could not run.
"""

from __future__ import annotations

import re
from functools import wraps
from typing import Any, Iterator

from ..context.model import MedicationOrder, PatientContext
from ..knowledge import Knowledge
from ..knowledge.regimen import Check, regimen_view
from ..knowledge.risk import risk_view
from ._stratify import cns_status, coded, has_all_diagnosis, in_scope, lineage, mrd_at, mrd_percent, nci_group, subject_orders, with_drugs
from .finding import Finding
from .registry import RuleFn, RuleSettings, rule


def _scoped(fn: RuleFn) -> RuleFn:
    """Drop findings of checks whose regimen.json `scope` is "ALL" for a patient without an ALL
    diagnosis (protocol checks); "any" checks (label indications/contraindications) always run."""

    @wraps(fn)
    def run(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
        checks = regimen_view(kb).checks
        for finding in fn(ctx, kb, settings) or ():
            check = checks.get(finding.rule_id)
            if check is None or in_scope(check.scope, ctx, kb):
                yield finding

    return run


def _card(check: Check, summary: str, detail: str, orders: tuple[MedicationOrder, ...] = (), drug: str | None = None, indicator: str | None = None, **inputs: Any) -> Finding:
    if drug is None:  # a card about one drug names it (contract), e.g. the anthracycline ordered
        drugs = {o.drug_ids[0] for o in orders if o.drug_ids}
        drug = drugs.pop() if len(drugs) == 1 else None
    if drug and drug not in summary:
        summary = f"{drug}: {summary}"
    return Finding(
        rule_id=check.id,
        topic="regimen",
        indicator=indicator or check.indicator,
        summary=summary[:139],
        detail=f"{detail}\n\nSource ({check.ref}): {check.citation}",
        citation=check.citation,
        orders=tuple(o.ref for o in orders),
        inputs=inputs,
        drug=drug,
    )


def _marker(ctx: PatientContext, key: str) -> tuple[str | None, str]:
    """'positive'/'negative'/None for a surface marker lab (cd19, cd20, cd22), with its description."""
    lab = ctx.lab(key)
    if lab is None:
        return None, f"no {key.upper()} result recorded"
    return coded(lab), f"{key.upper()} {lab.code_value or lab.value} on {lab.date.isoformat()} ({lab.source})"


@rule("regimen")
@_scoped
def ph_positive_tki(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """RA-01 (no TKI with Ph+ chemotherapy) and RA-02 (imatinib instead of dasatinib in a child)."""
    if not ctx.has_fact("ph-positive"):
        return
    rv = regimen_view(kb)
    tkis = rv.members("tki")
    treatment = with_drugs(subject_orders(ctx), rv.members("ph_treatment"))
    on_tki = with_drugs(ctx.all_medications(), tkis)
    if treatment and not on_tki:
        check = rv.check("regimen.ph-positive.no-tki")
        names = sorted({d for o in treatment for d in o.drug_ids})
        yield _card(check, "Ph+ ALL: add a TKI (imatinib or dasatinib) to chemotherapy", f"Ph-positive ALL ({ctx.facts['ph-positive'][0].source}); orders: {', '.join(names)}; no TKI ordered or active.", treatment, ph_positive=True)
    imatinib = with_drugs(subject_orders(ctx), {"imatinib"})
    check = rv.check("regimen.ph-positive.pediatric-imatinib")
    if imatinib and ctx.age is not None and ctx.age.years < check.params["pediatric_below_years"] and not with_drugs(ctx.all_medications(), {"dasatinib"}):
        yield _card(check, "imatinib: dasatinib preferred in pediatric Ph+ ALL", f"Age {ctx.age.years} y; imatinib ordered for Ph+ ALL. Dasatinib penetrates the CNS better and is labelled for newly diagnosed pediatric Ph+ ALL (≥ 1 y).", imatinib, drug="imatinib", age_years=ctx.age.years)


@rule("regimen")
@_scoped
def targeted_lineage(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """RA-03/04/05/06/16: antigen- or lineage-directed agents against lineage and marker results."""
    rv, rk = regimen_view(kb), risk_view(kb)
    lin = lineage(ctx, rk)
    orders = subject_orders(ctx)
    specs = (
        ("blinatumomab", "regimen.blinatumomab.lineage", "cd19", "warning"),
        ("tisagenlecleucel", "regimen.car-t.lineage", "cd19", None),
        ("brexucabtagene-autoleucel", "regimen.car-t.lineage", "cd19", None),
        ("inotuzumab-ozogamicin", "regimen.inotuzumab.lineage", "cd22", None),
    )
    for drug, check_id, marker, unknown_level in specs:
        hits = with_drugs(orders, {drug})
        if not hits:
            continue
        check = rv.check(check_id)
        status, text = _marker(ctx, marker)
        if lin == "T":
            yield _card(check, f"{drug}: {marker.upper()}-directed, B-lineage only; patient has T-ALL", f"Lineage T-ALL ({ctx.facts['t-all'][0].source}). {check.message}.", hits, drug, lineage=lin)
        elif status == "negative":
            level = "warning" if drug == "inotuzumab-ozogamicin" else "critical"
            yield _card(check, f"{drug}: {marker.upper()}-negative leukemia; drug is {marker.upper()}-directed", f"{text}. {check.message}.", hits, drug, level, marker=marker, marker_status=status)
        elif status is None and unknown_level:
            yield _card(check, f"{drug}: {marker.upper()} status unknown; drug targets CD19 (B-lineage only)", f"{text}. {check.message}.", hits, drug, unknown_level, marker=marker)
    hits = with_drugs(orders, {"rituximab"})
    if hits:
        check = rv.check("regimen.rituximab.cd20")
        status, text = _marker(ctx, "cd20")
        if status == "negative":
            yield _card(check, "rituximab ordered for CD20-negative leukemia", f"{text}. {check.message}.", hits, "rituximab", marker_status=status)
        elif status is None:
            yield _card(check, "rituximab: CD20 status not recorded", f"{text}. {check.message}.", hits, "rituximab", "info")
    hits = with_drugs(orders, {"nelarabine"})
    if hits:
        if lin == "T":
            check = rv.check("regimen.nelarabine.rr-t-all")
            if ctx.has_fact("relapse") or ctx.has_fact("refractory"):
                yield _card(check, "nelarabine appropriate for R/R T-ALL; neurotoxicity boxed warning", check.message, hits, "nelarabine")
        else:
            check = rv.check("regimen.nelarabine.lineage")
            yield _card(check, f"nelarabine is indicated for T-ALL; lineage is {lin or 'not recorded'}", f"Lineage: {lin or 'not recorded'}. {check.message}.", hits, "nelarabine", lineage=lin)


@rule("regimen")
@_scoped
def label_indications(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """RA-17 clofarabine, RA-19 ponatinib, RA-20 asparaginase hypersensitivity, CAR-T label ages, RA-18, RA-21."""
    rv = regimen_view(kb)
    orders = subject_orders(ctx)
    age = ctx.age
    hits = with_drugs(orders, {"clofarabine"})
    check = rv.check("regimen.clofarabine.label")
    if hits and age is not None:
        lo, hi = check.params["age_years_min"], check.params["age_years_max"]
        rr = ctx.has_fact("relapse") or ctx.has_fact("refractory")
        if not lo <= age.years <= hi or not rr:
            why = [f"age {age.years} y outside {lo}-{hi} y"] if not lo <= age.years <= hi else []
            why += [] if rr else ["no relapsed/refractory disease recorded"]
            yield _card(check, "clofarabine outside label: " + "; ".join(why), check.message, hits, "clofarabine", age_years=age.years, relapsed_refractory=rr)
    hits = with_drugs(orders, {"ponatinib"})
    if hits and not ctx.has_fact("ph-positive"):
        check = rv.check("regimen.ponatinib.indication")
        yield _card(check, "ponatinib ordered without Ph+ ALL recorded", check.message, hits, "ponatinib")
    hits = with_drugs(orders, rv.members("asparaginase_e_coli"))
    if hits and ctx.has_fact("asparaginase-hypersensitivity"):
        check = rv.check("regimen.asparaginase.hypersensitivity")
        src = ctx.facts["asparaginase-hypersensitivity"][0].source
        yield _card(check, f"{hits[0].drug_ids[0]}: prior grade ≥3 asparaginase hypersensitivity; use Erwinia asparaginase", f"Hypersensitivity recorded ({src}). {check.message}.", hits, hits[0].drug_ids[0])
    hits = with_drugs(orders, {"blinatumomab"})
    check = rv.check("regimen.blinatumomab.mrd-positive")
    mrd = mrd_percent(mrd_at(ctx, risk_view(kb), "post-induction"))
    if hits and age is not None and age.years >= check.params["age_years_min"] and mrd is not None and mrd >= check.params["mrd_min_pct"]:
        yield _card(check, f"blinatumomab appropriate: MRD {mrd}% ≥ 0.1% after induction", check.message, hits, "blinatumomab", mrd_pct=mrd)
    check = rv.check("regimen.down-syndrome.intensity")
    hits = with_drugs(orders, {"daunorubicin", "doxorubicin", "methotrexate"})
    if hits and ctx.has_fact("down-syndrome"):
        yield _card(check, "Down syndrome: careful monitoring and less-intensive chemotherapy", check.message, hits)
    check = rv.check("regimen.elderly.intensive")
    intensive = with_drugs(orders, rv.members("intensive_agents"))
    distinct = {d for o in intensive for d in o.drug_ids if d in rv.members("intensive_agents")}
    elderly = age is not None and age.years >= check.params["age_years_min"]
    if (elderly or ctx.has_fact("severe-comorbidity")) and not ctx.has_fact("ph-positive") and len(distinct) >= check.params["intensive_agents_min"]:
        yield _card(check, "Age ≥ 65 y or severe comorbidity: palliative corticosteroid is an option", f"{len(distinct)} cytotoxic agents ordered ({', '.join(sorted(distinct))}). {check.message}.", intensive, age_years=age.years if age else None)


def _phase_checks(ctx: PatientContext, kb: Knowledge) -> Iterator[tuple[Check, str, str, tuple[MedicationOrder, ...]]]:
    """Yield (check, summary, detail, orders) for RA-07..RA-12 whose other conditions hold, phase aside."""
    rv, rk = regimen_view(kb), risk_view(kb)
    orders = subject_orders(ctx)
    lin = lineage(ctx, rk)
    age = ctx.age_at_diagnosis
    pediatric = age is not None and age.years < 18
    all_meds = ctx.all_medications()
    anthracyclines = with_drugs(orders, rv.members("anthracycline"))
    if lin == "mature B":
        maint = with_drugs(orders, rv.members("maintenance_agents")) + tuple(o for o in orders if o.has("methotrexate") and o.route and o.route.kind == "oral")
        if maint or (ctx.phase == "maintenance" and orders):
            yield rv.check("regimen.mature-b.maintenance"), "maintenance not recommended in mature B-ALL", "Mature B-ALL; maintenance-type orders.", maint or orders
    if lin == "B-precursor" and pediatric and orders:
        nci = nci_group(ctx, kb)
        if nci.group == "standard" and anthracyclines:
            yield rv.check("regimen.nci-sr.anthracycline-induction"), "anthracycline not part of COG SR induction (NCI standard risk)", "NCI standard risk; anthracycline ordered in induction.", anthracyclines
        if nci.group == "high" and not with_drugs(all_meds, rv.members("anthracycline")):
            yield rv.check("regimen.nci-hr.no-anthracycline-induction"), "NCI high-risk B-ALL induction without an anthracycline", "NCI high risk (" + ", ".join(nci.reasons) + "); no anthracycline ordered or active.", orders
    if lin == "T" and pediatric and orders and not with_drugs(all_meds, rv.members("anthracycline")):
        yield rv.check("regimen.t-all.no-anthracycline-induction"), "pediatric T-ALL induction without an anthracycline", "T-ALL; no anthracycline ordered or active.", orders
    intrathecal = [o for o in all_meds if o.route and o.route.kind in ("intrathecal", "intraventricular") and set(o.drug_ids) & rv.members("intrathecal_agents")]
    if pediatric and orders and not intrathecal:
        yield rv.check("regimen.induction.no-intrathecal"), "CNS prophylaxis missing: no intrathecal chemotherapy in induction", "No intrathecal methotrexate / cytarabine / hydrocortisone ordered or active.", orders
    if orders and cns_status(ctx, kb).status == "CNS3":
        yield rv.check("regimen.cns3.intensification"), "CNS3 at diagnosis: intrathecal intensification ± cranial radiation", "CNS3 at diagnosis.", orders


def _protocol_level(ctx: PatientContext, check: Check) -> tuple[str, str]:
    """RA-08: warning only when the treatment plan names a COG-style protocol (regimen.json params)."""
    patterns = check.params.get("warning_if_plan_matches")
    if not patterns:
        return check.indicator, ""
    named = next((p for p in patterns if ctx.phase_text and re.search(p, ctx.phase_text, re.IGNORECASE)), None)
    if named:
        return "warning", f" The plan names a COG-style protocol ('{ctx.phase_text}')."
    return check.indicator, " The plan names no COG-style protocol: BFM-type inductions include an anthracycline for every risk group (info)."


@rule("regimen")
def phase_dependent(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """RA-07..RA-12 in the phase they name; phase unknown -> one `missing-data.phase` finding."""
    if not has_all_diagnosis(ctx, risk_view(kb)):
        return
    blocked: list[tuple[Check, tuple[MedicationOrder, ...]]] = []
    for check, summary, detail, orders in _phase_checks(ctx, kb):
        drug_free_phase = check.id == "regimen.mature-b.maintenance"  # the agents themselves identify maintenance
        if ctx.phase is None and not drug_free_phase:
            blocked.append((check, orders))
        elif drug_free_phase or ctx.phase in check.phases:
            level, protocol = _protocol_level(ctx, check)
            yield _card(check, summary, f"{detail} Phase: {ctx.phase or 'not recorded'} ({ctx.phase_source or 'no CarePlan'}).{protocol}", orders, indicator=level, phase=ctx.phase)
    if blocked:
        refs = tuple(dict.fromkeys(r.ref for _, orders in blocked for r in orders))
        names = ", ".join(f"{c.ref} ({c.message})" for c, _ in blocked)
        level = "warning" if any(c.indicator != "info" for c, _ in blocked) else "info"
        yield Finding(
            rule_id="missing-data.phase",
            topic="missing-data",
            indicator=level,
            summary="Treatment phase unknown: phase-dependent regimen checks could not run",
            detail=f"No CarePlan phase recorded, so these checks did not run: {names}.",
            citation="clinical-rules.md §6 (" + ", ".join(c.ref for c, _ in blocked) + "): checks defined per treatment phase",
            orders=refs,
            inputs={"phase": None, "checks": [c.id for c, _ in blocked]},
        )
