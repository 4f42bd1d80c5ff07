"""Golden comparison: the cards a fixture's expected.json promises vs the cards the service returned.

One comparator for the golden tests (tests/fixtures/test_goldens.py) and `cdshooks check --all`,
so "matches its golden" means the same thing in CI and at an integrator's desk.

A golden request entry is {"checkedTopics": [...], "cards": [...]}: for every checked topic the
returned cards must equal the expected ones, both ways (each expected card once, no extra card of
a checked topic). An expected card is
  {topic, indicator, drug?, ruleId, clinicalRules?, summaryContains?, values?}
- `ruleId`: the card's extension all-cds ruleId, exactly (one rule's card cannot stand in for
  another's; `ruleIdPrefix` is still read for goldens written before exact ids);
- `clinicalRules`: clinical-rules.md ids (SP-06, DDI-13, NCI-2 ...) the card must cite: each must
  appear as a whole id in its citation or in inputs.rules (merged interaction cards);
- `summaryContains`: one string or a list; each must appear in the summary (case-insensitive);
- `values`: the numbers a prescriber acts on, within a stated rounding (see `value_problems`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping


def card_ext(card: Mapping[str, Any]) -> Mapping[str, Any]:
    ext = card.get("extension")
    ext = ext.get("all-cds") if isinstance(ext, dict) else None
    return ext if isinstance(ext, dict) else {}


def card_topic(card: Mapping[str, Any]) -> str:
    source = card.get("source") if isinstance(card.get("source"), dict) else {}
    topic = source.get("topic") if isinstance(source.get("topic"), dict) else {}
    return str(topic.get("code", ""))


def _lookup(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def value_problems(expected: Mapping[str, Any], card: Mapping[str, Any]) -> list[str]:
    """`values`: {"<inputs path>": {"value": v, "tolerance": t}} — each number read from the card's
    extension all-cds `inputs` must lie within ±t of v (t states the golden's rounding)."""
    problems = []
    inputs = card_ext(card).get("inputs")
    inputs = inputs if isinstance(inputs, dict) else {}
    for path, want in (expected.get("values") or {}).items():
        got = _lookup(inputs, path)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            problems.append(f"{path}: expected {want['value']} ± {want['tolerance']}, card has {got!r}")
        elif abs(float(got) - float(want["value"])) > float(want["tolerance"]) + 1e-9:
            problems.append(f"{path}: expected {want['value']} ± {want['tolerance']}, card has {got}")
    return problems


def matches(expected: Mapping[str, Any], card: Mapping[str, Any]) -> bool:
    """Identity of a card: topic, indicator, drug, rule id (exact, or a legacy prefix), summary."""
    ext = card_ext(card)
    if card_topic(card) != expected["topic"] or card.get("indicator") != expected["indicator"]:
        return False
    if "drug" in expected and ext.get("drug") != expected["drug"]:
        return False
    if "ruleId" in expected and ext.get("ruleId") != expected["ruleId"]:
        return False
    if "ruleIdPrefix" in expected and not str(ext.get("ruleId", "")).startswith(expected["ruleIdPrefix"]):
        return False
    summary = (card.get("summary") if isinstance(card.get("summary"), str) else "").lower()
    wanted = expected.get("summaryContains", [])
    if any(w.lower() not in summary for w in ([wanted] if isinstance(wanted, str) else wanted)):
        return False
    cited = cited_rules(card)
    return all(r in cited for r in expected.get("clinicalRules", []))


def cited_rules(card: Mapping[str, Any]) -> set[str]:
    """clinical-rules.md ids a card cites (`NCI-3-age: ... row NCI-3` cites NCI-3 and NCI-3-age)."""
    ext = card_ext(card)
    text = str(ext.get("citation") or "")
    inputs = ext.get("inputs") if isinstance(ext.get("inputs"), dict) else {}
    rules = inputs.get("rules") if isinstance(inputs.get("rules"), list) else []
    text += " " + " ".join(str(r) for r in rules)
    ids = set(re.findall(r"(?<![\w-])([A-Z]{2,5}-\d+[A-Za-z]?)(?!\d)", text))
    return ids


def describe(card: Mapping[str, Any]) -> str:
    ext = card_ext(card)
    return f"{card.get('indicator')}/{card_topic(card)}/{ext.get('drug')}/{ext.get('ruleId')}"


def compare(golden: Mapping[str, Any], cards: list[Mapping[str, Any]]) -> list[str]:
    """Both directions, per checked topic: each expected card once (with its numbers), no extra card."""
    checked = set(golden["checkedTopics"])
    unmatched = [c for c in cards if card_topic(c) in checked]
    problems = []
    for exp in golden["cards"]:
        hit = next((c for c in unmatched if matches(exp, c)), None)
        if hit is None:
            problems.append(f"MISSING expected card {dict(exp)}")
            continue
        unmatched.remove(hit)
        problems += [f"WRONG NUMBER on {describe(hit)}: {p}" for p in value_problems(exp, hit)]
    for c in unmatched:
        problems.append(f"UNEXPECTED card {describe(c)} summary={c.get('summary')!r}")
    return problems


def summarize(cards: list[Mapping[str, Any]]) -> str:
    return "; ".join(describe(c) for c in cards) or "(no cards)"
