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
from ._stratify import cns_status, coded, has_all_diagnosis, in_scope, lab_fact, lineage, mrd_at, mrd_percent, nci_group, subject_orders, with_drugs
from ._percall import all_medications
from .registry import RuleFn, RuleSettings, rule
from .verdict import RowRef, Verdict


def _scoped(fn: RuleFn) -> RuleFn:
    """Drop findings of checks whose regimen.json `scope` is "ALL" for a patient without an ALL
    diagnosis (protocol checks); "any" checks (label indications/contraindications) always run."""

    @wraps(fn)
    def run(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
        checks = regimen_view(kb).checks
        for finding in fn(ctx, kb, settings) or ():
            check = checks.get(finding.rule_id or finding.row.id)
            if check is None or in_scope(check.scope, ctx, kb):
                yield finding

    return run


def _verdict(check: Check, message: str, orders: tuple[MedicationOrder, ...] = (), drug: str | None = None, indicator: str | None = None,
             facts: dict[str, Any] | None = None, **inputs: Any) -> Verdict:
    """A regimen verdict; the check row is its provenance. A card about one drug names it (contract),
    e.g. the anthracycline ordered, so the drug defaults to the orders' one drug."""
    if drug is None:
        drugs = {o.drug_ids[0] for o in orders if o.drug_ids}
        drug = drugs.pop() if len(drugs) == 1 else None
    return Verdict(row=check, topic="regimen", indicator=indicator or check.indicator, message=message, drug=drug,
                   orders=tuple(o.ref for o in orders), facts={"label": check.message, **(facts or {})}, inputs=inputs)


def _marker(ctx: PatientContext, key: str) -> tuple[str | None, dict[str, Any] | None]:
    """'positive'/'negative'/None for a surface marker lab (cd19, cd20, cd22), with its reading (None: no result)."""
    lab = ctx.lab(key)
    if lab is None:
        return None, None
    return coded(lab), lab_fact(lab)


@rule("regimen")
@_scoped
def ph_positive_tki(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """RA-01 (no TKI with Ph+ chemotherapy) and RA-02 (imatinib instead of dasatinib in a child)."""
    if not ctx.has_fact("ph-positive"):
        return
    rv = regimen_view(kb)
    tkis = rv.members("tki")
    treatment = with_drugs(subject_orders(ctx), rv.members("ph_treatment"))
    on_tki = with_drugs(all_medications(ctx), tkis)
    if treatment and not on_tki:
        check = rv.check("regimen.ph-positive.no-tki")
        names = sorted({d for o in treatment for d in o.drug_ids})
        yield _verdict(check, "no-tki", treatment, facts={"drugs": names}, ph_positive=True)
    imatinib = with_drugs(subject_orders(ctx), {"imatinib"})
    check = rv.check("regimen.ph-positive.pediatric-imatinib")
    if imatinib and ctx.age is not None and ctx.age.years < check.params["pediatric_below_years"] and not with_drugs(all_medications(ctx), {"dasatinib"}):
        yield _verdict(check, "pediatric-imatinib", imatinib, "imatinib", facts={"age_years": ctx.age.years}, age_years=ctx.age.years)


@rule("regimen")
@_scoped
def targeted_lineage(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
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
        status, reading = _marker(ctx, marker)
        facts = {"marker": marker.upper(), "reading": reading}
        if lin == "T":
            yield _verdict(check, "t-lineage", hits, drug, facts=facts, lineage=lin)
        elif status == "negative":
            level = "warning" if drug == "inotuzumab-ozogamicin" else "critical"
            yield _verdict(check, "marker-negative", hits, drug, level, facts=facts, marker=marker, marker_status=status)
        elif status is None and unknown_level:
            yield _verdict(check, "marker-unknown", hits, drug, unknown_level, facts=facts, marker=marker)
    hits = with_drugs(orders, {"rituximab"})
    if hits:
        check = rv.check("regimen.rituximab.cd20")
        status, reading = _marker(ctx, "cd20")
        if status == "negative":
            yield _verdict(check, "marker-negative", hits, "rituximab", facts={"marker": "CD20", "reading": reading}, marker_status=status)
        elif status is None:
            yield _verdict(check, "marker-unknown", hits, "rituximab", "info", facts={"marker": "CD20", "reading": reading})
    hits = with_drugs(orders, {"nelarabine"})
    if hits:
        if lin == "T":
            check = rv.check("regimen.nelarabine.rr-t-all")
            if ctx.has_fact("relapse") or ctx.has_fact("refractory"):
                yield _verdict(check, "nelarabine-rr", hits, "nelarabine")
        else:
            check = rv.check("regimen.nelarabine.lineage")
            yield _verdict(check, "nelarabine-lineage", hits, "nelarabine", facts={"lineage": lin}, lineage=lin)


@rule("regimen")
@_scoped
def label_indications(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
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
            yield _verdict(check, "clofarabine-label", hits, "clofarabine",
                           facts={"age_years": age.years, "low": lo, "high": hi, "age_outside": not lo <= age.years <= hi, "relapsed_refractory": rr},
                           age_years=age.years, relapsed_refractory=rr)
    hits = with_drugs(orders, {"ponatinib"})
    if hits and not ctx.has_fact("ph-positive"):
        check = rv.check("regimen.ponatinib.indication")
        yield _verdict(check, "ponatinib-indication", hits, "ponatinib")
    hits = with_drugs(orders, rv.members("asparaginase_e_coli"))
    if hits and ctx.has_fact("asparaginase-hypersensitivity"):
        check = rv.check("regimen.asparaginase.hypersensitivity")
        yield _verdict(check, "asparaginase-hypersensitivity", hits, hits[0].drug_ids[0])
    hits = with_drugs(orders, {"blinatumomab"})
    check = rv.check("regimen.blinatumomab.mrd-positive")
    mrd = mrd_percent(mrd_at(ctx, risk_view(kb), "post-induction"))
    if hits and age is not None and age.years >= check.params["age_years_min"] and mrd is not None and mrd >= check.params["mrd_min_pct"]:
        yield _verdict(check, "blinatumomab-mrd", hits, "blinatumomab", facts={"mrd": mrd, "threshold": check.params["mrd_min_pct"]}, mrd_pct=mrd)
    check = rv.check("regimen.down-syndrome.intensity")
    hits = with_drugs(orders, {"daunorubicin", "doxorubicin", "methotrexate"})
    if hits and ctx.has_fact("down-syndrome"):
        yield _verdict(check, "down-syndrome", hits)
    check = rv.check("regimen.elderly.intensive")
    intensive = with_drugs(orders, rv.members("intensive_agents"))
    distinct = {d for o in intensive for d in o.drug_ids if d in rv.members("intensive_agents")}
    elderly = age is not None and age.years >= check.params["age_years_min"]
    if (elderly or ctx.has_fact("severe-comorbidity")) and not ctx.has_fact("ph-positive") and len(distinct) >= check.params["intensive_agents_min"]:
        yield _verdict(check, "elderly-intensive", intensive, facts={"agents": sorted(distinct), "age_years": age.years if age else None,
                                                                    "comorbidity": ctx.has_fact("severe-comorbidity")},
                       age_years=age.years if age else None)


def _phase_checks(ctx: PatientContext, kb: Knowledge) -> Iterator[tuple[Check, str, dict[str, Any], tuple[MedicationOrder, ...]]]:
    """Yield (check, message, facts, orders) for RA-07..RA-12 whose other conditions hold, phase aside."""
    rv, rk = regimen_view(kb), risk_view(kb)
    orders = subject_orders(ctx)
    lin = lineage(ctx, rk)
    age = ctx.age_at_diagnosis
    pediatric = age is not None and age.years < 18
    all_meds = all_medications(ctx)
    anthracyclines = with_drugs(orders, rv.members("anthracycline"))
    if lin == "mature B":
        maint = with_drugs(orders, rv.members("maintenance_agents")) + tuple(o for o in orders if o.has("methotrexate") and o.route and o.route.kind == "oral")
        if maint or (ctx.phase == "maintenance" and orders):
            yield rv.check("regimen.mature-b.maintenance"), "mature-b-maintenance", {}, maint or orders
    if lin == "B-precursor" and pediatric and orders:
        nci = nci_group(ctx, kb)
        if nci.group == "standard" and anthracyclines:
            yield rv.check("regimen.nci-sr.anthracycline-induction"), "nci-sr-anthracycline", {}, anthracyclines
        if nci.group == "high" and not with_drugs(all_meds, rv.members("anthracycline")):
            yield rv.check("regimen.nci-hr.no-anthracycline-induction"), "nci-hr-no-anthracycline", {"reasons": list(nci.reasons)}, orders
    if lin == "T" and pediatric and orders and not with_drugs(all_meds, rv.members("anthracycline")):
        yield rv.check("regimen.t-all.no-anthracycline-induction"), "t-all-no-anthracycline", {}, orders
    intrathecal = [o for o in all_meds if o.route and o.route.kind in ("intrathecal", "intraventricular") and set(o.drug_ids) & rv.members("intrathecal_agents")]
    if pediatric and orders and not intrathecal:
        yield rv.check("regimen.induction.no-intrathecal"), "no-intrathecal", {}, orders
    if orders and cns_status(ctx, kb).status == "CNS3":
        yield rv.check("regimen.cns3.intensification"), "cns3", {}, orders


def _protocol_level(ctx: PatientContext, check: Check) -> tuple[str, str | None]:
    """RA-08: warning only when the treatment plan names a COG-style protocol (regimen.json params).
    Returns (indicator, protocol): "cog" (named), "not-cog" (plan names none) or None (check has no such param)."""
    patterns = check.params.get("warning_if_plan_matches")
    if not patterns:
        return check.indicator, None
    named = next((p for p in patterns if ctx.phase_text and re.search(p, ctx.phase_text, re.IGNORECASE)), None)
    if named:
        return "warning", "cog"
    return check.indicator, "not-cog"


@rule("regimen")
def phase_dependent(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """RA-07..RA-12 in the phase they name; phase unknown -> one `missing-data.phase` finding."""
    if not has_all_diagnosis(ctx, risk_view(kb)):
        return
    blocked: list[tuple[Check, tuple[MedicationOrder, ...]]] = []
    for check, message, facts, orders in _phase_checks(ctx, kb):
        drug_free_phase = check.id == "regimen.mature-b.maintenance"  # the agents themselves identify maintenance
        if ctx.phase is None and not drug_free_phase:
            blocked.append((check, orders))
        elif drug_free_phase or ctx.phase in check.phases:
            level, protocol = _protocol_level(ctx, check)
            yield _verdict(check, message, orders, indicator=level, phase=ctx.phase,
                           facts={**facts, "phase": ctx.phase, "plan_text": ctx.phase_text, "protocol": protocol})
    if blocked:
        refs = tuple(dict.fromkeys(r.ref for _, orders in blocked for r in orders))
        level = "warning" if any(c.indicator != "info" for c, _ in blocked) else "info"
        yield Verdict(
            row=RowRef("missing-data.phase", "clinical-rules.md §6 (" + ", ".join(c.ref for c, _ in blocked) + "): checks defined per treatment phase"),
            topic="missing-data", indicator=level, message="phase-unknown", orders=refs,
            facts={"checks": [c.message for c, _ in blocked]},
            inputs={"phase": None, "checks": [c.id for c, _ in blocked]},
        )
