"""What the engine returns: a Finding, rendered into a card by `cards.render`.

Rules yield a `verdict.Verdict` (facts, no words); `registry.run_rules` stamps it into a Finding:
rule id and citation from the knowledge row, the unverified-row cap, the patient inputs. The card
layer writes summary and detail from the topic's template (`message`, `facts`). A Finding built
with `summary`/`detail` text directly is the older form, still accepted while rule families move
to verdicts (tests/cards/test_templates.py lists which still do).
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
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}  # sort key: critical first


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
    summary: str = ""  # older form: text written by the rule (< 140 characters, generic name first)
    detail: str = ""  # older form: Markdown written by the rule
    citation: str = ""  # seed table/row or FDA label section; "label wins" notes go here too
    orders: tuple[str, ...] = ()  # "MedicationRequest/<id>" this finding concerns
    inputs: Mapping[str, Any] = field(default_factory=dict)  # values used, JSON-serializable
    drug: str | None = None  # knowledge drug id
    suggestions: tuple[SuggestionSpec, ...] = ()
    override_reasons: tuple[Coding, ...] = ()  # empty = cards.render picks defaults for the topic
    links: tuple[LinkSpec, ...] = ()
    message: str = ""  # template macro of the topic (cards/templates/<topic>.md.j2); "" = older form
    facts: Mapping[str, Any] = field(default_factory=dict)  # what the template shows
    patient: Mapping[str, Any] | None = None  # patient block facts (rules/patient.py), when asked for
    soft: bool = False  # the row is UNVERIFIED: a soft rule (warning at most, switchable off)
    override: tuple[str, ...] = ()  # override reason codes (cards/overrides.py), when not Codings

    def __post_init__(self) -> None:
        if self.topic not in TOPICS:
            raise ValueError(f"{self.rule_id}: unknown topic {self.topic!r}")
        if self.indicator not in INDICATORS:
            raise ValueError(f"{self.rule_id}: unknown indicator {self.indicator!r}")
        if not self.rule_id or not self.citation:
            raise ValueError("a finding needs a rule_id and a citation")
        if not self.message and not self.summary:
            raise ValueError(f"{self.rule_id}: a finding needs a template message (or, older form, a summary)")
