"""A merged missing-data card renders each member's template once (issue 15).

Whether two "cannot check" problems of one order share a card is decided on their rendered
summaries (cards/merge.py); the merged card's detail is the same members' rendered details. One
rendering serves both: the fixture below merges two template findings, and each is rendered once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cdshooks.cards import merge, text
from cdshooks.fixtures import clinical_now, load_fixture, service_for_request

FIXTURE = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "missing.weight-stale.vincristine"


def test_each_member_is_rendered_once(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[int] = Counter()
    seen: dict[int, Any] = {}
    real = text.body

    def counted(finding: Any) -> tuple[str, str]:
        calls[id(finding)] += 1
        seen[id(finding)] = finding
        return real(finding)

    # every way to a template's words: cards.text.body, also as cards.merge imported it
    monkeypatch.setattr(text, "body", counted)
    monkeypatch.setattr(merge, "body", counted)
    fixture = load_fixture(FIXTURE)
    body = json.loads(fixture.requests["request-order-sign.json"].read_text())
    client = make_app(fixed_now=clinical_now(fixture.reference_date)).test_client()
    response = client.post(f"/cds-services/{service_for_request(body)}", json=body)
    assert response.status_code == 200
    merged = [c for c in response.get_json()["cards"] if "mergedRuleIds" in c["extension"]["all-cds"]["inputs"]]
    assert len(merged) == 1
    rule_ids = merged[0]["extension"]["all-cds"]["inputs"]["mergedRuleIds"]
    members = {key: f for key, f in seen.items() if f.rule_id in rule_ids}
    assert sorted(f.rule_id for f in members.values()) == sorted(rule_ids) and len(rule_ids) == 2
    assert [calls[key] for key in members] == [1, 1], calls
    for finding in members.values():  # each member's words are in the card, rendered by that one call
        assert real(finding)[1].splitlines()[0] in merged[0]["detail"]
