"""Monitoring (`monitoring` cards): TLS, CRS, inotuzumab VOD, pegaspargase stop criteria, LVEF, leucovorin.

Rows and thresholds live in monitoring.json with their citations. A lab that is missing, stale or
in an unusable unit never counts as normal: the card says which value could not be checked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator

from ..context.model import MedicationOrder, PatientContext
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.monitoring import monitoring_view
from ..knowledge.regimen import Check
from ._stratify import in_scope, lab_fact, lab_input, latest_within, subject_orders, value_in, with_drugs
from ._percall import all_medications, given_with
from .registry import RuleSettings, rule
from .verdict import Amount, RowRef, Verdict


_AGE_RISK_CITATION = "seed Table 3 / clinical-rules.md SP-16 (anthracycline cardiotoxicity more likely in pediatric and elderly patients)"


def _verdict(check: Check, message: str, orders: tuple[MedicationOrder, ...] = (), drug: str | None = None, indicator: str | None = None,
             facts: dict[str, Any] | None = None, **inputs: Any) -> Verdict:
    """A monitoring verdict: the check row is the provenance (the engine marks UNVERIFIED rows soft)."""
    return Verdict(row=check, topic="monitoring", indicator=indicator or check.indicator, message=message, drug=drug,
                   orders=tuple(o.ref for o in orders), facts=facts or {}, inputs=inputs)


def _class_orders(ctx: PatientContext, mv: Any, cls: str) -> tuple[tuple[MedicationOrder, ...], str | None]:
    """The orders under review that contain a member of `cls`, and the first such drug id."""
    members = mv.members(cls)
    orders = with_drugs(subject_orders(ctx), members)
    drug = next((d for d in orders[0].drug_ids if d in members), None) if orders else None
    return orders, drug


def _starts_cytoreduction(drug: str, route: str | None, not_starting: list[dict[str, Any]]) -> bool:
    """False for maintenance agents (oral methotrexate, daily mercaptopurine): they never start it."""
    for row in not_starting:
        if row["drug"] == drug and (not row.get("routes") or route in row["routes"]):
            return False
    return True


def _tls_start(ctx: PatientContext, orders: tuple[MedicationOrder, ...], cytoreductive: frozenset[str], params: dict[str, Any]) -> bool:
    """TLS risk is at the START of cytoreduction (TLS-1): an induction/reinduction order with no
    cytoreductive administration in the start window, or (phase unknown) a first cytoreductive
    course. Maintenance agents neither start a course nor count as one (monitoring.json)."""
    skip = list(params.get("not_starting", ()))
    starting = [o for o in orders if any(d in cytoreductive and _starts_cytoreduction(d, o.route.kind if o.route else None, skip) for d in o.drug_ids)]
    if not starting:
        return False
    given = [a.date for a in given_with(ctx, cytoreductive)
             if any(d in cytoreductive and _starts_cytoreduction(d, a.route.kind if a.route else None, skip) for d in a.drug_ids)]
    if ctx.phase is None:
        return not given
    if ctx.phase not in params["phases"]:
        return False
    return not any(0 <= (ctx.order_date - day).days <= params["start_window_days"] for day in given)


@rule("monitoring")
def tumour_lysis(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """TLS-1 baseline labs before cytoreductive induction; TLS-2 laboratory TLS (>= 2 Cairo-Bishop criteria)."""
    mv = monitoring_view(kb)
    cytoreductive = mv.members("cytoreductive")
    orders = with_drugs(subject_orders(ctx), cytoreductive)
    if not orders:
        return
    base = mv.check("monitoring.tls.baseline-labs")
    window = base.params["window_days"]
    recent = {key: latest_within(ctx, key, window) for key in base.params["analytes"]}
    missing = [key for key, lab in recent.items() if lab is None]
    # a reminder only for an ALL patient (scope), at the start of cytoreduction (not every later dose)
    if missing and ctx.labs_complete() and in_scope(base.scope, ctx, kb) and _tls_start(ctx, orders, cytoreductive, dict(base.params)):
        yield _verdict(base, "tls-baseline", orders, facts={"missing": missing, "window_days": window, "order_date": ctx.order_date, "phase": ctx.phase},
                       missing=missing)
    tls = mv.check("monitoring.tls.laboratory")
    pediatric = ctx.age is not None and ctx.age.years < tls.params["pediatric_below_years"]
    if ctx.age is None:
        return
    met: list[dict[str, Any]] = []
    inputs: dict[str, Any] = {}
    for criterion in mv.tls_criteria:
        if not criterion.applies(pediatric):
            continue
        row = criterion.threshold
        lab = recent.get(row.input) or latest_within(ctx, row.input, window)
        value = value_in(lab, row.unit or "")
        if lab is not None and value is not None:
            inputs[row.input] = lab_input(lab, value, row.unit)
            if row.holds(value):
                met.append({"reading": lab_fact(lab, value, row.unit), "threshold": row.text})
    if len(met) >= tls.params["criteria_min"]:
        yield _verdict(tls, "tls-laboratory", orders, facts={"met": met, "pediatric": pediatric, "criteria_min": tls.params["criteria_min"]},
                       criteria_met=len(met), pediatric=pediatric, labs=inputs)


@rule("monitoring")
def rasburicase_g6pd(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """TLS-3: rasburicase is contraindicated in G6PD deficiency; unknown status is said, not assumed."""
    mv = monitoring_view(kb)
    orders = with_drugs(subject_orders(ctx), {"rasburicase"})
    if not orders:
        return
    g6pd_lab = ctx.lab("g6pd")
    deficient_lab = g6pd_lab is not None and (g6pd_lab.code_value or "").lower() in ("deficient", "deficiency", "low", "positive")
    if ctx.has_fact("g6pd-deficiency") or deficient_lab:
        src = ctx.facts["g6pd-deficiency"][0].source if ctx.has_fact("g6pd-deficiency") else g6pd_lab.source
        check = mv.check("monitoring.tls.rasburicase-g6pd")
        from_lab = not ctx.has_fact("g6pd-deficiency")
        yield _verdict(check, "g6pd-deficient", orders, "rasburicase", facts={"from_lab": from_lab, "date": g6pd_lab.date if from_lab else None}, g6pd=src)
    elif g6pd_lab is None and ctx.labs_complete():
        check = mv.check("monitoring.tls.rasburicase-g6pd-unknown")
        yield _verdict(check, "g6pd-unknown", orders, "rasburicase")


@rule("monitoring")
def cytokine_release(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """CRS with blinatumomab and CAR-T: monitoring and tocilizumab availability; active CRS -> warning.

    The monitoring reminder (info) is ONE card for all CRS agents under review (issue 16: context
    cards never outnumber findings); active CRS is a finding per order (interrupt that drug)."""
    mv = monitoring_view(kb)
    agents = mv.members("crs_agents")
    orders = with_drugs(subject_orders(ctx), agents)
    if not orders:
        return
    if ctx.has_fact("crs"):
        check = mv.check("monitoring.crs.active")
        for order in orders:
            yield _verdict(check, "crs-active", (order,), next(d for d in order.drug_ids if d in agents))
        return
    drugs = list(dict.fromkeys(d for o in orders for d in o.drug_ids if d in agents))
    toci = bool(with_drugs(all_medications(ctx), {"tocilizumab"}))
    yield _verdict(mv.check("monitoring.crs"), "crs", orders, drugs[0] if len(drugs) == 1 else None,
                   facts={"drugs": drugs, "tocilizumab": toci}, tocilizumab_ordered=toci)


@rule("monitoring")
def inotuzumab_liver(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """INO-1 (cycle 3+ with HSCT planned), INO-2 (LFT hold thresholds, soft), VOD documented."""
    mv = monitoring_view(kb)
    orders = with_drugs(subject_orders(ctx), {"inotuzumab-ozogamicin"})
    if not orders:
        return
    if ctx.has_fact("hepatic-vod"):
        check = mv.check("monitoring.inotuzumab.vod")
        yield _verdict(check, "ino-vod", orders, "inotuzumab-ozogamicin")
    check = mv.check("monitoring.inotuzumab.hsct-cycles")
    prior = sum(1 for a in given_with(ctx, ("inotuzumab-ozogamicin",)) if a.date < ctx.order_date)
    cycle = prior // check.params["doses_per_cycle"] + 1
    if ctx.has_fact("hsct-planned") and cycle > check.params["max_cycles_if_hsct"]:
        yield _verdict(check, "ino-hsct-cycles", orders, "inotuzumab-ozogamicin",
                       facts={"prior": prior, "cycle": cycle, "doses_per_cycle": check.params["doses_per_cycle"], "max_cycles": check.params["max_cycles_if_hsct"]},
                       prior_doses=prior, cycle=cycle)
    check = mv.check("monitoring.inotuzumab.lfts")
    if not settings.soft_rule_enabled(check.id):
        return
    window = check.params["window_days"]
    high: list[dict[str, Any]] = []
    for key, limit in (("bilirubin_total", check.params["bilirubin_x_uln"]), ("ast", check.params["transaminase_x_uln"]), ("alt", check.params["transaminase_x_uln"])):
        lab = latest_within(ctx, key, window)
        if lab is not None and lab.times_uln is not None and lab.times_uln > limit:
            high.append({"reading": lab_fact(lab), "times_uln": round(lab.times_uln, 1), "limit": limit})
    if high:
        yield _verdict(check, "ino-lfts", orders, "inotuzumab-ozogamicin", facts={"high": high})


@rule("monitoring")
def pegaspargase_stop(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """§5.4: label discontinue / hold criteria (bilirubin, lipase, pancreatitis, thrombosis, hypersensitivity)."""
    mv = monitoring_view(kb)
    orders, drug = _class_orders(ctx, mv, "asparaginase")
    if not orders:
        return
    for check_id in ("monitoring.pegaspargase.stop", "monitoring.pegaspargase.hold"):
        check = mv.check(check_id)
        for key, text in check.params["facts"].items():
            if ctx.has_fact(key):
                verb = "discontinue" if check_id.endswith("stop") else "hold"
                yield _verdict(check, "peg-fact", orders, drug, facts={"text": text, "verb": verb}, fact=key)
    # Bilirubin hold/discontinue tiers are population SP-06 (one card per finding, not two).
    lip = mv.check("monitoring.pegaspargase.lipase")
    lab = latest_within(ctx, "lipase", lip.params["window_days"])
    if lab is not None and lab.times_uln is not None and lab.times_uln > lip.params["hold_above_x_uln"]:
        yield _verdict(lip, "peg-lipase", orders, drug,
                       facts={"reading": lab_fact(lab), "times_uln": round(lab.times_uln, 1), "limit": lip.params["hold_above_x_uln"]})


@rule("monitoring")
def anthracycline_lvef(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """LVEF-1 (no LVEF within 90 days) and LVEF-2 (LVEF < 50%) before daunorubicin/doxorubicin."""
    mv = monitoring_view(kb)
    orders, drug = _class_orders(ctx, mv, "anthracycline")
    if not orders:
        return
    missing = mv.check("monitoring.anthracycline.lvef-missing")
    lab = latest_within(ctx, "lvef", missing.params["window_days"])
    value = value_in(lab, "%")
    if (lab is None or value is None) and not ctx.labs_complete():
        return  # labs unobtainable: the missing-data.prefetch card says this check did not run
    if lab is None or value is None:
        last = ctx.lab("lvef")
        # seed Table 3 / SP-16 (pediatric and elderly cardiotoxicity): folded in so the missing echo is one card, not two
        age_risk = ctx.age is not None and (ctx.age.years < 18 or ctx.age.years >= 65)
        verdict = _verdict(missing, "lvef-missing", orders, drug,
                           facts={"last": lab_fact(last) if last else None, "window_days": missing.params["window_days"], "order_date": ctx.order_date,
                                  "age_risk": age_risk, "age_years": ctx.age.years if ctx.age else None})
        yield replace(verdict, citation=f"{missing.citation}; {_AGE_RISK_CITATION}") if age_risk else verdict
        return
    low = mv.check("monitoring.anthracycline.lvef-low")
    if value < low.params["lvef_below_pct"] and settings.soft_rule_enabled(low.id):
        yield _verdict(low, "lvef-low", orders, drug, facts={"reading": lab_fact(lab, value, "%"), "limit": low.params["lvef_below_pct"]},
                       lvef=lab_input(lab, value, "%"))


def _in_mg(order: MedicationOrder) -> float | None:
    """The order's amount in plain mg (None when it is per m2/kg, missing or not a mass)."""
    amount = order.dose.amount if order.dose else None
    if amount is None or amount.comparator:
        return None
    try:
        return convert(amount.value, amount.unit, "mg")
    except UnitError:
        return None


