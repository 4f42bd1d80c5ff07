"""Which rule ids and topics exist, so a site policy naming an unknown one is refused.

Why a catalogue: a policy entry with a typo ("dose.vincristin") would silently do nothing, and the
CMIO would believe a rule is off when it still fires (or the reverse). Rule ids come from the
knowledge tables (each row's id, prefixed the way its rule module prefixes it) plus the few ids
that rules write in code. ``tests/policy`` replays every fixture and checks that every emitted rule
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
    }
)

# knowledge table -> (list keys holding rule rows, prefix the rule module adds to a row id)
_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "dosing": (("rules", "label_limits"), ""),
    "cumulative": (("rules",), ""),
    "monitoring": (("checks",), ""),
    "regimen": (("checks",), ""),
    "routes": (("rules", "notes"), ""),
    "schedules": (("rules",), ""),
    "interactions": (("rules",), "interaction."),
    "populations": (("populations",), "population."),
}


def _row_ids(rows: Any) -> Iterable[str]:
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            yield row["id"]
            cap = row.get("cap")
            if isinstance(cap, dict) and isinstance(cap.get("id"), str):
                yield cap["id"]


def known_rule_ids(kb: "Knowledge") -> frozenset[str]:
    ids = set(CODE_RULE_IDS)
    for table, (keys, prefix) in _TABLES.items():
        data = kb.tables.get(table)
        if not isinstance(data, dict):
            continue
        for key in keys:
            ids.update(prefix + i for i in _row_ids(data.get(key)))
        equivalence = data.get("equivalence")
        if isinstance(equivalence, dict) and isinstance(equivalence.get("id"), str):
            ids.add(equivalence["id"])
    from ..knowledge.regimen_templates import plan_rule_ids  # plan.* ids follow the loaded templates

    return frozenset(ids | plan_rule_ids(kb))


def covers(key: str, rule_id: str) -> bool:
    """A policy key names a rule id exactly or a dot-prefix of it ("dose.vincristine")."""
    return rule_id == key or rule_id.startswith(key + ".")


def is_known_rule(key: str, known: frozenset[str]) -> bool:
    """Known: an id in the catalogue, a dot-prefix of one (a family of rules), or a variant of one
    (rules append a band or status: ``population.SP-06.<band>``, ``pharmacogenomics.SP-19.poor``)."""
    return any(covers(key, rid) or covers(rid, key) for rid in known)


def is_known_topic(topic: str) -> bool:
    return topic in TOPICS
