"""Typed view of knowledge/data/interactions.json: drug classes and DDI pair rules.

Why a view: rules ask "which rule rows pair drug A with drug B, and through which class?" many
times per request; the view answers from precomputed member sets and keeps every answer traceable
to a row id, a class id and their citations (and their verified/unverified status).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from . import Knowledge, cross_check


@dataclass(frozen=True)
class DrugClass:
    id: str
    name: str
    members: frozenset[str]
    citation: str
    status: str


@dataclass(frozen=True)
class SeverityWhen:
    condition: str  # "high-dose-methotrexate" | "dose-not-reduced" | "asparaginase-given-before-vincristine" | "qt-risk"
    severity: str  # info | warning | critical | suppress
    members: frozenset[str] | None = None  # None = any interacting member
    params: Mapping[str, float] = field(default_factory=dict)  # thresholds the condition reads (e.g. qt-risk)


@dataclass(frozen=True)
class ReducedThreshold:
    value: float
    unit: str  # mg | mg/kg | mg/m2
    basis: str
    min_age_years: int | None = None


@dataclass(frozen=True)
class InteractionRule:
    id: str
    agents: frozenset[str]
    classes: tuple[str, ...]
    drugs: frozenset[str]
    severity: str
    member_severity: Mapping[str, str]
    when: tuple[SeverityWhen, ...]
    reduced_thresholds: tuple[ReducedThreshold, ...]
    mechanism: str
    action: str
    citation: str
    seed: str
    status: str
    default_enabled: bool

    @cached_property
    def rule_id(self) -> str:
        return f"interaction.{self.id}"


@dataclass(frozen=True)
class Match:
    """One rule matched for (agent, other): how the other drug qualified."""

    rule: InteractionRule
    agent: str
    other: str
    via: tuple[str, ...]  # class names, or "named in the rule"
    verified: bool  # False when the rule or every class that matched is unverified


@dataclass(frozen=True)
class InteractionKnowledge:
    classes: Mapping[str, DrugClass]
    rules: tuple[InteractionRule, ...]
    sources: Mapping[str, str]
    # Built once from the rows above (knowledge is immutable after load): every (agent, other)
    # pair that matches at least one rule, with its matches in rule order, and each rule's members.
    _index: Mapping[tuple[str, str], tuple[Match, ...]] = field(default_factory=dict, compare=False, repr=False)
    _members: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)
    agents: frozenset[str] = field(default=frozenset(), compare=False, repr=False)  # every rule's agents
    partners: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)  # agent -> others it matches
    # drug -> every drug it matches in either role (its partners, and the agents it is a partner of)
    reach: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        members = {rule.id: self._union(rule) for rule in self.rules}
        index: dict[tuple[str, str], tuple[Match, ...]] = {}
        for pair in dict.fromkeys((agent, other) for rule in self.rules for agent in sorted(rule.agents)
                                  for other in sorted(members[rule.id])):
            index[pair] = tuple(self.scan(*pair))
        object.__setattr__(self, "_members", members)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "agents", frozenset(agent for rule in self.rules for agent in rule.agents))
        partners: dict[str, set[str]] = {}
        for (agent, other), found in index.items():
            if found:
                partners.setdefault(agent, set()).add(other)
        object.__setattr__(self, "partners", {agent: frozenset(others) for agent, others in partners.items()})
        reach: dict[str, set[str]] = {}
        for agent, others in partners.items():
            reach.setdefault(agent, set()).update(others)
            for other in others:
                reach.setdefault(other, set()).add(agent)
        object.__setattr__(self, "reach", {drug: frozenset(found) for drug, found in reach.items()})

    def _union(self, rule: InteractionRule) -> frozenset[str]:
        out = set(rule.drugs)
        for cid in rule.classes:
            out |= self.classes[cid].members
        return frozenset(out)

    def members(self, rule: InteractionRule) -> frozenset[str]:
        """Every drug the rule names or reaches through its classes."""
        found = self._members.get(rule.id)
        return found if found is not None else self._union(rule)

    def matches(self, agent: str, other: str) -> tuple[Match, ...]:
        """Rules where `agent` is the ALL agent and `other` an interacting drug (one direction),
        in rule order: the precomputed answer of `scan` (a pair absent from the index matches nothing)."""
        return self._index.get((agent, other), ())

    def scan(self, agent: str, other: str) -> list[Match]:
        """The linear scan over every rule that defines `matches` (kept as its reference)."""
        found: list[Match] = []
        for rule in self.rules:
            if agent not in rule.agents:
                continue
            via: list[str] = []
            verified_via = False
            if other in rule.drugs:
                via.append("named in the rule")
                verified_via = True
            for cid in rule.classes:
                cls = self.classes[cid]
                if other in cls.members:
                    via.append(cls.name)
                    verified_via = verified_via or cls.status == "verified"
            if via:
                found.append(Match(rule, agent, other, tuple(via), verified_via and rule.status == "verified"))
        return found


def _build(kb: Knowledge) -> InteractionKnowledge:
    raw = kb.table("interactions")
    classes = {
        c["id"]: DrugClass(c["id"], c["name"], frozenset(c["members"]), c["citation"], c["status"]) for c in raw["classes"]
    }
    rules = []
    for r in raw["rules"]:
        when = tuple(
            SeverityWhen(w["condition"], w["severity"], frozenset(w["members"]) if w.get("members") else None, dict(w.get("params", {})))
            for w in r.get("when", ())
        )
        reduced = tuple(
            ReducedThreshold(t["value"], t["unit"], t["basis"], t.get("min_age_years"))
            for t in (r.get("reduced_dose") or {}).get("thresholds", ())
        )
        rules.append(
            InteractionRule(
                id=r["id"],
                agents=frozenset(r["agents"]),
                classes=tuple(r["interacting"]["classes"]),
                drugs=frozenset(r["interacting"]["drugs"]),
                severity=r["severity"],
                member_severity=dict(r.get("member_severity", {})),
                when=when,
                reduced_thresholds=reduced,
                mechanism=r["mechanism"],
                action=r["action"],
                citation=r["citation"],
                seed=r["seed"],
                status=r["status"],
                default_enabled=r["default_enabled"],
            )
        )
    return InteractionKnowledge(classes=classes, rules=tuple(rules), sources=dict(raw["sources"]))


def interaction_knowledge(kb: Knowledge) -> InteractionKnowledge:
    return kb.view("interactions", _build)


def known_drug_ids(kb: Knowledge) -> frozenset[str] | None:
    """Drug ids of drugs.json (plus combination ids), or None while drugs.json is not shipped."""
    drugs: Any = kb.tables.get("drugs")
    if not isinstance(drugs, Mapping) or not isinstance(drugs.get("drugs"), list):
        return None
    return frozenset(d["id"] for d in drugs["drugs"] if isinstance(d, Mapping) and "id" in d)


@cross_check
def _interactions_consistent(kb: Knowledge) -> list[str]:
    """Every class referenced exists; ids are unique; every drug id exists in drugs.json."""
    if "interactions" not in kb.tables:
        return []
    raw = kb.table("interactions")
    problems: list[str] = []
    class_ids = [c["id"] for c in raw["classes"]]
    rule_ids = [r["id"] for r in raw["rules"]]
    for name, ids in (("class", class_ids), ("rule", rule_ids)):
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            problems.append(f"interactions.json: duplicate {name} ids {sorted(dupes)}")
    known = known_drug_ids(kb)
    for r in raw["rules"]:
        for cid in r["interacting"]["classes"]:
            if cid not in class_ids:
                problems.append(f"interactions.json {r['id']}: unknown class {cid!r}")
        if r["status"] == "unverified" and r["severity"] == "critical":
            problems.append(f"interactions.json {r['id']}: an unverified rule cannot be critical")
        ids = set(r["agents"]) | set(r["interacting"]["drugs"]) | set(r.get("member_severity", {}))
        for w in r.get("when", ()):
            ids |= set(w.get("members", ()))
        if known is not None:
            problems += [f"interactions.json {r['id']}: drug id {d!r} not in drugs.json" for d in sorted(ids - known)]
    if known is not None:
        for c in raw["classes"]:
            problems += [f"interactions.json class {c['id']}: drug id {d!r} not in drugs.json" for d in sorted(set(c["members"]) - known)]
    return problems
