"""Which rule ids and topics exist, so a site policy naming an unknown one is refused.

Why a catalogue: a policy entry with a typo ("dose.vincristin") would silently do nothing, and the
CMIO would believe a rule is off when it still fires (or the reverse). Rule ids come from the
knowledge tables (each row's id, prefixed the way its rule module prefixes it) plus the few ids
that rules write in code. ``tests/replay`` replays every fixture and checks that every emitted rule
id is covered here, so a new rule cannot escape the catalogue unnoticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from ..rules.finding import TOPICS

if TYPE_CHECKING:  # pragma: no cover
    from ..knowledge import Knowledge

# Rule ids written as literals in rule modules (not knowledge rows).
CODE_RULE_IDS = frozenset(
    {
        "risk.group",
        "pharmacogenomics.SP-19",
        "missing-data.prefetch",
        "missing-data.phase",
        "missing-data.population-labs",
        "missing-data.cumulative-dose",
        "missing-data.dose-amount",
        "missing-data.dose-inputs",
        "missing-data.route",
        "missing-data.schedule",
        "missing-data.hdmtx-bsa",  # rules/monitoring.py (issue 13 item 9)
        "missing-data.intrathecal-age",
        "missing-data.intrathecal-dose",
        "missing-data.order-medication",
        "missing-data.sig-text-only",
        "missing-data.plan",
        "missing-data.plan-dose",
    }
)

# Tables that hold no rule rows, and sections of the others that list sources or classes, not rules.
_NOT_RULES = frozenset({"manifest", "drugs", "codes", "references"})
_NOT_RULE_SECTIONS = frozenset({"sources", "classes", "combinations"})
# Rule modules that prefix a row's id: table -> prefix.
_PREFIXED = {"interactions": "interaction.", "populations": "population."}


def _ids(node: Any, skip: bool = False) -> Iterable[str]:
    """Every ``id`` string in a table, at any depth (rows, caps, bands, single-row sections)."""
    if isinstance(node, dict):
        if not skip and isinstance(node.get("id"), str):
            yield node["id"]
        for key, value in node.items():
            if key not in _NOT_RULE_SECTIONS:
                yield from _ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _ids(value)


def known_rule_ids(kb: "Knowledge") -> frozenset[str]:
    """Generous on purpose (a row id that is not a rule id only widens what a policy may name);
    ``tests/replay`` fails when a rule emits an id this misses."""
    ids = set(CODE_RULE_IDS)
    for table, data in kb.tables.items():
        if table in _NOT_RULES:
            continue
        prefix = _PREFIXED.get(table, "")
        ids.update(prefix + i for i in _ids(data, skip=True))
    ids.update(_plan_rule_ids(kb))
    return frozenset(ids)


def _plan_rule_ids(kb: "Knowledge") -> Iterable[str]:
    """Regimen-template checks (rules/plan.py) name their rule after the template item or phase."""
    from ..knowledge.regimen_templates import template_library

    for template in template_library(kb).templates.values():
        for phase in template.phases:
            yield f"plan.not-in-plan.{template.id}.{phase.id}"
            for item in phase.items:
                yield from (f"plan.{kind}.{item.id}" for kind in ("dose", "already-given", "other-phase"))


def covers(key: str, rule_id: str) -> bool:
    """A policy key names a rule id exactly or a dot-prefix of it ("dose.vincristine")."""
    return rule_id == key or rule_id.startswith(key + ".")


def is_known_rule(key: str, known: frozenset[str]) -> bool:
    """Known: an id in the catalogue, a dot-prefix of one (a family of rules), or a variant of one
    (rules append a band or status: ``population.SP-06.<band>``, ``pharmacogenomics.SP-19.poor``)."""
    return any(covers(key, rid) or covers(rid, key) for rid in known)


def is_known_topic(topic: str) -> bool:
    return topic in TOPICS
