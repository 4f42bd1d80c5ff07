"""Prefetch resolution over real HTTP: fetched from a trusted loopback FHIR server, never from an
untrusted one, pagination followed up to the limit, and honest missing-data when data is absent."""

from __future__ import annotations

import requests

from cdshooks.config import TrustedIssuer
from support.requests import default_prefetch, observation, order_sign_request, patient
from support.servers import fhir_server, listening_socket

SIGN = "/cds-services/all-order-sign"


def _resources():
    pre = default_prefetch()
    return [pre["patient"]] + [e["resource"] for e in pre["bodyMeasurements"]["entry"]]


def _trusting(base: str) -> tuple[TrustedIssuer, ...]:
    return (TrustedIssuer(iss="https://ehr.example.org", jwks={"keys": []}, fhir_servers=(base,)),)


def test_absent_prefetch_is_fetched_from_trusted_server_with_the_bearer_token(live_service):
    with fhir_server(_resources()) as fhir:
        with live_service(trusted_issuers=_trusting(fhir.base_url)) as base:
            body = order_sign_request(with_prefetch=False, fhir_server=fhir.base_url, token="secret-fhir-token")
            response = requests.post(base + SIGN, json=body, timeout=10)
        assert response.status_code == 200, response.text
        paths = {r.path for r in fhir.requests}
        assert "/fhir/Patient/pt-1" in paths
        assert "/fhir/Observation" in paths and "/fhir/MedicationAdministration" in paths
        assert all(r.headers.get("Authorization") == "Bearer secret-fhir-token" for r in fhir.requests)
        weight_query = next(r for r in fhir.requests if r.path == "/fhir/Observation" and "code" in r.query)
        assert weight_query.query["patient"] == ["pt-1"]
        assert weight_query.query["_sort"] == ["-date"]


def test_untrusted_fhir_server_gets_no_connection_and_patient_missing_is_412(live_service):
    with listening_socket() as (url, received):
        with live_service(trusted_issuers=_trusting("https://other.example.org/fhir")) as base:
            body = order_sign_request(with_prefetch=False, fhir_server=url, token="secret")
            response = requests.post(base + SIGN, json=body, timeout=10)
        assert response.status_code == 412
        assert "patient" in response.json()["issue"][0]["diagnostics"]
    assert received == []


def test_untrusted_server_with_prefetch_sent_degrades_to_missing_data_card(live_service):
    with listening_socket() as (url, received):
        with live_service() as base:
            body = order_sign_request(fhir_server=url)
            for key in ("observations", "medicationAdministrations"):
                del body["prefetch"][key]
            response = requests.post(base + SIGN, json=body, timeout=10)
    assert received == []
    assert response.status_code == 200
    cards = response.json()["cards"]
    missing = [c for c in cards if c["extension"]["all-cds"]["ruleId"] == "missing-data.prefetch"]
    assert len(missing) == 1
    assert missing[0]["extension"]["all-cds"]["inputs"]["missingPrefetch"] == ["medicationAdministrations", "observations"]
    assert "past administrations and labs not available" in missing[0]["summary"]


def test_operation_outcome_in_optional_prefetch_is_not_refetched(live_service):
    with fhir_server(_resources()) as fhir:
        with live_service(trusted_issuers=_trusting(fhir.base_url)) as base:
            body = order_sign_request(fhir_server=fhir.base_url)
            body["prefetch"]["observations"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
            response = requests.post(base + SIGN, json=body, timeout=10)
        assert fhir.requests == []
    cards = response.json()["cards"]
    assert any(c["extension"]["all-cds"]["ruleId"] == "missing-data.prefetch" and "labs" in c["summary"]
               and c["extension"]["all-cds"]["inputs"]["missingPrefetch"] == ["observations"] for c in cards)


def test_next_links_are_followed_up_to_the_page_limit(live_service):
    many = [observation(f"o{i}", "29463-7", 20 + i / 100, "kg", "2026-10-30") for i in range(12)]
    with fhir_server([patient()] + many, page_size=2) as fhir:
        with live_service(trusted_issuers=_trusting(fhir.base_url), fetch_max_pages=3) as base:
            body = order_sign_request(fhir_server=fhir.base_url)
            del body["prefetch"]["bodyMeasurements"]
            response = requests.post(base + SIGN, json=body, timeout=10)
        assert response.status_code == 200
        pages = [r for r in fhir.requests if r.path == "/fhir/Observation"]
        assert len(pages) == 3  # first page + 2 next pages, then stop


def test_sent_bundle_with_next_link_is_completed_from_trusted_server(live_service):
    weights = [observation(f"w{i}", "29463-7", 20, "kg", "2026-10-30") for i in range(4)]
    with fhir_server([patient()] + weights, page_size=2) as fhir:
        first_page = requests.get(f"{fhir.base_url}/Observation?patient=pt-1&code=29463-7", timeout=5).json()
        fhir.requests.clear()
        with live_service(trusted_issuers=_trusting(fhir.base_url)) as base:
            body = order_sign_request(fhir_server=fhir.base_url)
            body["prefetch"]["bodyMeasurements"] = first_page
            response = requests.post(base + SIGN, json=body, timeout=10)
        assert response.status_code == 200
        assert [r.query.get("_page") for r in fhir.requests] == [["2"]]


def test_oversized_fhir_response_is_treated_as_unobtainable(live_service):
    huge = patient()
    huge["text"] = {"status": "generated", "div": "<div>" + "x" * 50_000 + "</div>"}
    with fhir_server([huge]) as fhir:
        with live_service(trusted_issuers=_trusting(fhir.base_url), fetch_max_bytes=10_000) as base:
            body = order_sign_request(fhir_server=fhir.base_url)
            del body["prefetch"]["patient"]
            response = requests.post(base + SIGN, json=body, timeout=10)
    assert response.status_code == 412
    assert "larger than" in response.json()["issue"][0]["diagnostics"]


def test_fhir_server_error_status_on_required_key_is_412(live_service):
    with fhir_server([], override=lambda rec: (500, b"{}")) as fhir:
        with live_service(trusted_issuers=_trusting(fhir.base_url)) as base:
            body = order_sign_request(fhir_server=fhir.base_url)
            del body["prefetch"]["patient"]
            response = requests.post(base + SIGN, json=body, timeout=10)
    assert response.status_code == 412
    assert "HTTP 500" in response.json()["issue"][0]["diagnostics"]
