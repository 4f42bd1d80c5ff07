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

from datetime import date
from functools import lru_cache
from typing import Any, Iterable, Iterator

from ..context.model import Administration, MedicationOrder, Measurement, PatientContext
from ..context.observations import measurement_on_or_before, mosteller
from ..knowledge import Knowledge
from ..knowledge.dosing import dosing_view
from ..knowledge.drugs import drugs_view, padded_words
from ..knowledge.verification import RowMeta, verification_view
from ._dose_common import missing_data_verdict, missing_items, patient_values
from ._order_doses import normalize
from ._percall import given_with, memoized
from .registry import RuleSettings, rule
from .verdict import Amount, Verdict
from ..units import UnitError, convert

_NOT_GIVEN = frozenset({"entered-in-error", "not-done", "stopped", "cancelled", "on-hold"})


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


@lru_cache(maxsize=512)
def _term_words(term: str) -> str:
    """`padded_words` of a knowledge term (verification.json push/preserved terms): the same few strings
    on every request. Never called with order text (patient data is not remembered)."""
    return padded_words(term)


def _has_term(text: str, terms: Iterable[str]) -> str | None:
    """The first knowledge term whose words appear, in order, among the words of `text`."""
    haystack = padded_words(text)
    return next((t for t in terms if _term_words(t) in haystack), None)


