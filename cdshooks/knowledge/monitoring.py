"""Typed view of monitoring.json: TLS criteria (Cairo-Bishop) and the monitoring checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from . import Knowledge, cross_check
from .regimen import Check, check_from_row
from .risk import Threshold, check_class_drugs, check_sources_and_ids, threshold_from_row


@dataclass(frozen=True)
class TlsCriterion:
    threshold: Threshold  # threshold.input is the lab key (uric_acid, potassium, ...)
    population: str  # "all" | "pediatric" | "adult"

    def applies(self, pediatric: bool) -> bool:
        return self.population == "all" or (self.population == "pediatric") == pediatric


@dataclass(frozen=True)
class MonitoringKnowledge:
    classes: Mapping[str, frozenset[str]]
    tls_criteria: tuple[TlsCriterion, ...]
    checks: Mapping[str, Check]

    def check(self, rule_id: str) -> Check:
        return self.checks[rule_id]

    def members(self, class_name: str) -> frozenset[str]:
        return self.classes[class_name]


def _build(kb: Knowledge) -> MonitoringKnowledge:
    raw = kb.table("monitoring")
    return MonitoringKnowledge(
        classes={k: frozenset(v) for k, v in raw["classes"].items()},
        tls_criteria=tuple(TlsCriterion(threshold_from_row(r), r["population"]) for r in raw["tls_criteria"]),
        checks={row["id"]: check_from_row(row) for row in raw["checks"]},
    )


def monitoring_view(kb: Knowledge) -> MonitoringKnowledge:
    return kb.view("monitoring", _build)


@cross_check
def _monitoring_rows(kb: Knowledge) -> list[str]:
    return check_sources_and_ids(kb, "monitoring", ("tls_criteria", "checks")) + check_class_drugs(kb, "monitoring")
