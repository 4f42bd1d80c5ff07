"""The replay's HTML report in a real headless Chromium: it loads from a file with no network,
and every rule with cards shows a bar whose drawn width matches its rate (the widest bar is the
rule with the most cards per 100 orders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdshooks.policy import policy_from_document
from cdshooks.replay.engine import replay
from cdshooks.replay.report import render_html, summarize
from cdshooks.replay.sources import open_source
from test_sandbox_cors import browser  # noqa: F401  (the module's headless Chromium fixture)

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def test_report_opens_and_shows_the_bars(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    src = open_source(FIXTURES)
    policy = policy_from_document({"version": "browser-1", "rules": {"regimen.induction.no-intrathecal": "silent"}})
    summary = summarize(replay(enumerate(src.records, 1), source="fhir_fixtures", kind=src.kind, policy=policy))
    page = tmp_path / "report.html"
    page.write_text(render_html(summary), encoding="utf-8")
    browser.get(page.as_uri())
    assert "alert burden" in browser.title
    sections = browser.find_elements(By.CSS_SELECTOR, "div.rule")
    assert [s.get_attribute("data-rule") for s in sections] == [r["ruleId"] for r in summary["rules"]]
    widths: dict[tuple[str, str], float] = {}
    for section in sections:
        for bar in section.find_elements(By.CSS_SELECTOR, "svg rect.bar"):
            box = bar.rect  # the rendered geometry, not the attribute text
            assert box["width"] > 0 and box["height"] > 0
            key = (section.get_attribute("data-rule"), bar.get_attribute("data-column"))
            widths[key] = widths.get(key, 0.0) + box["width"]
    shipped = {r["ruleId"]: r["asShipped"]["per100"] for r in summary["rules"] if r["hook"] == "order-sign"}
    drawn = {rule: w for (rule, column), w in widths.items() if column == "as shipped" and rule in shipped}
    assert set(drawn) == set(shipped)
    assert max(drawn, key=drawn.get) == max(shipped, key=shipped.get)
    assert ("regimen.induction.no-intrathecal", "with policy") not in widths  # silenced: no bar
    assert ("regimen.induction.no-intrathecal", "as shipped") in widths
    overall = browser.find_element(By.ID, "overall").text
    assert "With policy" in overall and "Silenced by policy" in overall
