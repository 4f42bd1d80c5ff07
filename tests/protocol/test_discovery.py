"""Discovery: the three contract services, validated against the official logical model."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import requests

from support.spec_models import load_model, validate

ALLOWED_SEARCH_PARAMS = {"patient", "code", "category", "status", "_sort", "_count", "_include"}


def test_discovery_lists_the_three_contract_services(live_service, spec_dir):
    with live_service() as base:
        response = requests.get(f"{base}/cds-services", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert {(s["id"], s["hook"]) for s in body["services"]} == {
        ("all-order-select", "order-select"),
        ("all-order-sign", "order-sign"),
        ("all-patient-view", "patient-view"),
    }
    assert validate(body, load_model(spec_dir, "CDSHooksServices")) == []
    for service in body["services"]:
        assert service["title"] and service["description"] and service["usageRequirements"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def test_prefetch_templates_use_only_spec_restricted_syntax(live_service):
    with live_service() as base:
        services = requests.get(f"{base}/cds-services", timeout=5).json()["services"]
    for service in services:
        for key, template in service["prefetch"].items():
            tokens = re.findall(r"\{\{([^}]*)\}\}", template)
            assert tokens and all(t in ("context.patientId", "context.userId", "context.encounterId") for t in tokens), key
            path, _, query = template.partition("?")
            assert re.fullmatch(r"[A-Z][A-Za-z]+(/\{\{context\.patientId\}\})?", path), key
            for name, value in parse_qsl(query, keep_blank_values=True):
                assert name in ALLOWED_SEARCH_PARAMS, (key, name)
                if name == "_sort":
                    assert re.fullmatch(r"-?[a-z-]+", value), (key, value)
            assert "sort:desc" not in template


def test_spec_discovery_example_validates_so_the_validator_is_not_vacuous(spec_dir):
    import json

    example = json.loads((spec_dir / "examples/spec-2.0.1/discovery-response.json").read_text())
    model = load_model(spec_dir, "CDSHooksServices")
    assert validate(example, model) == []
    broken = {"services": [{"id": "x", "description": "no hook"}]}
    assert any("hook: required" in e for e in validate(broken, model))
