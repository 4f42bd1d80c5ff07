"""One readable pipeline per call, in the order the spec reads:

    envelope (already parsed) -> hook matches service -> resolve prefetch (412 if required data is
    unobtainable) -> build PatientContext -> run the service's rule families -> render cards ->
    record them in the audit table -> {"cards": [...]}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import requests

from ..cards import render_cards
from ..cards.merge import merge_missing_data
from ..knowledge.references import reference_index
from ..cards.render import response_extension
from ..config import Settings
from ..context.builder import build_context
from ..errors import HookMismatch
from ..knowledge import Knowledge
from ..fetch.hook import HookRequest
from ..fetch.prefetch import PrefetchResult, fetch_medications, resolve_prefetch
from ..rules import Finding
from ..rules.registry import RuleSettings, run_rules
from .descriptor import ServiceDescriptor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallResult:
    cards: list[dict[str, Any]]
    findings: list[Finding]
    prefetch: PrefetchResult
    silenced: list[Finding] = field(default_factory=list)  # site policy "silent": audited, not shown
    policy_version: str | None = None
    extension: dict[str, Any] | None = None  # response-level extension: which orders were recognised and how
    # The PatientContext the cards were built from. Read by no one: held so the route can free it
    # with the body after the answer is sent (protocol/routes.py `_free_after_sending`), ~0.3 ms
    # of deallocation off the answer's path, instead of as this function returns.
    context: Any = field(default=None, repr=False, compare=False)


def rule_settings(settings: Settings) -> RuleSettings:
    return RuleSettings(
        dose_tolerance_pct=settings.dose_tolerance_pct,
        dose_critical_pct=settings.dose_critical_pct,
        disabled_rules=settings.disabled_rules,
        enabled_soft_rules=settings.enabled_soft_rules,
        policy=settings.policy,
    )


def missing_prefetch_finding(service: ServiceDescriptor, result: PrefetchResult) -> Finding | None:
    """Optional data we could not obtain: say which checks are affected, never pass silently."""
    keys = sorted(k for k in result.missing if (p := service.prefetch_key(k)) is not None and p.failure != "412")
    if not keys:
        return None
    items = [{"key": k, "description": service.prefetch_key(k).description, "note": result.notes.get(k, "unavailable")}  # type: ignore[union-attr]
             for k in keys]
    return Finding(
        rule_id="missing-data.prefetch", topic="missing-data", indicator="warning",
        citation="CDS Hooks 2.0 §Prefetch (data unavailable to the service)",
        message="prefetch-unavailable", facts={"items": items}, inputs={"missingPrefetch": keys},
    )


def call_service(
    service: ServiceDescriptor,
    request: HookRequest,
    *,
    settings: Settings,
    knowledge: Knowledge,
    session: requests.Session,
    iss: str | None,
    now: datetime | None = None,
) -> CallResult:
    if request.hook != service.hook:
        raise HookMismatch(
            f"service {service.id} answers hook {service.hook!r}, but the request is for {request.hook!r}",
            expression=["hook"],
        )
    prefetch = resolve_prefetch(service.prefetch, request, settings, session, iss, service_id=service.id)
    medications, medication_notes = (
        fetch_medications(request, prefetch.data, settings, session, iss, deadline=prefetch.deadline, budget=prefetch.budget)
        if service.needs_draft_orders else ({}, {})
    )
    ctx = build_context(
        prefetch.data,
        patient_id=request.patient_id,
        draft_orders=request.draft_orders if service.needs_draft_orders else None,
        selections=request.selections if service.hook == "order-select" else None,
        kb=knowledge,
        now=now or settings.now(),
        missing_prefetch=frozenset(prefetch.missing),
        medications=medications,
    )
    silenced: list[Finding] = []
    findings = merge_missing_data(run_rules(ctx, knowledge, rule_settings(settings), service.families, silenced=silenced))
    extra = missing_prefetch_finding(service, prefetch)
    if extra is not None and not (service.hook == "patient-view" and not findings):
        findings.append(extra)
    version = settings.policy.version if settings.policy is not None else None
    index = reference_index(knowledge)
    cards = render_cards(
        findings, service_title=service.title, knowledge_version=knowledge.version, policy_version=version,
        references=lambda f: index.for_rule(f.rule_id, f.inputs.get("rule_row") if isinstance(f.inputs.get("rule_row"), str) else None, f.citation),
    )
    extension = response_extension(ctx, medication_notes) if service.needs_draft_orders else None
    return CallResult(cards=cards, findings=findings, prefetch=prefetch, silenced=silenced, policy_version=version, extension=extension,
                      context=ctx)
