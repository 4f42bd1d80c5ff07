"""Typed view of regimen.json: the RA-01..RA-21 checks and the drug classes they read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from . import Knowledge, cross_check
from .risk import check_class_drugs, check_sources_and_ids


@dataclass(frozen=True)
class Check:
    """One check row (regimen.json or monitoring.json): what card it raises and why."""

    id: str  # the stable rule id on the card
    ref: str  # the row in clinical-rules.md (RA-01, TLS-2, ...)
    indicator: str
    message: str
    citation: str
    status: str
    phases: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    encoded: bool = True
    scope: str = "any"  # "ALL": protocol check, only with an ALL diagnosis; "any": label-level, every patient

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def check_from_row(row: Mapping[str, Any]) -> Check:
    return Check(
        id=row["id"],
        ref=row["ref"],
        indicator=row["indicator"],
        message=row["message"],
        citation=row["citation"],
        status=row["status"],
        phases=tuple(row.get("phases", ())),
        params=dict(row.get("params", {})),
        encoded=row.get("encoded", True),
        scope=row.get("scope", "any"),
    )


@dataclass(frozen=True)
class RegimenKnowledge:
    classes: Mapping[str, frozenset[str]]
    checks: Mapping[str, Check]

    def check(self, rule_id: str) -> Check:
        return self.checks[rule_id]

    def members(self, class_name: str) -> frozenset[str]:
        return self.classes[class_name]


def _build(kb: Knowledge) -> RegimenKnowledge:
    raw = kb.table("regimen")
    return RegimenKnowledge(
        classes={k: frozenset(v) for k, v in raw["classes"].items()},
        checks={row["id"]: check_from_row(row) for row in raw["checks"]},
    )


def regimen_view(kb: Knowledge) -> RegimenKnowledge:
    return kb.view("regimen", _build)


@cross_check
def _regimen_rows(kb: Knowledge) -> list[str]:
    return check_sources_and_ids(kb, "regimen", ("checks",)) + check_class_drugs(kb, "regimen")