def _text_verdict(row: Any, order: MedicationOrder, drug: str, message: str, term: str, inputs: dict[str, Any]) -> Verdict:
    """A `route` verdict about what the order's text says (a preserved product, a push): the row
    gives id, indicator (the engine caps an unverified one) and citation; the template the words."""
    return Verdict(row=row, topic="route", indicator=row.indicator, message=message, drug=drug, orders=(order.ref,),
                   facts={"term": term, "display": order.display}, inputs={"rule_row": row.id, **inputs})


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
def intrathecal_dose(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    for order, drug, row in _intrathecal_rows(ctx, verification_view(kb).intrathecal, settings):
        if ctx.age is None:
            needed, shown, _ = missing_items(ctx, ["age"])
            yield missing_data_verdict(order, drug, "missing-data.intrathecal-age", "intrathecal dose", None, row,
                                       {"needed": needed, "missing": shown}, {"rule_row": row.id})
            continue
        n = normalize(order, ctx, ("mg",))
        if isinstance(n, str):
            yield missing_data_verdict(order, drug, "missing-data.intrathecal-dose", "intrathecal dose", n, row, inputs={"rule_row": row.id})
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
        yield Verdict(
            row=row, topic="dose", indicator=row.indicator_above if above else row.indicator_below, message="intrathecal-off-band",
            drug=drug, orders=(order.ref,), patient=True,
            facts={"display": order.display, "ordered": Amount(n.value, "mg"), "how": n.facts(), "above": above, "pct": pct,
                   "age": str(ctx.age), "band_age": band.age_text, "band_dose": band.dose_text,
                   "low": Amount(band.low_mg, "mg"), "high": Amount(band.high_mg, "mg"), "tolerance_pct": row.tolerance_pct},
            inputs={"rule_row": row.id, "ordered_mg": round(n.value, 4),
                    "band": {"age": band.age_text, "low_mg": band.low_mg, "high_mg": band.high_mg}, "pct": round(pct, 1)},
        )


@rule("route")
def intrathecal_preservative(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    for order, drug, row in _intrathecal_rows(ctx, verification_view(kb).preservative_free, settings):
        product = " ".join(_texts(order.resource.get("medicationCodeableConcept"))) + " " + order.display
        product += " " + " ".join(_texts(order.resource.get("contained")))
        if "preservative free" in padded_words(product) or "preservative-free" in product.lower():
            continue
        term = _has_term(product, row.preserved_terms)
        if term is None:
            continue
        yield _text_verdict(row, order, drug, "preserved-intrathecal", term, {"product_term": term})


# -- weight change and dose change since the last administration -------------------------

@memoized  # VER-WT-01 and VER-DC-01 ask it for the same order, drug and day
def _last_given(ctx: PatientContext, drug: str, before: date, route: str | None) -> Administration | None:
    """The newest administration of `drug` before `before` (same route when both are known)."""
    for a in given_with(ctx, (drug,)):  # newest first
        if (a.status or "completed") in _NOT_GIVEN or a.date >= before:
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
    bases = dosing_view(kb).bases_for(drug)  # {r.basis for r in dosing_view(kb).doses_for(drug)}
    return "m2" if "m2" in bases else ("kg" if "kg" in bases else None)


def _bsa(weight: Measurement | None, height: Measurement | None) -> float | None:
    return mosteller(weight, height).value if weight and height else None


@rule("dose")
def weight_change_since_last_dose(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
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
            who = "adults" if threshold == row.adult_pct else "children"
            yield Verdict(
                row=row, topic="dose", indicator=row.indicator, message="weight-changed", drug=drug, orders=(order.ref,), patient=True,
                facts={"display": order.display, "last_date": last.date, "change_pct": change, "threshold_pct": threshold, "who": who,
                       "then": {"value": then.value, "date": then.date}, "now": {"value": ctx.weight.value, "date": ctx.weight.date},
                       "bsa_then": bsa_then, "bsa_now": ctx.bsa.value if ctx.bsa else None},
                inputs={"rule_row": row.id, "last_dose_date": last.date.isoformat(),
                        "weight_then": {"value": then.value, "unit": "kg", "date": then.date.isoformat()},
                        "change_pct": round(change, 1), "threshold_pct": threshold,
                        "bsa_then": round(bsa_then, 4) if bsa_then else None},
            )


def _per_size(value_mg: float, basis: str, weight: Measurement | None, height: Measurement | None) -> float | None:
    size = _bsa(weight, height) if basis == "m2" else (weight.value if weight else None)
    return value_mg / size if size else None


def _given_per_size(ctx: PatientContext, a: Administration, basis: str) -> tuple[float | None, dict[str, Any]]:
    """The administered dose per m²/kg with the body size of that day, and how it was had (facts).

    None when it cannot be had (no usable amount, not a mass, no weight/height on or before that day):
    then there is nothing to compare and no card."""
    if a.dose is None or a.dose.comparator:
        return None, {}
    try:
        return convert(a.dose.value, a.dose.unit, f"mg/{basis}"), {"given": Amount(a.dose.value, a.dose.unit)}
    except UnitError:
        pass
    try:
        mg = convert(a.dose.value, a.dose.unit, "mg")
    except UnitError:
        return None, {}
    weight = measurement_on_or_before(ctx.weights, a.date)
    height = measurement_on_or_before(ctx.heights, a.date)
    per = _per_size(mg, basis, weight, height)
    if per is None or weight is None:
        return None, {}
    size = Amount(_bsa(weight, height), "m2") if basis == "m2" else Amount(weight.value, "kg")
    return per, {"given": Amount(mg, "mg"), "size": size, "size_date": weight.date}


def _above_rule(kb: Knowledge, ctx: PatientContext, drug: str, route: str | None, per: float, basis: str, settings: RuleSettings) -> bool | None:
    """True when `per` is above every matching dose row's high end (+tolerance); None: no row."""
    rows = [r for r in dosing_view(kb).doses_for(drug)
            if r.basis == basis and (not r.routes or route in r.routes) and r.bands.match(patient_values(ctx)) is True
            and r.dose_unit in ("mg/m2", "mg/kg")]
    if not rows:
        return None
    return all(per > r.high * (1 + settings.dose_tolerance_pct / 100) for r in rows)


@rule("dose")
def dose_change_from_last(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
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
            yield Verdict(
                row=row, topic="dose", indicator=indicator, message="dose-changed", drug=drug, orders=(order.ref,), patient=True,
                facts={"display": order.display, "last_date": last.date, "before": Amount(before, f"mg/{basis}"), "how_before": how_before,
                       "now": Amount(now.value, f"mg/{basis}"), "how_now": now.facts(), "change_pct": change, "threshold_pct": row.change_pct,
                       "rise": rise, "above_rule": above, "reason": reason},
                inputs={"rule_row": row.id, "last_dose_date": last.date.isoformat(),
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
def vinca_by_minibag(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
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
            yield _text_verdict(row, order, drug, "vinca-push", term, {"method_term": term})


@rule("route")
def vinca_and_intrathecal_apart(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
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
    yield Verdict(
        row=row, topic="route", indicator=row.indicator, message="vinca-with-intrathecal", drug=vinca, orders=involved,
        facts={"display": vinca_order.display, "intrathecal": list(dict.fromkeys(o.drug_ids[0] for o in intrathecal)),
               "intrathecal_orders": list(dict.fromkeys(o.display for o in intrathecal))},
        inputs={"rule_row": row.id, "intrathecal_orders": [o.ref for o in intrathecal]},
    )


# -- under-doses that match a capped BSA (called by the dose rule for its own card) -------

def capped_bsa_match(kb: Knowledge, ctx: PatientContext, low_per_m2: float, high_per_m2: float, ordered: float) -> dict[str, Any]:
    """Inputs for a dose card when an under-dose equals the dose for a capped BSA ({} when not).

    Why in the dose card and not a card of its own: it explains the under-dose the dose rule
    already reports (one finding, one card); dose.md.j2 writes the sentence. Empty when the BSA is
    at or under every cap or the ordered amount does not match the capped dose within `match_pct`.
    """
    row = verification_view(kb).bsa_cap
    if ctx.bsa is None:
        return {}
    for cap in sorted(row.caps_m2):
        if ctx.bsa.value <= cap:
            continue
        low, high = low_per_m2 * cap, high_per_m2 * cap
        tol = row.match_pct / 100
        if low * (1 - tol) <= ordered <= high * (1 + tol):
            return {"matches_capped_bsa_m2": cap, "capped_bsa_row": row.id, "capped_bsa_citation": row.citation}
    return {}


def capped_bsa_note(kb: Knowledge, ctx: PatientContext, low_per_m2: float, high_per_m2: float, ordered: float, unit: str) -> tuple[list[str], dict[str, Any]]:
    """Older call shape (rules/dose.py reads only the inputs): no lines, the words are in dose.md.j2."""
    return [], capped_bsa_match(kb, ctx, low_per_m2, high_per_m2, ordered)
