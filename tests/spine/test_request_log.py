"""CDSHOOKS_LOG_FORMAT=json: one JSON line per request an operator can query, and no PHI or token.

A real `cdshooks serve` (gunicorn), a real signed JWT, a real loopback FHIR server the service
fetches one prefetch key from (and fails on another), then the process's own stderr is read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from support.processes import ISS, LocalIssuer, serve_env, start_serve
from support.requests import PATIENT_ID, order_sign_request
from support.servers import fhir_server, free_port

PATIENT = "pt-zq7731-log"  # distinctive: any occurrence in the log is a leak, not a coincidence
NAME = "Zebulon Quillfeather"
FHIR_TOKEN = "fhir-access-token-must-never-be-logged-5b2c"


def _request(fhir_base: str) -> dict:
    body = order_sign_request(fhir_server=fhir_base, token=FHIR_TOKEN)
    body["prefetch"].pop("observations")  # fetched by us from the FHIR server
    body["prefetch"].pop("carePlans")  # the FHIR server fails it: a failed key
    body["prefetch"]["patient"]["name"] = [{"text": NAME, "family": "Quillfeather", "given": ["Zebulon"]}]
    return json.loads(json.dumps(body).replace(f'"{PATIENT_ID}"', f'"{PATIENT}"').replace(f"/{PATIENT_ID}\"", f"/{PATIENT}\""))


def test_json_request_lines_have_the_fields_and_no_phi_or_token(tmp_path: Path) -> None:
    port = free_port()
    service_url = f"http://127.0.0.1:{port}/cds-services/all-order-sign"
    failing = lambda rec: (500, b"{}") if rec.path.endswith("/CarePlan") else None  # noqa: E731
    with fhir_server([], override=failing) as fhir:
        issuer = LocalIssuer(tmp_path / "issuers.json", fhir_servers=(fhir.base_url,))
        env = serve_env(tmp_path / "var", CDSHOOKS_TRUSTED_ISSUERS=str(issuer.issuers_file), CDSHOOKS_LOG_FORMAT="json")
        instance = start_serve(env, tmp_path / "serve.log", port=port)
        try:
            instance.wait_healthy()
            body = _request(fhir.base_url)
            good_token = issuer.token(service_url)
            ok = requests.post(service_url, json=body, headers={"Authorization": f"Bearer {good_token}"}, timeout=30)
            assert ok.status_code == 200, ok.text
            bad_token = issuer.token(service_url + "-elsewhere")
            refused = requests.post(service_url, json=body, headers={"Authorization": f"Bearer {bad_token}"}, timeout=30)
            assert refused.status_code == 401
        finally:
            assert instance.stop() == 0
    text = instance.log_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    requests_logged = [line for line in lines if line.get("event") == "request"]
    assert len(requests_logged) == 2, text[-3000:]
    served, rejected = requests_logged
    assert served["status"] == 200 and served["service"] == "all-order-sign" and served["hook"] == "order-sign"
    assert served["hookInstance"] == body["hookInstance"] and served["route"] == "/cds-services/<service_id>"
    assert isinstance(served["latencyMs"], float) and served["latencyMs"] > 0 and served["time"].endswith("Z")
    assert served["prefetch"] == {"fetched": ["observations"], "failed": ["carePlans"]}
    cards = ok.json()["cards"]
    assert served["cards"]["count"] == len(cards) > 0
    assert sum(served["cards"]["byIndicator"].values()) == sum(served["cards"]["byTopic"].values()) == len(cards)
    assert set(served["cards"]["byTopic"]) == {c["source"]["topic"]["code"] for c in cards}
    assert "jwtReject" not in served and served["iss"] == ISS
    assert rejected["status"] == 401 and "aud does not name" in rejected["jwtReject"]
    for secret in (PATIENT, NAME, "Quillfeather", FHIR_TOKEN, good_token, bad_token, good_token.split(".")[2]):
        assert secret not in text
