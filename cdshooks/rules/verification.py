"""Pharmacist-style order verification (verification.json): what label ranges do not catch.

Why these checks: chemotherapy order-verification standards (ASCO/ONS, ISMP, HOPA) ask for more
than "is the dose inside the label range". An intrathecal dose is a fixed dose by age, not by
BSA; a dose calculated on a weight that has since changed is a wrong dose; a dose that moved far
from the last one given needs a reason; vinca alkaloids belong in a minibag, never a syringe,
and are kept apart from intrathecal drugs. Each check reads the row that states its threshold
and citation; rows from site policy rather than label text are unverified, so their cards are
never critical.

Rules (family, rule id):
- dose      IT-01..      intrathecal dose outside the age band
- route     IT-PF-01     intrathecal methotrexate product that contains a preservative
- dose      VER-WT-01    weight changed beyond the threshold since the last dose of the drug
- dose      VER-DC-01    dose per m²/kg changed beyond the threshold from the last administration
- route     VER-VINCA-01 vinca alkaloid ordered by syringe / IV push
- route     VER-VINCA-02 vinca alkaloid and intrathecal orders signed together: keep them apart
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Iterable, Iterator

from ..context.model import Administration, MedicationOrder, Measurement, PatientContext
from ..context.observations import measurement_on_or_before, mosteller
from ..knowledge import Knowledge
from ..knowledge.dosing import dosing_view
from ..knowledge.drugs import drugs_view
from ..knowledge.verification import RowMeta, verification_view
from ._dose_common import OVERRIDE_REASONS, clip_summary, fmt, missing_data_finding, patient_inputs, patient_lines, patient_values
from ._order_doses import normalize
from .finding import Finding
from .registry import RuleSettings, rule
from ..units import UnitError, convert

_NOT_GIVEN = frozenset({"entered-in-error", "not-done", "stopped", "cancelled", "on-hold"})


def _indicator(row: RowMeta, wanted: str) -> str:
    """Unverified rows are soft rules: never critical (the knowledge loader enforces the same)."""
    return "warning" if wanted == "critical" and not row.verified else wanted


def _enabled(row: RowMeta, settings: RuleSettings) -> bool:
    """Verified and unverified rows are on unless switched off (CDSHOOKS_DISABLED_RULES)."""
    return settings.soft_rule_enabled(row.id)


def _texts(value: Any) -> Iterator[str]:
    """Every string under a JSON value (codings, text, display), read defensively."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def _has_term(text: str, terms: Iterable[str]) -> str | None:
    haystack = _words(text)
    return next((t for t in terms if _words(t) in haystack), None)


def _text_finding(row: Any, order: MedicationOrder, drug: str, summary: str, lines: list[str], inputs: dict[str, Any]) -> Finding:
    """A `route` finding about what the order's text says (a preserved product, a push): the row
    gives id, indicator (capped when unverified) and citation; the rule gives the words."""
    return Finding(
        rule_id=row.id, topic="route", indicator=_indicator(row, row.indicator), summary=clip_summary(summary),
        detail="\n".join(lines), citation=row.citation, orders=(order.ref,), drug=drug,
        override_reasons=OVERRIDE_REASONS, inputs={"rule_row": row.id, **inputs},
    )


def _is_intrathecal(order: MedicationOrder) -> bool:
    return bool(order.route and order.route.kind == "intrathecal")


def _intrathecal_rows(ctx: PatientContext, rows: Any, settings: RuleSettings) -> Iterator[tuple[MedicationOrder, str, Any]]:
    """(order, drug, row) for every intrathecal order under review whose drug has an enabled row."""
    for order in ctx.targets:
        if not _is_intrathecal(order):
            continue
        for drug in order.drug_ids:
            row = rows.get(drug)
            if row is not None and _enabled(row, settings):
                yield order, drug, row


# -- intrathecal doses -------------------------------------------------------------------

