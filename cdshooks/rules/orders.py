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
from ._dose_common import text_only_sig
from .registry import RuleSettings, rule
from .verdict import RowRef, Verdict

CITATION = "contract: missing-data - a check that could not run is reported, never passed silently (CDS Hooks 2.0 order-sign)"


def has_order_rules(view: DosingView, drug: str) -> bool:
    """A drug whose dose, route or schedule we check (others stay silent here)."""
    return bool(view.doses_for(drug) or view.limits_for(drug) or view.route_for(drug) or view.schedules_for(drug))


def order_name(order: MedicationOrder) -> str | None:
    """How a clinician knows the order: its medication text, never a resource id (None: no text)."""
    return order.display if order.display and order.display != "(unnamed medication)" else None


@rule("missing-data")
def orders_never_silent(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
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


def _unresolved(ctx: PatientContext, order: MedicationOrder) -> Verdict:
    return Verdict(
        row=RowRef("missing-data.order-medication", CITATION), topic="missing-data", indicator="warning", message="medication-unresolved",
        orders=(order.ref,), patient=True, facts={"name": order_name(order)},
        inputs={"medication": order.unresolved_medication},
    )


def _text_only(ctx: PatientContext, order: MedicationOrder, drug: str) -> Verdict:
    text = " ".join((order.dosage_text or "").split())
    return Verdict(
        row=RowRef("missing-data.sig-text-only", CITATION), topic="missing-data", indicator="warning", message="text-only-directions",
        drug=drug, orders=(order.ref,), patient=True, facts={"text": text, "name": order_name(order)}, inputs={"dosage_text": text},
    )
