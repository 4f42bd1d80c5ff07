"""The one pinned clinical clock of the suite: the fixtures' reference date (expected.json).

Fixture dates are absolute (weights of 2026-10-30, orders of 2026-11-02), so a test that lets the
service read the wall clock passes only near those days. Every app a test builds gets
`Settings.fixed_now` = noon UTC of the reference date (conftest.make_settings); CI proves the
pinning by running the suite again under a clock shifted ~400 days ahead (.ci/run, faketime).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from cdshooks.fixtures import clinical_now

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


@lru_cache(maxsize=1)
def reference_date() -> date:
    """The single referenceDate all shipped fixtures were generated from (they must agree)."""
    found = {json.loads(p.read_text(encoding="utf-8")).get("referenceDate") for p in FIXTURES.glob("*/expected.json")}
    if len(found) != 1 or None in found:
        raise AssertionError(f"fixtures disagree on (or lack) referenceDate: {sorted(map(str, found))}")
    return date.fromisoformat(found.pop())


def reference_now() -> datetime:
    return clinical_now(reference_date())
