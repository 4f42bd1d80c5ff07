"""Findings with the card text the templates write, for rule tests that read summary/detail.

Why: a rule yields a Verdict (facts, no words); the engine stamps it into a Finding whose text
`cards.text.render_text` writes. Rule tests that check wording ("day 6" in the summary) read the
same text the card shows, so they call the real renderer, never a copy of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from cdshooks.cards.text import render_text
from cdshooks.rules.finding import Finding
from cdshooks.rules.registry import RuleSettings, iter_findings


def with_text(finding: Finding) -> Finding:
    """The finding with summary and detail as the card shows them (older-form findings unchanged)."""
    if not finding.message:
        return finding
    summary, detail = render_text(finding)
    return replace(finding, summary=summary, detail=detail)


def rendered(findings: Iterable[Finding]) -> list[Finding]:
    return [with_text(f) for f in findings]


def run_rendered(fn: Any, ctx: Any, kb: Any, settings: RuleSettings | None = None) -> list[Finding]:
    """One rule function's findings, stamped as the engine stamps them, with their card text."""
    return rendered(iter_findings([fn], ctx, kb, settings or RuleSettings()))
