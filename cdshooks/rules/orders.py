"""Never a silent pass on a draft order (`missing-data` cards about the order itself).

Why: a card from the dose, route or schedule rule needs a drug and a structured dose. Two shapes
would otherwise give no card at all although nothing was checked:
- a draft whose drug cannot be identified because the Medication it references could not be had
  (not contained, not in any prefetch Bundle, not readable from a trusted fhirServer), and
- a dosage that is only free text ("1 tab by mouth daily"): one card quotes the text and names what
  could not be checked (the dose, route and schedule rules leave such an order to this card).
Drugs we have no order rules for (antiemetics, antibiotics) stay silent (they still take part in
interactions), and an order-select draft with no medication chosen yet is quiet. The response
extension lists every draft and how it was recognised (cards.render.order_recognition).
"""

from __future__ import annotations

from typing import Iterator

from ..context.model import MedicationOrder, PatientContext
from ..knowledge import Knowledge
from ..knowledge.dosing import DosingView, dosing_view
from ._dose_common import clip_summary, patient_inputs, text_only_sig
from .finding import Finding
from .registry import RuleSettings, rule

CITATION = "contract: missing-data - a check that could not run is reported, never passed silently (CDS Hooks 2.0 order-sign)"


def has_order_rules(view: DosingView, drug: str) -> bool:
    """A drug whose dose, route or schedule we check (others stay silent here)."""
    return bool(view.doses_for(drug) or view.limits_for(drug) or view.route_for(drug) or view.schedules_for(drug))


def order_name(order: MedicationOrder) -> str:
    """How a clinician knows the order: its medication text, never a resource id."""
    return order.display if order.display and order.display != "(unnamed medication)" else "a draft medication order"


@rule("missing-data")
def orders_never_silent(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    view = dosing_view(kb)
    for order in ctx.targets:
        if not order.is_draft:
            continue
        if not order.drug_ids:
            if order.unresolved_medication:
                yield _unresolved(ctx, order)
            continue  # no medication chosen yet, or a drug we do not know: listed in the response extension
        drugs = [d for d in order.drug_ids if has_order_rules(view, d)]
        if drugs and text_only_sig(order):
            yield _text_only(ctx, order, drugs[0])


def _unresolved(ctx: PatientContext, order: MedicationOrder) -> Finding:
    name = order_name(order)
    lead = f"'{name}'" if name != "a draft medication order" else "A draft medication order"
    summary = clip_summary(f"{lead}: drug not identified – its Medication could not be obtained; not checked")
    detail = "\n".join([
        f"**Order not checked**: {name}.",
        "",
        "- The order names its drug only by a reference to a Medication resource, and that Medication was not contained "
        "in the order, not in the prefetch and could not be read from a trusted FHIR server (the reference is in this card's inputs).",
        "- No dose, route, schedule, interaction or population check ran for this order: no card does **not** mean it passed.",
        "- Send the Medication (contained or in prefetch), or a medicationCodeableConcept with its RxNorm code.",
        "",
        f"Rule: {CITATION}",
    ])
    return Finding(
        rule_id="missing-data.order-medication", topic="missing-data", indicator="warning", summary=summary, detail=detail,
        citation=CITATION, orders=(order.ref,), inputs={**patient_inputs(ctx), "medication": order.unresolved_medication},
    )


def _text_only(ctx: PatientContext, order: MedicationOrder, drug: str) -> Finding:
    text = " ".join((order.dosage_text or "").split())
    quoted = text if len(text) <= 60 else text[:57] + "…"
    summary = clip_summary(f"{drug}: dose, route and schedule not checked – only free-text directions ('{quoted}')")
    detail = "\n".join([
        f"**{drug}: directions are free text only** – {order_name(order)}",
        "",
        f"> {text}",
        "",
        "- Not checked: the dose (no doseQuantity/doseRange), the route (no route) and the schedule (no timing).",
        "- The text is not interpreted: a structured dose, route and timing are needed for these checks.",
        "",
        f"Rule: {CITATION}",
    ])
    return Finding(
        rule_id="missing-data.sig-text-only", topic="missing-data", indicator="warning", summary=summary, detail=detail,
        citation=CITATION, orders=(order.ref,), inputs={**patient_inputs(ctx), "dosage_text": text}, drug=drug,
    )
