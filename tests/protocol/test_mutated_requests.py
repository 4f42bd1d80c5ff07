"""Never a 500: fixture requests mutated at random JSON paths always get cards or an OperationOutcome.

Property-based (hypothesis). The suite runs the "ci" profile (bounded, a few seconds). For a long
hostile run locally:

    CDSHOOKS_HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/protocol/test_mutated_requests.py -q

(`long` = 5,000 mutated bodies in-process plus 200 over real HTTP; add `--hypothesis-seed=N` to vary.)
The deterministic cases below are the exact inputs the issue-11 hostile run found.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings

from support.mutation import DEEP_JSON, mutated_request
from support.requests import default_prefetch, observation, order_sign_request, vincristine_order

settings.register_profile("ci", max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
PROFILE = os.environ.get("CDSHOOKS_HYPOTHESIS_PROFILE", "ci")
HTTP_EXAMPLES = {"ci": 25, "long": 200}.get(PROFILE, 25)
INDICATORS = {"info", "warning", "critical"}


def assert_valid_answer(status: int, body: Any) -> None:
    """A CDS Hooks cards body (200) or a FHIR OperationOutcome (4xx); never a 5xx."""
    assert status < 500, body
    if status == 200:
        assert isinstance(body, dict) and isinstance(body.get("cards"), list), body
        for card in body["cards"]:
            assert isinstance(card["summary"], str) and 0 < len(card["summary"]) <= 140, card
            assert card["indicator"] in INDICATORS
            assert isinstance(card["source"]["label"], str) and card["source"]["label"]
            assert "inf%" not in card["summary"] and "nan" not in card["summary"].lower().split()
    else:
        assert status in (400, 404, 412, 413, 415), (status, body)
        assert body["resourceType"] == "OperationOutcome" and body["issue"], body


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from cdshooks.app import create_app
    from cdshooks.config import Settings

    app = create_app(Settings(auth="disabled", data_dir=tmp_path_factory.mktemp("var")))
    return app.test_client()


@pytest.mark.timeout(0 if PROFILE == "long" else 300)
@settings(settings.get_profile(PROFILE))
@given(case=mutated_request())
def test_mutated_fixture_requests_never_5xx(client: Any, case: tuple[str, str, list]) -> None:
    service, raw, _paths = case
    response = client.post(f"/cds-services/{service}", data=raw, content_type="application/json")
    assert_valid_answer(response.status_code, response.get_json())


@pytest.mark.timeout(0 if PROFILE == "long" else 300)
def test_mutated_requests_over_real_http_never_5xx(live_service: Any) -> None:
    """The same property through a real socket and werkzeug's server (status line, JSON body)."""
    with live_service() as base:
        seen = 0

        @settings(max_examples=HTTP_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(case=mutated_request())
        def run(case: tuple[str, str, list]) -> None:
            nonlocal seen
            service, raw, _ = case
            r = requests.post(f"{base}/cds-services/{service}", data=raw.encode(), headers={"Content-Type": "application/json"}, timeout=30)
            assert r.headers["Content-Type"].startswith("application/json")
            assert_valid_answer(r.status_code, r.json())
            seen += 1

        run()
    assert seen >= HTTP_EXAMPLES


# -- the concrete findings, each pinned ---------------------------------------------------

def _post(client: Any, body: dict[str, Any], service: str = "all-order-sign") -> tuple[int, Any]:
    r = client.post(f"/cds-services/{service}", json=body)
    return r.status_code, r.get_json()


def _cards(body: Any) -> list[dict[str, Any]]:
    return body["cards"]


def _rule_ids(body: Any) -> list[str]:
    return [c["extension"]["all-cds"]["ruleId"] for c in body["cards"]]


@pytest.mark.parametrize(
    "where, value",
    [
        (("bodyMeasurements", "entry", 0, "resource", "code", "coding", 0, "code"), ["29463-7"]),
        (("bodyMeasurements", "entry", 0, "resource", "status"), {"code": "final"}),
        (("bodyMeasurements", "entry", 0, "resource", "referenceRange"), True),
        (("bodyMeasurements", "entry", 0, "resource", "valueQuantity", "system"), 7),
        (("carePlans", "entry"), 1),
        (("medicationRequests", "entry"), "x"),
    ],
)
def test_wrong_json_kind_in_prefetch_is_a_data_problem_not_a_500(client: Any, where: tuple, value: Any) -> None:
    body = order_sign_request()
    target = body["prefetch"]
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value
    status, answer = _post(client, body)
    assert_valid_answer(status, answer)
    assert status == 200
    if where[0] == "bodyMeasurements":  # the weight Observation is unusable -> BSA cannot be computed
        inputs = [c for c in _cards(answer) if c["extension"]["all-cds"]["ruleId"] == "missing-data.dose-inputs"]
        assert inputs and "needs body weight" in inputs[0]["summary"]


def test_condition_status_of_the_wrong_kind_does_not_crash(client: Any) -> None:
    pre = default_prefetch()
    pre["conditions"]["entry"] = [{"resource": {
        "resourceType": "Condition", "id": "c1", "clinicalStatus": {"coding": 5},
        "verificationStatus": {"coding": [{"code": {"x": 1}}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": ["C91.00"]}]},
        "subject": {"reference": "Patient/pt-1"},
    }}]
    status, answer = _post(client, order_sign_request(prefetch=pre))
    assert status == 200 and isinstance(answer["cards"], list)


def test_timing_of_the_wrong_kind_does_not_crash(client: Any) -> None:
    order = vincristine_order()
    order["dosageInstruction"][0]["timing"]["repeat"] = {"frequency": {"n": 1}, "period": [1], "periodUnit": 3, "dayOfWeek": "mon"}
    status, answer = _post(client, order_sign_request([order]))
    assert status == 200 and isinstance(answer["cards"], list)


def test_height_of_1e308_metres_is_implausible_not_an_overflow(client: Any) -> None:
    pre = default_prefetch()
    pre["bodyMeasurements"]["entry"][1]["resource"] = observation("ht", "8302-2", 1e308, "m", "2026-10-30")
    status, answer = _post(client, order_sign_request(prefetch=pre))
    assert status == 200
    inputs = [c for c in _cards(answer) if c["extension"]["all-cds"]["ruleId"] == "missing-data.dose-inputs"]
    assert inputs and "no usable height" in inputs[0]["detail"]


def test_array_nested_990_deep_is_a_400_not_a_recursion_error(client: Any) -> None:
    body = order_sign_request()
    body["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"]["coding"][0] = "@@"
    raw = json.dumps(body).replace('"@@"', DEEP_JSON)
    r = client.post("/cds-services/all-order-sign", data=raw, content_type="application/json")
    assert r.status_code == 400
    assert "deeper than" in r.get_json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("dose", [-1.2, 0, 1e308])
def test_non_positive_or_absurd_dose_is_a_missing_data_card_never_a_percentage(client: Any, dose: float) -> None:
    status, answer = _post(client, order_sign_request([vincristine_order(dose_mg=dose)]))
    assert status == 200
    dose_cards = [c for c in _cards(answer) if c["extension"]["all-cds"]["ruleId"].startswith(("dose", "missing-data.dose"))]
    assert [c["extension"]["all-cds"]["ruleId"] for c in dose_cards] == ["missing-data.dose-amount"]
    assert "%" not in dose_cards[0]["summary"]
    assert "positive" in dose_cards[0]["summary"] or "implausible" in dose_cards[0]["summary"]


def test_an_observation_under_the_patient_key_is_unobtainable_412(client: Any) -> None:
    pre = default_prefetch()
    pre["patient"] = observation("o1", "29463-7", 20, "kg", "2026-10-30")
    status, answer = _post(client, order_sign_request(prefetch=pre))
    assert status == 412
    assert "patient" in answer["issue"][0]["diagnostics"] and "Observation" in answer["issue"][0]["diagnostics"]


def test_a_patient_under_a_search_key_is_unobtainable_missing_data(client: Any) -> None:
    pre = copy.deepcopy(default_prefetch())
    pre["observations"] = {"resourceType": "Patient", "id": "pt-1"}
    status, answer = _post(client, order_sign_request(prefetch=pre))
    assert status == 200
    missing = [c for c in _cards(answer) if c["extension"]["all-cds"]["ruleId"] == "missing-data.prefetch"]
    assert missing and "labs" in missing[0]["summary"] and "observations" in missing[0]["extension"]["all-cds"]["inputs"]["missingPrefetch"]
