"""Every official example request that targets our hooks is accepted.

The examples name their own prefetch keys and an unreachable fhirServer, so the test stands a
real loopback FHIR server in for `fhirServer` (trusted in Settings) holding the example patient;
the request is otherwise sent as published.
"""

from __future__ import annotations

import json
import uuid

import requests

from cdshooks.config import TrustedIssuer
from support.servers import fhir_server

SERVICE_FOR_HOOK = {"patient-view": "all-patient-view", "order-select": "all-order-select", "order-sign": "all-order-sign"}


def _examples(spec):
    ex = spec / "examples"
    out = []
    for path in sorted((ex / "spec-2.0.1").glob("request-*.json")) + sorted((ex / "spec-3.0.0-ballot").glob("request-*.json")):
        body = json.loads(path.read_text())
        if body.get("hook") in SERVICE_FOR_HOOK:
            out.append((path.name, body))
    for path in sorted((ex / "hooks-library-1.0.1").glob("*-context-example-*.json")):
        hook = path.name.split("-context-example")[0]
        if hook not in SERVICE_FOR_HOOK:
            continue
        body = json.loads(path.read_text())
        context = body.get("context", body)
        out.append((path.name, {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}))
    return out


def test_there_are_examples_for_all_three_hooks(spec_dir):
    hooks = {body["hook"] for _, body in _examples(spec_dir)}
    assert hooks == set(SERVICE_FOR_HOOK)


def test_official_examples_are_accepted(live_service, spec_dir):
    for name, body in _examples(spec_dir):
        if "patientId" not in body["context"]:
            # request-with-extension.json shows only the extension mechanism; its context omits
            # patientId, which the Hook Library makes REQUIRED. It must be refused, naming the field.
            with live_service() as base:
                response = requests.post(f"{base}/cds-services/{SERVICE_FOR_HOOK[body['hook']]}", json=body, timeout=15)
            assert response.status_code == 400 and "patientId" in response.json()["issue"][0]["diagnostics"], name
            continue
        pid = body["context"]["patientId"]
        patient = {"resourceType": "Patient", "id": pid, "birthDate": "2015-01-01", "gender": "female"}
        with fhir_server([patient]) as fhir:
            issuers = (TrustedIssuer(iss="https://ehr.example.org", jwks={"keys": []}, fhir_servers=(fhir.base_url,)),)
            body = dict(body, fhirServer=fhir.base_url)
            with live_service(trusted_issuers=issuers) as base:
                response = requests.post(f"{base}/cds-services/{SERVICE_FOR_HOOK[body['hook']]}", json=body, timeout=15)
        assert response.status_code == 200, (name, response.text[:400])
        assert isinstance(response.json()["cards"], list), name