@rule("dose")
def intrathecal_dose(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    for order, drug, row in _intrathecal_rows(ctx, verification_view(kb).intrathecal, settings):
        if ctx.age is None:
            yield missing_data_finding(ctx, order, drug, "missing-data.intrathecal-age", "intrathecal dose",
                                       "needs the patient's age (birth date)", row.citation, inputs={"rule_row": row.id})
            continue
        n = normalize(order, ctx, ("mg",))
        if isinstance(n, str):
            yield missing_data_finding(ctx, order, drug, "missing-data.intrathecal-dose", "intrathecal dose", n, row.citation, inputs={"rule_row": row.id})
            continue
        band = row.band_for(ctx.age.months)
        if band is None:  # bands are contiguous from 0 (cross-check); kept for safety
            continue
        low, high = band.low_mg * (1 - row.tolerance_pct / 100), band.high_mg * (1 + row.tolerance_pct / 100)
        if low <= n.value <= high:
            continue
        above = n.value > high
        ref_dose = band.high_mg if above else band.low_mg
        pct = abs(n.value - ref_dose) / ref_dose * 100
        word = "above" if above else "below"
        yield Finding(
            rule_id=row.id, topic="dose", indicator=_indicator(row, row.indicator_above if above else row.indicator_below),
            summary=clip_summary(f"{drug} intrathecal {fmt(n.value)} mg is {word} the {band.dose_text} dose for age {ctx.age}"),
            detail="\n".join([
                f"**Intrathecal {drug}**: {order.display}",
                "",
                f"- Ordered: {n.how}",
                f"- Intrathecal dose for age {band.age_text}: {band.dose_text} (±{row.tolerance_pct:g}% accepted); "
                f"ordered dose is {pct:.0f}% {word} it",
                "- Intrathecal doses are fixed by age (CSF volume), not by BSA or weight.",
                "",
                *patient_lines(ctx),
                "",
                "Check the protocol's intrathecal dose for this age before signing.",
            ]),
            citation=row.citation, orders=(order.ref,), drug=drug, override_reasons=OVERRIDE_REASONS,
            inputs={**patient_inputs(ctx), "rule_row": row.id, "ordered_mg": round(n.value, 4),
                    "band": {"age": band.age_text, "low_mg": band.low_mg, "high_mg": band.high_mg}, "pct": round(pct, 1)},
        )


@rule("route")
def intrathecal_preservative(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    for order, drug, row in _intrathecal_rows(ctx, verification_view(kb).preservative_free, settings):
        product = " ".join(_texts(order.resource.get("medicationCodeableConcept"))) + " " + order.display
        product += " " + " ".join(_texts(order.resource.get("contained")))
        if "preservative free" in _words(product) or "preservative-free" in product.lower():
            continue
        term = _has_term(product, row.preserved_terms)
        if term is None:
            continue
        yield _text_finding(
            row, order, drug, f"{drug} intrathecal: this product contains a preservative – use a preservative-free product",
            [f"**Intrathecal {drug}**: {order.display}", "", f"- The product is described as '{term}'.",
             "- Only preservative-free methotrexate may be given intrathecally: the preserved formulation contains "
             "benzyl alcohol, which can cause severe central nervous system toxicity.", "",
             "Re-order with a preservative-free product."],
            {"product_term": term},
        )


# -- weight change and dose change since the last administration -------------------------

def _last_given(ctx: PatientContext, drug: str, before: date, route: str | None) -> Administration | None:
    """The newest administration of `drug` before `before` (same route when both are known)."""
    for a in ctx.administrations:  # newest first
        if drug not in a.drug_ids or (a.status or "completed") in _NOT_GIVEN or a.date >= before:
            continue
        a_route = a.route.kind if a.route else None
        if route and a_route and route != a_route:
            continue
        return a
    return None


def _size_dosed(kb: Knowledge, drug: str, order: MedicationOrder) -> str | None:
    """'m2' or 'kg' when the drug (or this order) is dosed by body size, else None."""
    unit = order.dose.amount.unit if order.dose and order.dose.amount else ""
    if unit.endswith("/m2"):
        return "m2"
    if unit.endswith("/kg"):
        return "kg"
    bases = {r.basis for r in dosing_view(kb).doses_for(drug)}
    return "m2" if "m2" in bases else ("kg" if "kg" in bases else None)


def _bsa(weight: Measurement | None, height: Measurement | None) -> float | None:
    return mosteller(weight, height).value if weight and height else None


@rule("dose")
def weight_change_since_last_dose(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    row = verification_view(kb).weight_change
    if not _enabled(row, settings) or ctx.weight is None:
        return
    for order in ctx.targets:
        for drug in order.drug_ids:
            if _size_dosed(kb, drug, order) is None:
                continue
            route = order.route.kind if order.route else None
            last = _last_given(ctx, drug, ctx.order_date, route)
            if last is None:
                continue
            then = measurement_on_or_before(ctx.weights, last.date)
            if then is None or then.source == ctx.weight.source:
                continue
            change = (ctx.weight.value - then.value) / then.value * 100
            threshold = row.threshold_pct(ctx.age.years if ctx.age else None)
            if round(abs(change), 6) <= threshold:  # 5.0% is "not more than 5%" despite float noise
                continue
            bsa_then = _bsa(then, measurement_on_or_before(ctx.heights, last.date))
            bsa_line = (f"- BSA then {bsa_then:.2f} m², now {ctx.bsa.value:.2f} m² ({(ctx.bsa.value - bsa_then) / bsa_then * 100:+.1f}%)"
                        if bsa_then and ctx.bsa else "- BSA then/now: not computable (height missing)")
            who = "adults" if threshold == row.adult_pct else "children"
            yield Finding(
                rule_id=row.id, topic="dose", indicator=_indicator(row, row.indicator),
                summary=clip_summary(f"{drug}: weight changed {change:+.0f}% since the last dose on {last.date.isoformat()} – re-verify the dose"),
                detail="\n".join([
                    f"**{drug}**: {order.display}",
                    "",
                    f"- Weight at the last dose: {then.value:g} kg on {then.date.isoformat()}",
                    f"- Weight now: {ctx.weight.value:g} kg on {ctx.weight.date.isoformat()} ({change:+.1f}%)",
                    bsa_line,
                    f"- Re-verification threshold for {who}: more than {threshold:g}%",
                    "",
                    "Recalculate the dose with the current weight and BSA before signing.",
                ]),
                citation=row.citation, orders=(order.ref,), drug=drug, override_reasons=OVERRIDE_REASONS,
                inputs={**patient_inputs(ctx), "rule_row": row.id, "last_dose_date": last.date.isoformat(),
                        "weight_then": {"value": then.value, "unit": "kg", "date": then.date.isoformat()},
                        "change_pct": round(change, 1), "threshold_pct": threshold,
                        "bsa_then": round(bsa_then, 4) if bsa_then else None},
            )


def _per_size(value_mg: float, basis: str, weight: Measurement | None, height: Measurement | None) -> float | None:
    size = _bsa(weight, height) if basis == "m2" else (weight.value if weight else None)
    return value_mg / size if size else None


def _given_per_size(ctx: PatientContext, a: Administration, basis: str) -> tuple[float | None, str]:
    """The administered dose per m²/kg with the body size of that day (or why not)."""
    if a.dose is None or a.dose.comparator:
        return None, "the last dose has no usable amount"
    try:
        return convert(a.dose.value, a.dose.unit, f"mg/{basis}"), f"{fmt(a.dose.value)} {a.dose.unit}"
    except UnitError:
        pass
    try:
        mg = convert(a.dose.value, a.dose.unit, "mg")
    except UnitError:
        return None, f"the last dose's unit {a.dose.unit!r} is not a mass"
    weight = measurement_on_or_before(ctx.weights, a.date)
    height = measurement_on_or_before(ctx.heights, a.date)
    per = _per_size(mg, basis, weight, height)
    if per is None:
        return None, f"no weight/height on or before {a.date.isoformat()}"
    size = f"BSA {_bsa(weight, height):.2f} m²" if basis == "m2" else f"weight {weight.value:g} kg"
    return per, f"{fmt(mg)} mg / {size} of {weight.date.isoformat()}"


def _above_rule(kb: Knowledge, ctx: PatientContext, drug: str, route: str | None, per: float, basis: str, settings: RuleSettings) -> bool | None:
    """True when `per` is above every matching dose row's high end (+tolerance); None: no row."""
    rows = [r for r in dosing_view(kb).doses_for(drug)
            if r.basis == basis and (not r.routes or route in r.routes) and r.bands.match(patient_values(ctx)) is True
            and r.dose_unit in ("mg/m2", "mg/kg")]
    if not rows:
        return None
    return all(per > r.high * (1 + settings.dose_tolerance_pct / 100) for r in rows)


@rule("dose")
def dose_change_from_last(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    row = verification_view(kb).dose_change
    if not _enabled(row, settings):
        return
    for order in ctx.targets:
        for drug in order.drug_ids:
            basis = _size_dosed(kb, drug, order)
            route = order.route.kind if order.route else None
            if basis is None or route is None:
                continue
            last = _last_given(ctx, drug, ctx.order_date, route)
            if last is None:
                continue
            now = normalize(order, ctx, (f"mg/{basis}",))
            before, how_before = _given_per_size(ctx, last, basis)
            if isinstance(now, str) or before is None or before <= 0:
                continue
            change = (now.value - before) / before * 100
            if round(abs(change), 6) <= row.change_pct:
                continue
            rise = change > 0
            above = _above_rule(kb, ctx, drug, route, now.value, basis, settings) if rise else None
            reason = " ".join(_texts(order.resource.get("note"))).strip()
            indicator = row.indicator_rise if rise and above and not reason else row.indicator_reduction if not rise else "info"
            unit = f"mg/{'m²' if basis == 'm2' else 'kg'}"
            lines = [
                f"**{drug}**: {order.display}",
                "",
                f"- Last dose: {fmt(before)} {unit} on {last.date.isoformat()} ({how_before})",
                f"- This order: {fmt(now.value)} {unit} ({now.how})",
                f"- Change: {change:+.0f}% (more than {row.change_pct:g}% is a dose modification, not rounding)",
            ]
            if rise:
                lines.append("- The new dose is above the dose rule for this patient." if above else
                             "- The new dose stays within the dose rule for this patient." if above is False else
                             "- No dose rule to compare the new dose with.")
            lines += [f"- Reason given on the order: {reason}" if reason else "- No reason is given on the order.", "",
                      "Confirm the change is intended (protocol escalation, toxicity, count-based titration)."]
            yield Finding(
                rule_id=row.id, topic="dose", indicator=_indicator(row, indicator),
                summary=clip_summary(f"{drug}: {fmt(now.value)} {unit} is {abs(change):.0f}% {'above' if rise else 'below'} "
                                     f"the last dose ({fmt(before)} {unit}, {last.date.isoformat()})"),
                detail="\n".join(lines),
                citation=row.citation, orders=(order.ref,), drug=drug, override_reasons=OVERRIDE_REASONS,
                inputs={**patient_inputs(ctx), "rule_row": row.id, "last_dose_date": last.date.isoformat(),
                        "last_per_size": round(before, 4), "ordered_per_size": round(now.value, 4), "unit": f"mg/{basis}",
                        "change_pct": round(change, 1), "above_rule": above, "reason_given": bool(reason)},
            )


# -- vinca alkaloids ---------------------------------------------------------------------

def _administration_texts(order: MedicationOrder) -> str:
    parts = [order.display, order.dosage_text or ""]
    if order.route and order.route.text:
        parts.append(order.route.text)
    for instr in order.resource.get("dosageInstruction") or () if isinstance(order.resource.get("dosageInstruction"), list) else ():
        if isinstance(instr, dict):
            parts += list(_texts(instr.get("method"))) + list(_texts(instr.get("text"))) + list(_texts(instr.get("additionalInstruction")))
            parts += list(_texts(instr.get("route")))
    return " ".join(parts)


@rule("route")
def vinca_by_minibag(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    row = verification_view(kb).vinca_minibag
    if not _enabled(row, settings):
        return
    drugs = drugs_view(kb)
    for order in ctx.targets:
        for drug in order.drug_ids:
            if not drugs.in_class(drug, row.drug_class):
                continue
            term = _has_term(_administration_texts(order), row.push_terms)
            if term is None:
                continue
            yield _text_finding(
                row, order, drug, f"{drug} ordered as '{term}': give vinca alkaloids only as a minibag infusion, never by syringe",
                [f"**{drug}**: {order.display}", "", f"- The order says '{term}'.",
                 "- Vinca alkaloids are dispensed in a minibag (about 25 mL for children, 50 mL for adults) and infused, "
                 "so they cannot be given intrathecally by mistake; intrathecal vincristine is fatal.", "",
                 "Change the order to an intravenous infusion in a minibag."],
                {"method_term": term},
            )


@rule("route")
def vinca_and_intrathecal_apart(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    row = verification_view(kb).vinca_apart
    if not _enabled(row, settings):
        return
    drugs = drugs_view(kb)
    vincas = [(o, d) for o in ctx.draft_orders for d in o.drug_ids if drugs.in_class(d, row.drug_class)]
    vinca_refs = {o.ref for o, _ in vincas}
    # an intrathecal vinca order is the route rule's critical card, not a "keep apart" note
    intrathecal = [o for o in ctx.draft_orders if _is_intrathecal(o) and o.drug_ids and o.ref not in vinca_refs]
    if not vincas or not intrathecal:
        return
    target_refs = {o.ref for o in ctx.targets}
    involved = tuple(dict.fromkeys([o.ref for o, _ in vincas] + [o.ref for o in intrathecal]))
    if not target_refs & set(involved):
        return
    vinca_order, vinca = vincas[0]
    it_names = ", ".join(dict.fromkeys(f"{o.drug_ids[0]} intrathecal" for o in intrathecal))
    yield Finding(
        rule_id=row.id, topic="route", indicator=_indicator(row, row.indicator),
        summary=clip_summary(f"{vinca} and {it_names} are ordered together: dispense and give them separately"),
        detail="\n".join([
            f"**{vinca}** ({vinca_order.display}) is ordered with intrathecal medication ({it_names}).",
            "",
            "- Prepare, label, deliver and give intrathecal doses apart from vinca alkaloids (separate time and place, "
            "intrathecal doses checked at the bedside by two people).",
        ]),
        citation=row.citation, orders=involved, drug=vinca,
        inputs={"rule_row": row.id, "intrathecal_orders": [o.ref for o in intrathecal]},
    )


# -- under-doses that match a capped BSA (called by the dose rule for its own card) -------

def capped_bsa_note(kb: Knowledge, ctx: PatientContext, low_per_m2: float, high_per_m2: float, ordered: float, unit: str) -> tuple[list[str], dict[str, Any]]:
    """Lines and inputs for a dose card when an under-dose equals the dose for a capped BSA.

    Why in the dose card and not a card of its own: it explains the under-dose the dose rule
    already reports (one finding, one card). Empty when the BSA is at or under every cap or the
    ordered amount does not match the capped dose within the row's `match_pct`.
    """
    row = verification_view(kb).bsa_cap
    if ctx.bsa is None:
        return [], {}
    for cap in sorted(row.caps_m2):
        if ctx.bsa.value <= cap:
            continue
        low, high = low_per_m2 * cap, high_per_m2 * cap
        tol = row.match_pct / 100
        if low * (1 - tol) <= ordered <= high * (1 + tol):
            expected = f"{fmt(low)}" if low == high else f"{fmt(low)}–{fmt(high)}"
            return ([
                f"- The ordered dose matches a BSA capped at {cap:g} m² ({expected} {unit} for {cap:g} m²) "
                f"while the patient's BSA is {ctx.bsa.value:.2f} m².",
                "- Full doses on actual body weight are recommended for obese adults; capping the BSA is a common "
                "cause of under-dosing. If the cap is intended (toxicity, protocol), say so in the order.",
            ], {"matches_capped_bsa_m2": cap, "capped_bsa_row": row.id, "capped_bsa_citation": row.citation})
    return [], {}
