"""Run rule functions as the engine does and read their cards' text (tests of rule families).

`rendered(ctx, kb, settings, fn, ...)` stamps each Verdict (registry.iter_findings) and fills the
Finding's summary/detail and override reasons from the card templates (cards/text.py,
cards/overrides.py), so a test can assert on the words a prescriber reads and on the findings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cdshooks.cards.overrides import reasons_for
from cdshooks.cards.text import render_text
from cdshooks.rules.finding import Finding
from cdshooks.rules.registry import RuleSettings, iter_findings


def with_text(finding: Finding) -> Finding:
    if not finding.message:
        return finding
    summary, detail = render_text(finding)
    return replace(finding, summary=summary, detail=detail,
                   override_reasons=finding.override_reasons or reasons_for(finding.topic, finding.override))


def rendered(ctx: Any, kb: Any, settings: RuleSettings | None, *fns: Any) -> list[Finding]:
    return [with_text(f) for f in iter_findings(fns, ctx, kb, settings or RuleSettings())]
