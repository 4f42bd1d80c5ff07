"""Issue 16 "summary discipline": context (info) cards never outnumber the findings.

Checked on every response of every fixture (tests/fixtures/test_goldens.py) and unit-tested here:
- at most one risk-group card per response (the groups are read together);
- at most one info monitoring card per monitoring topic (the rule id's second part: "crs", "tls",
  "anthracycline" ...), e.g. one CRS reminder listing every CRS agent ordered;
- on an order hook with findings (warning or critical cards), info cards do not outnumber them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable


def _rule(card: dict[str, Any]) -> str:
    return str(((card.get("extension") or {}).get("all-cds") or {}).get("ruleId", ""))


def _topic(card: dict[str, Any]) -> str:
    return str(((card.get("source") or {}).get("topic") or {}).get("code", ""))


def count_problems(cards: Iterable[dict[str, Any]], *, order_hook: bool) -> list[str]:
    cards = list(cards)
    problems = []
    risk = [c for c in cards if _topic(c) == "risk-group"]
    if len(risk) > 1:
        problems.append(f"{len(risk)} risk-group cards (one expected): {[c.get('summary') for c in risk]}")
    monitoring = Counter(_rule(c).split(".")[1] if "." in _rule(c) else _rule(c)
                         for c in cards if _topic(c) == "monitoring" and c.get("indicator") == "info")
    problems += [f"{n} info monitoring cards for topic {t!r} (one expected)" for t, n in monitoring.items() if n > 1]
    info = [c for c in cards if c.get("indicator") == "info"]
    findings = len(cards) - len(info)
    if order_hook and findings and len(info) > findings:
        problems.append(f"{len(info)} info cards outnumber {findings} findings: {[_rule(c) for c in info]}")
    return problems
