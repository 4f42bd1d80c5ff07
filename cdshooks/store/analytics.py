"""Override analytics over stored feedback: pure functions, no SQL (the store hands in the facts).

Why a separate module: the same facts answer several questions a clinical safety review asks (per
rule, per topic, per override reason, per week, which rules to review), and each must count a card
once, with its latest outcome, and keep feedback for cards we never issued out of every rate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from ..cards.overrides import OVERRIDE_SYSTEM

NONE = "(none)"
DEFAULT_REVIEW_SHARE = 0.9
DEFAULT_REVIEW_MIN_CARDS = 20


@dataclass(frozen=True)
class Answer:
    """A card's latest feedback in the window."""

    rule: str | None  # None = we never issued this card (to this service, issuer and tenant)
    topic: str | None
    outcome: str  # "accepted" | "overridden"
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    at: datetime  # outcomeTimestamp


@dataclass(frozen=True)
class Issued:
    card_uuid: str
    rule: str
    topic: str
    at: datetime  # when we returned it


def reason_key(system: str | None, code: str | None) -> str:
    """Our codes by code; another system's as system|code; no reason given as (none)."""
    if not code:
        return NONE
    return code if system in (None, OVERRIDE_SYSTEM) else f"{system}|{code}"


def week_of(when: datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _rate(accepted: int, overridden: int) -> float | None:
    answered = accepted + overridden
    return overridden / answered if answered else None


def rate_rows(answers: Iterable[Answer], issued: Iterable[Issued]) -> list[dict[str, Any]]:
    """Per rule and per topic: issued in the window, accepted, overridden, override rate."""
    counts: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"issued": set(), "accepted": 0, "overridden": 0})
    for card in issued:
        counts[("rule", card.rule)]["issued"].add(card.card_uuid)
        counts[("topic", card.topic)]["issued"].add(card.card_uuid)
    for a in answers:
        groups = [("rule", a.rule), ("topic", a.topic or NONE)] if a.rule is not None else [("unissued", "*")]
        for group in groups:
            counts[group][a.outcome] += 1
    return [
        {"group": group, "key": key, "issued": len(c["issued"]), "accepted": c["accepted"], "overridden": c["overridden"],
         "override_rate": _rate(c["accepted"], c["overridden"])}
        for (group, key), c in sorted(counts.items())
    ]


def reason_rows(answers: Iterable[Answer]) -> list[dict[str, Any]]:
    """Override reasons, overall and per rule (issued cards only), most frequent first."""
    overall: Counter = Counter()
    per_rule: Counter = Counter()
    display: dict[str, str] = {}
    for a in answers:
        if a.rule is None or a.outcome != "overridden":
            continue
        key = reason_key(a.reason_system, a.reason_code)
        overall[key] += 1
        per_rule[(a.rule, key)] += 1
        if a.reason_display:
            display.setdefault(key, a.reason_display)
    total = sum(overall.values())
    rows = [{"group": "reason", "key": k, "display": display.get(k), "overridden": n, "share": n / total}
            for k, n in sorted(overall.items(), key=lambda kv: (-kv[1], kv[0]))]
    rule_totals: Counter = Counter()
    for (rule, _), n in per_rule.items():
        rule_totals[rule] += n
    rows += [{"group": "rule-reason", "key": f"{rule} / {k}", "rule": rule, "reason": k, "display": display.get(k), "overridden": n,
              "share": n / rule_totals[rule]}
             for (rule, k), n in sorted(per_rule.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))]
    return rows


def week_rows(answers: Iterable[Answer], issued: Iterable[Issued]) -> list[dict[str, Any]]:
    """Per ISO week: cards issued that week; feedback by the week of its outcome."""
    weeks: dict[str, dict[str, int]] = defaultdict(lambda: {"issued": 0, "accepted": 0, "overridden": 0})
    for card in issued:
        weeks[week_of(card.at)]["issued"] += 1
    for a in answers:
        if a.rule is not None:
            weeks[week_of(a.at)][a.outcome] += 1
    return [{"group": "week", "key": w, **c, "override_rate": _rate(c["accepted"], c["overridden"])} for w, c in sorted(weeks.items())]


def review_candidates(rows: Iterable[dict[str, Any]], share: float = DEFAULT_REVIEW_SHARE,
                      min_cards: int = DEFAULT_REVIEW_MIN_CARDS) -> list[dict[str, Any]]:
    """Rules overridden on more than `share` of at least `min_cards` answered cards."""
    out = []
    for r in rows:
        answered = r["accepted"] + r["overridden"]
        if r["group"] == "rule" and answered >= min_cards and r["override_rate"] is not None and r["override_rate"] > share:
            out.append({"rule": r["key"], "answered": answered, "overridden": r["overridden"], "override_rate": r["override_rate"]})
    return sorted(out, key=lambda r: (-r["override_rate"], -r["answered"], r["rule"]))
