"""What a rule returns: a Finding, rendered into a card by `cards.render`.

A rule fills in the clinical content (summary, detail Markdown showing the computation, inputs
with their dates, citation, optional corrected resource). The engine (`registry.run_rules`) adds
nothing clinical; `cards.render` adds uuids, source label/topic and the `extension.all-cds` block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

TOPICS = (
    "risk-group",
    "dose",
    "dose-limit",
    "cumulative-dose",
    "route",
    "schedule",
    "interaction",
    "population",
    "pharmacogenomics",
    "monitoring",
    "regimen",
    "missing-data",
)
INDICATORS = ("info", "warning", "critical")


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class ActionSpec:
    type: str  # "create" | "update" | "delete"
    description: str
    resource: Mapping[str, Any] | None = None  # the whole resource for create/update
    resource_id: str | None = None  # "MedicationRequest/x", for delete (and update, informative)


@dataclass(frozen=True)
class SuggestionSpec:
    label: str
    actions: tuple[ActionSpec, ...] = ()
    is_recommended: bool = False


@dataclass(frozen=True)
class LinkSpec:
    label: str
    url: str
    type: str = "absolute"  # "absolute" | "smart"
    app_context: str | None = None


@dataclass(frozen=True)
class Finding:
    rule_id: str  # stable id, the same in knowledge, tests, fixtures and card extension
    topic: str  # one of TOPICS
    indicator: str  # one of INDICATORS
    summary: str  # < 140 characters, names the drug's generic name when about a drug
    detail: str  # GitHub-flavoured Markdown: inputs with dates, computation, expected vs ordered, citation
    citation: str  # seed table/row or FDA label section; "label wins" notes go here too
    orders: tuple[str, ...] = ()  # "MedicationRequest/<id>" this finding concerns
    inputs: Mapping[str, Any] = field(default_factory=dict)  # values used, JSON-serializable
    drug: str | None = None  # knowledge drug id
    suggestions: tuple[SuggestionSpec, ...] = ()
    override_reasons: tuple[Coding, ...] = ()  # empty = cards.render picks defaults for the topic
    links: tuple[LinkSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.topic not in TOPICS:
            raise ValueError(f"{self.rule_id}: unknown topic {self.topic!r}")
        if self.indicator not in INDICATORS:
            raise ValueError(f"{self.rule_id}: unknown indicator {self.indicator!r}")
        if not self.rule_id or not self.citation:
            raise ValueError("a finding needs a rule_id and a citation")
