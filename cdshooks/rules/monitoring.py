"""Monitoring (`monitoring` cards): TLS, CRS, inotuzumab VOD, pegaspargase stop criteria, LVEF, leucovorin.

Rows and thresholds live in monitoring.json with their citations. A lab that is missing, stale or
in an unusable unit never counts as normal: the card says which value could not be checked.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..context.model import MedicationOrder, PatientContext
from ..context.units import UnitError, convert
from ..knowledge import Knowledge
from ..knowledge.monitoring import monitoring_view
from ..knowledge.regimen import Check
from ..knowledge.risk import format_number
from ._stratify import describe, in_scope, lab_input, latest_within, subject_orders, value_in, with_drugs
from .finding import Finding
from .registry import RuleSettings, rule


def _card(check: Check, summary: str, detail: str, orders: tuple[MedicationOrder, ...] = (), drug: str | None = None, indicator: str | None = None, **inputs: Any) -> Finding:
    soft = "" if check.verified else " (UNVERIFIED threshold: soft rule)"
    return Finding(
        rule_id=check.id,
        topic="monitoring",
        indicator=indicator or check.indicator,
        summary=summary[:139],
        detail=f"{detail}\n\nSource ({check.ref}): {check.citation}{soft}",
        citation=check.citation + soft,
        orders=tuple(o.ref for o in orders),
        inputs=inputs,
        drug=drug,
    )


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
    given = [a.date for a in ctx.administrations
             if any(d in cytoreductive and _starts_cytoreduction(d, a.route.kind if a.route else None, skip) for d in a.drug_ids)]
    if ctx.phase is None:
        return not given
    if ctx.phase not in params["phases"]:
        return False
    return not any(0 <= (ctx.order_date - day).days <= params["start_window_days"] for day in given)


@rule("monitoring")
def tumour_lysis(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
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
    if missing and in_scope(base.scope, ctx, kb) and _tls_start(ctx, orders, cytoreductive, dict(base.params)):
        yield _card(base, "Baseline TLS labs missing before cytoreductive therapy: " + ", ".join(missing),
                    f"No result within {window} days before {ctx.order_date.isoformat()} for: {', '.join(missing)}. Phase: {ctx.phase or 'not recorded'}.",
                    orders, missing=missing)
    tls = mv.check("monitoring.tls.laboratory")
    pediatric = ctx.age is not None and ctx.age.years < tls.params["pediatric_below_years"]
    if ctx.age is None:
        return
    met: list[str] = []
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
                met.append(f"{row.input.replace('_', ' ')} {describe(lab, value, row.unit)} ({row.text}) [{row.id}]")
    if len(met) >= tls.params["criteria_min"]:
        yield _card(tls, f"Laboratory TLS: {len(met)} Cairo-Bishop criteria met; hydrate, consider rasburicase",
                    "Criteria met:\n" + "\n".join(f"- {m}" for m in met) + "\n\nSeed: manage with IV hydration, diuretics, or rasburicase (check G6PD first).",
                    orders, criteria_met=len(met), pediatric=pediatric, labs=inputs)


@rule("monitoring")
def rasburicase_g6pd(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
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
        yield _card(check, "rasburicase contraindicated: G6PD deficiency (severe hemolysis)", f"G6PD deficiency recorded ({src}). Use allopurinol/hydration instead.", orders, "rasburicase", g6pd=src)
    elif g6pd_lab is None:
        check = mv.check("monitoring.tls.rasburicase-g6pd-unknown")
        yield _card(check, "rasburicase: no G6PD status recorded", "No G6PD result or deficiency on record; screen patients at higher risk before starting.", orders, "rasburicase")


@rule("monitoring")
def cytokine_release(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """CRS with blinatumomab and CAR-T: monitoring and tocilizumab availability; active CRS -> warning."""
    mv = monitoring_view(kb)
    for order in with_drugs(subject_orders(ctx), mv.members("crs_agents")):
        drug = next(d for d in order.drug_ids if d in mv.members("crs_agents"))
        if ctx.has_fact("crs"):
            check = mv.check("monitoring.crs.active")
            yield _card(check, f"{drug}: CRS documented; interrupt or discontinue per grade", f"CRS recorded ({ctx.facts['crs'][0].source}). Grade per ASTCT (fever, hypotension, hypoxia).", (order,), drug)
            continue
        check = mv.check("monitoring.crs")
        toci = bool(with_drugs(ctx.all_medications(), {"tocilizumab"}))
        yield _card(check, f"{drug}: monitor for CRS; tocilizumab {'ordered' if toci else 'must be available'}",
                    "Monitor fever, hypotension, hypoxia (ASTCT grading). Tocilizumab is the standard for high-grade CRS" + ("." if toci else "; none is ordered."),
                    (order,), drug, tocilizumab_ordered=toci)


@rule("monitoring")
def inotuzumab_liver(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """INO-1 (cycle 3+ with HSCT planned), INO-2 (LFT hold thresholds, soft), VOD documented."""
    mv = monitoring_view(kb)
    orders = with_drugs(subject_orders(ctx), {"inotuzumab-ozogamicin"})
    if not orders:
        return
    if ctx.has_fact("hepatic-vod"):
        check = mv.check("monitoring.inotuzumab.vod")
        yield _card(check, "inotuzumab: hepatic VOD documented; permanently discontinue", f"VOD recorded ({ctx.facts['hepatic-vod'][0].source}).", orders, "inotuzumab-ozogamicin")
    check = mv.check("monitoring.inotuzumab.hsct-cycles")
    prior = sum(1 for a in ctx.administrations if "inotuzumab-ozogamicin" in a.drug_ids and a.date < ctx.order_date)
    cycle = prior // check.params["doses_per_cycle"] + 1
    if ctx.has_fact("hsct-planned") and cycle > check.params["max_cycles_if_hsct"]:
        yield _card(check, f"inotuzumab cycle {cycle} with HSCT planned: 2 cycles recommended (VOD risk)",
                    f"{prior} prior doses (3 per cycle) → this order is in cycle {cycle}. HSCT planned ({ctx.facts['hsct-planned'][0].source}).", orders, "inotuzumab-ozogamicin", prior_doses=prior, cycle=cycle)
    check = mv.check("monitoring.inotuzumab.lfts")
    if not settings.soft_rule_enabled(check.id):
        return
    window = check.params["window_days"]
    high: list[str] = []
    for key, limit in (("bilirubin_total", check.params["bilirubin_x_uln"]), ("ast", check.params["transaminase_x_uln"]), ("alt", check.params["transaminase_x_uln"])):
        lab = latest_within(ctx, key, window)
        if lab is not None and lab.times_uln is not None and lab.times_uln > limit:
            high.append(f"{key} {describe(lab)} = {lab.times_uln:.1f}× ULN (> {limit}×)")
    if high:
        yield _card(check, "inotuzumab: liver tests above hold thresholds before the dose", "\n".join(f"- {h}" for h in high), orders, "inotuzumab-ozogamicin")


@rule("monitoring")
def pegaspargase_stop(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
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
                yield _card(check, f"{drug}: {text}: {verb}", f"{text} recorded ({ctx.facts[key][0].source}).", orders, drug, fact=key)
    # Bilirubin hold/discontinue tiers are population SP-06 (one card per finding, not two).
    lip = mv.check("monitoring.pegaspargase.lipase")
    lab = latest_within(ctx, "lipase", lip.params["window_days"])
    if lab is not None and lab.times_uln is not None and lab.times_uln > lip.params["hold_above_x_uln"]:
        yield _card(lip, f"{drug}: lipase {lab.times_uln:.1f}× ULN > 3× ULN: hold until stable", f"Lipase {describe(lab)}.", orders, drug)


@rule("monitoring")
def anthracycline_lvef(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """LVEF-1 (no LVEF within 90 days) and LVEF-2 (LVEF < 50%) before daunorubicin/doxorubicin."""
    mv = monitoring_view(kb)
    orders, drug = _class_orders(ctx, mv, "anthracycline")
    if not orders:
        return
    missing = mv.check("monitoring.anthracycline.lvef-missing")
    lab = latest_within(ctx, "lvef", missing.params["window_days"])
    value = value_in(lab, "%")
    if lab is None or value is None:
        last = ctx.lab("lvef")
        since = f"last LVEF {describe(last)}" if last else "no LVEF on record"
        risk = ""
        if ctx.age is not None and (ctx.age.years < 18 or ctx.age.years >= 65):
            # seed Table 3 / SP-16: folded in here so the missing echo is one card, not two
            risk = f" Age {ctx.age.years} y: anthracyclines are more likely to cause cardiotoxicity in pediatric and elderly patients (seed Table 3, SP-16)."
        yield _card(missing, f"{drug}: no LVEF within 90 days before an anthracycline", f"{since}; window {missing.params['window_days']} days before {ctx.order_date.isoformat()}.{risk}", orders, drug)
        return
    low = mv.check("monitoring.anthracycline.lvef-low")
    if value < low.params["lvef_below_pct"] and settings.soft_rule_enabled(low.id):
        yield _card(low, f"{drug}: LVEF {format_number(value)}% < 50% before an anthracycline", f"LVEF {describe(lab, value, '%')}.", orders, drug, lvef=lab_input(lab, value, "%"))


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
def leucovorin_rescue(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """HDMTX-1: methotrexate >= 500 mg/m2 with no leucovorin ordered."""
    mv = monitoring_view(kb)
    orders = subject_orders(ctx)
    check = mv.check("monitoring.hdmtx.no-leucovorin")
    has_leucovorin = bool(with_drugs(ctx.all_medications(), {"leucovorin"}))
    for order in with_drugs(orders, {"methotrexate"}):
        if order.route and order.route.kind in ("intrathecal", "intraventricular", "oral"):
            continue
        dose = _mg_per_m2(order, ctx)
        if dose is None and ctx.bsa is None and not has_leucovorin and _in_mg(order) is not None:
            # never a silent pass: an IV dose in plain mg cannot be judged high-dose without a BSA
            yield Finding(
                rule_id="missing-data.hdmtx-bsa", topic="missing-data", indicator="warning",
                summary=f"methotrexate {format_number(_in_mg(order) or 0)} mg: cannot tell whether high-dose (≥ {format_number(check.params['hd_mtx_mg_per_m2'])} mg/m²) - no BSA",
                detail=(f"Ordered {order.dose.amount.value:g} {order.dose.amount.unit} ({order.ref}); no usable BSA (weight and height), so the "  # type: ignore[union-attr]
                        f"high-dose methotrexate check (leucovorin rescue, HDMTX-1) could not run and no leucovorin is ordered or active."
                        f"\n\nSource ({check.ref}): {check.citation}"),
                citation=check.citation, orders=(order.ref,) if order.is_draft else (), inputs={"ordered_mg": _in_mg(order), "bsa": None},
                drug="methotrexate",
            )
            continue
        if dose is not None and dose >= check.params["hd_mtx_mg_per_m2"] and not has_leucovorin:
            yield _card(check, f"methotrexate {format_number(round(dose))} mg/m² (high dose) without leucovorin rescue ordered",
                        f"Ordered {order.dose.amount.value} {order.dose.amount.unit} ≈ {dose:.0f} mg/m² (≥ 500 mg/m² = high dose); no leucovorin ordered or active.",
                        (order,), "methotrexate", mg_per_m2=round(dose, 1))
    # Intrathecal leucovorin (HDMTX-3) is the route family's route.leucovorin.never-intrathecal.
