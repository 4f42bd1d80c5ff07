"""Run a rule function as the engine does and read its cards' words (tests of rules that yield Verdicts).

Why: a rule yields a Verdict (facts, no words); its summary and detail come from the topic
template. Tests that read wording go through the real engine stamp and the real templates, so they
check what a prescriber reads, not a copy of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterator

from cdshooks.cards.text import render_text
from cdshooks.rules.finding import Finding
from cdshooks.rules.registry import iter_findings


def worded(finding: Finding) -> Finding:
    """The finding with `summary`/`detail` as the card shows them (template findings rendered)."""
    if not finding.message:
        return finding
    summary, detail = render_text(finding)
    return replace(finding, summary=summary, detail=detail)


def rendered(fn: Callable[..., Any]) -> Callable[..., Iterator[Finding]]:
    """`fn` (a rule) yielding stamped findings whose summary/detail are the rendered text."""

    def run(ctx: Any, kb: Any, settings: Any) -> Iterator[Finding]:
        for finding in iter_findings([fn], ctx, kb, settings):
            yield worded(finding)

    run.__name__ = getattr(fn, "__name__", "rule")
    return run


class Rendered:
    """A rule module whose rule functions yield rendered findings: `M = Rendered(monitoring)`."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        return rendered(value) if callable(value) and getattr(value, "__module__", None) == self._module.__name__ else value
