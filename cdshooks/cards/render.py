"""Finding -> card. The only place that knows the card wire format and the contract's extension.

Contract (shared/contract.md): uuid on every card and suggestion; summary < 140 characters;
source.label names the service and knowledge version; source.topic is a Coding in
`urn:all-cds:card-topic`; extension.all-cds = {ruleId, orders, inputs, citation}.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from ..knowledge.references import Reference
from ..rules.finding import ActionSpec, Coding, Finding, LinkSpec, SuggestionSpec
from .overrides import REASONS, TOPIC_DEFAULTS, reasons_for
from .text import SUMMARY_LIMIT, clip_summary, render_text  # noqa: F401 (SUMMARY_LIMIT re-exported)
from .wording import clean_detail, clinician_text, scrub, sources_section

TOPIC_SYSTEM = "urn:all-cds:card-topic"
EXTENSION_KEY = "all-cds"
TOPIC_DISPLAY = {
    "risk-group": "Risk group",
    "dose": "Dose",
    "dose-limit": "Per-dose limit",
    "cumulative-dose": "Cumulative dose",
    "route": "Route",
    "schedule": "Schedule",
    "interaction": "Drug interaction",
    "population": "Special population",
    "pharmacogenomics": "Pharmacogenomics",
    "monitoring": "Monitoring",
    "regimen": "Regimen fit",
    "missing-data": "Missing data",
}


# The variant nibble of an RFC 4122 UUID is 10xx: its two low bits stay random.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_uuid() -> str:
    """A random UUID (version 4, RFC 4122 variant) as `str(uuid.uuid4())` writes it.

    Written from 16 random bytes without building a `uuid.UUID` (a third of the cost; eleven per
    response): the same 122 random bits, version and variant bits set the same way."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _coding(c: Coding) -> dict[str, str]:
    return {"system": c.system, "code": c.code, "display": c.display}


@lru_cache(maxsize=256)
def _override_codings(topic: str, codes: tuple[str, ...]) -> tuple[dict[str, str], ...] | None:
    """`overrideReasons` for a card of `topic` whose rule names `codes`, kept per process (our own
    vocabulary, no patient data): exactly `[_coding(c) for c in reasons_for(topic, codes)]`. None
    when a code is not ours, so `reasons_for` still logs it on every card that names it."""
    if any(code not in REASONS for code in codes or TOPIC_DEFAULTS.get(topic, ())):
        return None
    return tuple(_coding(c) for c in reasons_for(topic, codes))


def _action(a: ActionSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": a.type, "description": a.description}
    if a.resource is not None:
        out["resource"] = a.resource
    if a.resource_id:
        out["resourceId"] = a.resource_id
    return out


def _suggestion(s: SuggestionSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"label": s.label, "uuid": new_uuid()}
    if s.is_recommended:
        out["isRecommended"] = True
    if s.actions:
        out["actions"] = [_action(a) for a in s.actions]
    return out


def _link(link: LinkSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"label": link.label, "url": link.url, "type": link.type}
    if link.type == "smart" and link.app_context:
        out["appContext"] = link.app_context
    return out


def source_label(service_title: str, knowledge_version: str, policy_version: str | None = None) -> str:
    label = f"{service_title} · ALL CDS knowledge {knowledge_version}"
    return f"{label} · site policy {policy_version}" if policy_version else label


def render_card(
    finding: Finding, *, service_title: str, knowledge_version: str, policy_version: str | None = None,
    references: tuple[Reference, ...] = (),
) -> dict[str, Any]:
    summary, detail = render_text(finding)
    if not finding.message:  # older form: text written by a rule, cleaned of what clinicians must not read
        summary, detail = clip_summary(clinician_text(summary)), clean_detail(detail)
    else:  # knowledge rows' notes reach the template as facts: their internal references go here
        scrubbed, detail = scrub(summary), scrub(detail)
        # the template's summary is clipped (text.body) and clipping twice is clipping once: only a
        # summary the scrub changed is clipped again
        summary = summary if scrubbed is summary else clip_summary(scrubbed)
    section = sources_section(finding.citation, [(r.title, r.url) for r in references])
    if section:
        detail += "\n\n" + section
    source: dict[str, Any] = {
        "label": source_label(service_title, knowledge_version, policy_version),
        "topic": {"system": TOPIC_SYSTEM, "code": finding.topic, "display": TOPIC_DISPLAY[finding.topic]},
    }
    if references:
        source["url"] = references[0].url
    card: dict[str, Any] = {
        "uuid": new_uuid(),
        "summary": summary,
        "indicator": finding.indicator,
        "detail": detail,
        "source": source,
        "extension": {
            EXTENSION_KEY: {
                "ruleId": finding.rule_id,
                "orders": list(finding.orders),
                "inputs": dict(finding.inputs),
                "citation": finding.citation,
                "knowledgeVersion": knowledge_version,
                **({"sitePolicy": policy_version} if policy_version else {}),
                **({"drug": finding.drug} if finding.drug else {}),
            }
        },
    }
    if finding.suggestions:
        card["suggestions"] = [_suggestion(s) for s in finding.suggestions]
        card["selectionBehavior"] = "at-most-one"
    if finding.indicator != "info" or finding.override_reasons:
        known = None if finding.override_reasons else _override_codings(finding.topic, tuple(finding.override))
        if known is not None:
            if known:
                card["overrideReasons"] = [dict(c) for c in known]  # each card its own dicts
        else:
            reasons = finding.override_reasons or reasons_for(finding.topic, finding.override)
            if reasons:
                card["overrideReasons"] = [_coding(c) for c in reasons]
    links = [_link(l) for l in finding.links]
    if references:
        linked = {l["url"] for l in links}  # the rule's own links (the list below does not add to it)
        links += [{"label": f"Open: {r.title}", "url": r.url, "type": "absolute"} for r in references if r.url not in linked]
    if links:
        card["links"] = links
    return card


ReferenceResolver = Callable[[Finding], tuple[Reference, ...]]


def render_cards(
    findings: Iterable[Finding], *, service_title: str, knowledge_version: str, policy_version: str | None = None,
    references: ReferenceResolver | None = None,
) -> list[dict[str, Any]]:
    return [
        render_card(f, service_title=service_title, knowledge_version=knowledge_version, policy_version=policy_version,
                    references=references(f) if references else ())
        for f in findings
    ]


def order_recognition(order: Any, notes: Mapping[str, str]) -> dict[str, Any]:
    """How one draft was read: drug ids and by what, product strength/form and its source, route."""
    out: dict[str, Any] = {"order": order.ref, "display": order.display, "recognised": bool(order.drug_ids)}
    if order.drug_ids:
        out.update({"drugs": list(order.drug_ids), "identifiedBy": order.identified_by})
    product = order.product
    if product is not None:
        out["product"] = {
            "strength": str(product.strength) if product.strength else None,
            "doseForm": product.dose_form.name if product.dose_form else None,
            "source": product.source,
        }
    if order.route is not None:
        out["route"] = {"kind": order.route.kind, **({"impliedBy": order.route.implied_by} if order.route.implied_by else {})}
    if order.unresolved_medication:
        out["medication"] = {"reference": order.unresolved_medication, "unavailable": notes.get(order.unresolved_medication, "not obtained")}
    return out


def response_extension(ctx: Any, notes: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """`extension.all-cds.orders` of the response: every draft order, recognised or not, and how."""
    if not ctx.draft_orders:
        return None
    return {EXTENSION_KEY: {"orders": [order_recognition(o, notes or {}) for o in ctx.draft_orders]}}