def _mg_per_m2(order: MedicationOrder, ctx: PatientContext) -> float | None:
    amount = order.dose.amount if order.dose else None
    if amount is None or amount.comparator:
        return None
    try:
        return convert(amount.value, amount.unit, "mg/m2")
    except UnitError:
        pass
    mg = _in_mg(order)
    return mg / ctx.bsa.value if mg is not None and ctx.bsa is not None else None


@rule("monitoring")
def leucovorin_rescue(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """HDMTX-1: methotrexate >= 500 mg/m2 with no leucovorin ordered."""
    mv = monitoring_view(kb)
    orders = subject_orders(ctx)
    check = mv.check("monitoring.hdmtx.no-leucovorin")
    has_leucovorin = bool(with_drugs(all_medications(ctx), {"leucovorin"}))
    for order in with_drugs(orders, {"methotrexate"}):
        if order.route and order.route.kind in ("intrathecal", "intraventricular", "oral"):
            continue
        dose = _mg_per_m2(order, ctx)
        if dose is None and ctx.bsa is None and not has_leucovorin and _in_mg(order) is not None:
            # never a silent pass: an IV dose in plain mg cannot be judged high-dose without a BSA
            yield Verdict(
                row=RowRef("missing-data.hdmtx-bsa", check.citation, check.status), topic="missing-data", indicator="warning",
                message="hdmtx-bsa", drug="methotrexate", orders=(order.ref,) if order.is_draft else (),
                facts={"ordered_mg": _in_mg(order), "threshold": check.params["hd_mtx_mg_per_m2"], "display": order.display},
                inputs={"ordered_mg": _in_mg(order), "bsa": None},
            )
            continue
        if dose is not None and dose >= check.params["hd_mtx_mg_per_m2"] and not has_leucovorin:
            amount = order.dose.amount  # type: ignore[union-attr]
            via_bsa = _in_mg(order) is not None and ctx.bsa is not None
            yield _verdict(check, "hdmtx-no-leucovorin", (order,), "methotrexate",
                           facts={"ordered": Amount(amount.value, amount.unit), "mg_per_m2": round(dose), "bsa": ctx.bsa.value if via_bsa else None,  # type: ignore[union-attr]
                                  "threshold": check.params["hd_mtx_mg_per_m2"]},
                           mg_per_m2=round(dose, 1))
    # Intrathecal leucovorin (HDMTX-3) is the route family's route.leucovorin.never-intrathecal.
