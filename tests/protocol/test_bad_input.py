"""Bad input: each malformed request gets its 4xx and a FHIR OperationOutcome naming the problem.

Never a 500, never a stack trace in the body.
"""

from __future__ import annotations

import json

import pytest
import requests

from support.requests import order_select_request, order_sign_request, patient_view_request

SIGN = "/cds-services/all-order-sign"
SELECT = "/cds-services/all-order-select"
VIEW = "/cds-services/all-patient-view"
JSON = {"Content-Type": "application/json"}


def _body(mutate):
    body = order_sign_request()
    mutate(body)
    return json.dumps(body).encode()


def _without(*path):
    def mutate(body):
        target = body
        for p in path[:-1]:
            target = target[p]
        del target[path[-1]]

    return mutate


def _set(value, *path):
    def mutate(body):
        target = body
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value

    return mutate


CASES = [
    # (id, method, path, headers, body, expected status, text expected in the OperationOutcome)
    ("malformed-json", "POST", SIGN, JSON, b'{"hook": "order-sign",', 400, "not valid JSON"),
    ("empty-body", "POST", SIGN, JSON, b"", 400, "empty"),
    ("json-array", "POST", SIGN, JSON, b"[1, 2]", 400, "JSON object"),
    ("json-string", "POST", SIGN, JSON, b'"hello"', 400, "JSON object"),
    ("wrong-content-type", "POST", SIGN, {"Content-Type": "text/plain"}, _body(lambda b: None), 415, "Content-Type"),
    ("no-content-type", "POST", SIGN, {}, _body(lambda b: None), 415, "Content-Type"),
    ("form-content-type", "POST", SIGN, {"Content-Type": "application/x-www-form-urlencoded"}, b"a=b", 415, "Content-Type"),
    ("unknown-service", "POST", "/cds-services/no-such-service", JSON, _body(lambda b: None), 404, "no-such-service"),
    ("unknown-route", "GET", "/nothing-here", {}, None, 404, "no route"),
    ("get-on-service", "GET", SIGN, {}, None, 405, "GET"),
    ("put-on-discovery", "PUT", "/cds-services", JSON, b"{}", 405, "PUT"),
    ("body-too-large", "POST", SIGN, JSON, b'{"x": "' + b"a" * (300 * 1024) + b'"}', 413, "limit"),
    ("missing-hook", "POST", SIGN, JSON, _body(_without("hook")), 400, "'hook' is a required property"),
    ("missing-hookInstance", "POST", SIGN, JSON, _body(_without("hookInstance")), 400, "hookInstance"),
    ("hookInstance-longer-than-the-audit-holds", "POST", SIGN, JSON, _body(_set("h" * 256, "hookInstance")), 400, "hookInstance"),
    ("missing-context", "POST", SIGN, JSON, _body(_without("context")), 400, "context"),
    ("context-not-object", "POST", SIGN, JSON, _body(_set("x", "context")), 400, "context"),
    ("missing-patientId", "POST", SIGN, JSON, _body(_without("context", "patientId")), 400, "patientId"),
    ("missing-userId", "POST", SIGN, JSON, _body(_without("context", "userId")), 400, "userId"),
    ("bad-userId", "POST", SIGN, JSON, _body(_set("doc-1", "context", "userId")), 400, "userId"),
    ("missing-draftOrders", "POST", SIGN, JSON, _body(_without("context", "draftOrders")), 400, "draftOrders"),
    ("draftOrders-not-bundle", "POST", SIGN, JSON, _body(_set({"resourceType": "List"}, "context", "draftOrders")), 400, "Bundle"),
    ("hook-mismatch", "POST", SIGN, JSON, _body(_set("patient-view", "hook")), 400, "answers hook 'order-sign'"),
    ("hook-not-string", "POST", SIGN, JSON, _body(_set(7, "hook")), 400, "hook"),
    ("fhirAuthorization-without-fhirServer", "POST", SIGN, JSON,
     _body(_set({"access_token": "t", "token_type": "Bearer", "expires_in": 60, "scope": "x", "subject": "y"}, "fhirAuthorization")),
     400, "fhirServer"),
    ("fhirAuthorization-incomplete", "POST", SIGN, JSON,
     _body(lambda b: b.update(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={"access_token": "t"})), 400, "token_type"),
    ("fhirServer-not-url", "POST", SIGN, JSON, _body(_set("not a url", "fhirServer")), 400, "fhirServer"),
    ("prefetch-not-object", "POST", SIGN, JSON, _body(_set([1], "prefetch")), 400, "prefetch"),
    ("prefetch-value-not-resource", "POST", SIGN, JSON, _body(_set({"patient": 5}, "prefetch")), 400, "prefetch"),
    ("order-select-without-selections", "POST", SELECT, JSON,
     json.dumps({k: v for k, v in order_select_request().items()} | {"context": {k: v for k, v in order_select_request()["context"].items() if k != "selections"}}).encode(),
     400, "selections"),
    ("order-select-empty-selections", "POST", SELECT, JSON,
     json.dumps(order_select_request() | {"context": order_select_request()["context"] | {"selections": []}}).encode(), 400, "selections"),
    ("patient-view-hook-to-sign", "POST", SIGN, JSON, json.dumps(patient_view_request()).encode(), 400, "answers hook"),
    ("patient-null-in-prefetch", "POST", SIGN, JSON, _body(lambda b: b["prefetch"].update(patient=None)), 412, "patient"),
    ("patient-operation-outcome", "POST", SIGN, JSON,
     _body(lambda b: b["prefetch"].update(patient={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]})),
     412, "patient"),
    ("patient-absent-no-server", "POST", SIGN, JSON, _body(lambda b: b["prefetch"].pop("patient")), 412, "patient"),
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    from cdshooks.app import create_app
    from cdshooks.config import Settings
    from support.servers import serve_app

    settings = Settings(auth="disabled", data_dir=tmp_path_factory.mktemp("var"), max_body_bytes=256 * 1024)
    with serve_app(create_app(settings)) as base:
        yield base


def test_table_has_at_least_twenty_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case_id, method, path, headers, body, status, text", CASES, ids=[c[0] for c in CASES])
def test_bad_input(base_url, case_id, method, path, headers, body, status, text):
    response = requests.request(method, base_url + path, headers=headers, data=body, timeout=10)
    assert response.status_code == status, response.text[:500]
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error"
    assert text in issue["diagnostics"]
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_unknown_fields_are_ignored(base_url):
    body = order_sign_request()
    body["somethingNew"] = {"nested": True}
    body["context"]["futureField"] = "x"
    body["extension"] = {"com.example.flag": True}
    response = requests.post(base_url + SIGN, json=body, timeout=10)
    assert response.status_code == 200, response.text[:500]
    assert isinstance(response.json()["cards"], list)
