"""Every card response the service gives for the fixture library validates against the official
CDS Hooks logical model (CDSHooksResponse) and the contract's card rules."""

from __future__ import annotations

import json
from pathlib import Path

from support.spec_models import load_model, validate

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"
SERVICE = {"order-sign": "all-order-sign", "order-select": "all-order-select", "patient-view": "all-patient-view"}


def test_all_fixture_responses_validate_against_the_logical_model(make_app, spec_dir):
    model = load_model(spec_dir, "CDSHooksResponse")
    client = make_app().test_client()
    requests = sorted(p for p in FIXTURES.glob("*/request-*.json") if "noprefetch" not in p.name)
    assert len(requests) >= 60
    seen_topics: set[str] = set()
    for path in requests:
        body = json.loads(path.read_text())
        response = client.post(f"/cds-services/{SERVICE[body['hook']]}", json=body)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        answer = response.get_json()
        assert validate(answer, model) == [], path
        for card in answer["cards"]:
            assert len(card["summary"]) < 140
            assert card["source"]["topic"]["system"] == "urn:all-cds:card-topic"
            seen_topics.add(card["source"]["topic"]["code"])
            ext = card["extension"]["all-cds"]
            assert ext["ruleId"] and ext["citation"] and isinstance(ext["inputs"], dict) and isinstance(ext["orders"], list)
            for suggestion in card.get("suggestions", []):
                assert suggestion["uuid"]
                for action in suggestion.get("actions", []):
                    if action["type"] == "update":
                        assert action["resource"]["resourceType"] == "MedicationRequest" and action["resource"]["status"] == "draft"
    assert {"dose", "dose-limit", "route", "schedule", "interaction", "population", "risk-group", "regimen", "missing-data"} <= seen_topics
