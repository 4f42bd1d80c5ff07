"""Route checks (`route` and `missing-data` cards) against routes.json.

Why no `update` suggestion: a wrong route is not corrected by rewriting one field - an
intrathecal vincristine order must be removed and re-ordered by the intravenous route, so the
suggestion is a `delete` of the draft. Critical when the label forbids the route with severe or
fatal harm (vincristine, nelarabine, leucovorin intrathecal, daunorubicin IM/SC); otherwise a
warning. An unknown route on a drug with route restrictions is `missing-data`, never a pass.
"""

from __future__ import annotations

from typing import Iterator

from ..context.model import MedicationOrder, PatientContext
from ..knowledge import Knowledge
from ..knowledge.dosing import RouteRule, dosing_view
from ._dose_common import missing_data_verdict, text_only_sig
from .finding import ActionSpec, SuggestionSpec
from .verdict import Verdict
from .registry import RuleSettings, rule


@rule("route")
def route_allowed(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    view = dosing_view(kb)
    for order in ctx.targets:
        for drug in order.drug_ids:
            spec = view.route_for(drug)
            if text_only_sig(order):
                continue  # rules/orders.py: one free-text card
            if spec is None or (spec.status != "verified" and not settings.soft_rule_enabled(spec.id)):
                continue
            kind = order.route.kind if order.route else None
            if kind is None:
                yield _unknown_route(order, drug, spec)
                continue
            indicator = spec.indicator_for(kind)
            if indicator is not None:  # an unverified row is capped at warning by the engine
                yield _route_finding(ctx, order, drug, spec, kind, indicator)
            for note in view.route_notes_for(drug):
                if note.route == kind and settings.soft_rule_enabled(note.id, default=note.default_enabled):
                    if "preservative-free" in (order.display or "").lower():
                        continue
                    yield Verdict(
                        row=note, topic="route", indicator="info", message="note", drug=drug, orders=(order.ref,),
                        facts={"route": kind, "note": note.message, "display": order.display},
                        inputs={"route": kind, "rule_row": note.id},
                    )


def _unknown_route(order: MedicationOrder, drug: str, spec: RouteRule) -> Verdict:
    """No route the rule can judge on a drug with route restrictions: `missing-data`, never a pass.

    "Injection" says parenteral, not which: IV vs intrathecal is exactly what the route rule checks."""
    route = order.route
    sent = (route.text or route.code) if route else None
    return missing_data_verdict(
        order, drug, "missing-data.route", "route", None, spec, message="route-unknown",
        facts={"sent": sent, "parenteral": bool(route and route.parenteral and not sent),
               "implied_by": route.implied_by if route else None, "allowed": list(spec.allowed), "label": spec.message},
        inputs={"rule_row": spec.id},
    )


def _route_finding(ctx: PatientContext, order: MedicationOrder, drug: str, spec: RouteRule, kind: str, indicator: str) -> Verdict:
    sent = order.route.code or order.route.text if order.route else None
    shown = (order.route.text or order.route.code) if order.route else None  # what the prescriber picked
    implied = order.route.implied_by if order.route and order.route.implied_by and not sent else None
    forbidden = kind in spec.critical_routes and spec.other_routes != "critical"
    action = ActionSpec("delete", f"Remove the {kind} {drug} order", resource_id=order.ref)
    return Verdict(
        row=spec, topic="route", indicator=indicator, message="forbidden" if forbidden else "not-allowed",
        drug=drug, orders=(order.ref,), patient=True,
        facts={"route": kind, "sent": shown, "implied_by": implied, "allowed": list(spec.allowed), "label": spec.message,
               "display": order.display},
        inputs={"route": kind, "route_sent": sent or (f"no route field; implied by the {implied}" if implied else None),
                "allowed": list(spec.allowed), "rule_row": spec.id},
        suggestions=(SuggestionSpec(label=f"Remove the {kind} {drug} order (re-order {spec.allowed[0]})", actions=(action,), is_recommended=True),),
    )
