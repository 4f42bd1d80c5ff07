"""`cdshooks cards --html` in a real headless Chromium: the page loads from a file with no network,
shows every card the service returned (critical first within a request), with its indicator colour,
its Markdown detail rendered (lists, bold, links) and no raw Markdown or HTML from card text."""

from __future__ import annotations

import re

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from test_sandbox_cors import browser  # noqa: F401  (the module's headless Chromium fixture)

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"
CLI = Path(sys.executable).with_name("cdshooks")
COLOURS = {"critical": (198, 40, 40), "warning": (224, 138, 0), "info": (47, 111, 179)}


def test_review_page_renders_cards_as_a_client_would(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    fixtures = [FIXTURES / "route.vincristine.intrathecal", FIXTURES / "verify.vinca.iv-push", FIXTURES / "risk.nci.wbc-50000-high"]
    page = tmp_path / "review.html"
    done = subprocess.run([str(CLI), "cards", *map(str, fixtures), "--html", str(page)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count = int(done.stdout.split()[1])
    browser.get(page.as_uri())
    assert browser.title == "ALL CDS card review"
    cards = browser.find_elements(By.CSS_SELECTOR, "div.card")
    assert len(cards) == count and count >= 5
    for card in cards:
        indicator = card.get_attribute("data-indicator")
        rgb = tuple(int(x) for x in card.value_of_css_property("border-left-color").split("(")[1].rstrip(")").split(",")[:3])
        assert rgb == COLOURS[indicator]
        detail = card.find_element(By.CSS_SELECTOR, ".detail")
        # Markdown rendered, no markup leaked (a comparator such as "age < 365 d" is text, not a tag)
        assert "**" not in detail.text and not re.search(r"</?[A-Za-z]", detail.text)
    critical = [c for c in cards if c.get_attribute("data-indicator") == "critical"]
    assert critical, "the intrathecal vincristine fixture must show its critical route card"
    route = critical[0]
    assert route.find_elements(By.CSS_SELECTOR, ".detail li"), "bullet lists are rendered as lists"
    assert "dailymed.nlm.nih.gov" in route.find_element(By.CSS_SELECTOR, ".source a").get_attribute("href")
    assert route.find_elements(By.CSS_SELECTOR, ".suggestions button")
    for section in browser.find_elements(By.CSS_SELECTOR, "section"):
        order = [c.get_attribute("data-indicator") for c in section.find_elements(By.CSS_SELECTOR, "div.card")]
        assert order == sorted(order, key=["critical", "warning", "info"].index)


def test_cards_command_errors_are_one_line(tmp_path: Path) -> None:
    done = subprocess.run([str(CLI), "cards", str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no such file" in done.stderr
