"""The CPU gate under real gunicorn (cdshooks/gate.py): one gthread worker runs one service call's
Python at a time, but a call waiting on the network never holds up the others.

One worker x 3 threads, real sockets, real JWTs, loopback servers that never answer. Each test
parks call A on a network wait (the fallback FHIR fetch, a Medication read, the JWKS download, its
own half-sent body) and then asks for call B, whose prefetch is complete: B must be answered
promptly, long before A's wait ends. Had the gate stayed with A over that wait, B would queue
behind it for the whole wait (each test fails that way with the seam's release removed).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from support.hostile_fhir import Hostile, hang, hostile_fhir
from support.processes import LocalIssuer, serve_env, start_serve
from support.requests import order_sign_request, vincristine_order
from support.servers import free_port

WAIT = 3.0  # how long the hanging servers hold a call (fetch deadline and socket read timeout)
PROMPT = 1.5  # B's answer, and /health, well inside that
REMOTE_ISS = "https://ehr.remote-keys.example"


class Service:
    def __init__(self, base: str, issuer: LocalIssuer, remote_key: Any, fhir: Hostile, keys: Hostile) -> None:
        self.base, self.issuer, self.remote_key, self.fhir, self.keys = base, issuer, remote_key, fhir, keys
        self.url = base + "/cds-services/all-order-sign"

    def post(self, body: dict[str, Any], token: str | None = None) -> requests.Response:
        token = token or self.issuer.token(self.url)
        return requests.post(self.url, json=body, timeout=30, headers={"Authorization": f"Bearer {token}"})

    def remote_token(self) -> str:
        """Signed by the issuer whose keys are only at its jwks_url (the hanging server)."""
        now = int(time.time())
        claims = {"iss": REMOTE_ISS, "aud": self.url, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.remote_key, algorithm="ES384", headers={"kid": "remote-1", "typ": "JWT"})


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("gate")
    with hostile_fhir(hang) as fhir, hostile_fhir(hang) as keys:
        issuer = LocalIssuer(tmp / "issuers.json", fhir_servers=(fhir.base_url,))
        entries = json.loads(issuer.issuers_file.read_text())
        entries.append({"iss": REMOTE_ISS, "jwks_url": keys.base_url + "/jwks.json", "fhir_servers": []})
        issuer.issuers_file.write_text(json.dumps(entries))
        remote_key = ec.generate_private_key(ec.SECP384R1())  # its public half is never served
        port = free_port()
        env = serve_env(tmp / "var", CDSHOOKS_TRUSTED_ISSUERS=str(issuer.issuers_file), CDSHOOKS_THREADS="3",
                        CDSHOOKS_FETCH_DEADLINE_SECONDS=str(WAIT), CDSHOOKS_FETCH_READ_TIMEOUT=str(WAIT))
        instance = start_serve(env, tmp / "serve.log", port=port, workers=1)
        try:
            instance.wait_healthy()
            svc = Service(instance.base, issuer, remote_key, fhir, keys)
            assert svc.post(order_sign_request()).status_code == 200  # warm: first-call costs are not under test
            yield svc
        finally:
            instance.stop()


def _until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    started = time.monotonic()
    while not condition() and time.monotonic() - started < limit:
        time.sleep(0.02)
    assert condition()


def _prompt_while_waiting(service: Service, stuck: list[Future[Any]]) -> None:
    """B (complete prefetch) and /health are answered while the `stuck` calls still wait."""
    started = time.monotonic()
    answer = service.post(order_sign_request())
    took = time.monotonic() - started
    assert answer.status_code == 200 and answer.json()["cards"]
    assert took < PROMPT, f"call B waited {took:.2f} s behind a call parked on the network"
    assert not any(f.done() for f in stuck)
    health_started = time.monotonic()
    assert requests.get(service.base + "/health", timeout=5).status_code == 200
    assert time.monotonic() - health_started < 1.0


def test_a_call_waiting_on_its_prefetch_fetch_does_not_hold_up_another(service: Service) -> None:
    body = order_sign_request(fhir_server=service.fhir.base_url, token="t")
    body["prefetch"].pop("observations")  # fetched from the hanging server, on the fetch pool
    before = service.fhir.count("/Observation")
    with ThreadPoolExecutor(1) as pool:
        call_a = pool.submit(service.post, body)
        _until(lambda: service.fhir.count("/Observation") > before)
        _prompt_while_waiting(service, [call_a])
        assert call_a.result(timeout=30).status_code == 200  # the hang became missing data


def test_a_call_reading_a_medication_on_its_own_thread_does_not_hold_up_another(service: Service) -> None:
    order = vincristine_order()
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/med-gate"}
    body = order_sign_request([order], fhir_server=service.fhir.base_url, token="t")  # read by the request thread
    before = service.fhir.count("/Medication/med-gate")
    with ThreadPoolExecutor(1) as pool:
        call_a = pool.submit(service.post, body)
        _until(lambda: service.fhir.count("/Medication/med-gate") > before)
        _prompt_while_waiting(service, [call_a])
        assert call_a.result(timeout=30).status_code == 200


def test_calls_waiting_on_a_jwks_download_do_not_hold_up_another(service: Service) -> None:
    """A downloads the remote issuer's keys (and holds the verifier's key lock while it does);
    C, same issuer, waits for that lock. Neither may hold the gate meanwhile: had C waited for
    the lock holding it, B would wait for C and A, when its download ended, for the gate (a
    deadlock)."""
    before = service.keys.count("/jwks.json")
    with ThreadPoolExecutor(2) as pool:
        call_a = pool.submit(service.post, order_sign_request(), service.remote_token())
        _until(lambda: service.keys.count("/jwks.json") > before)
        call_c = pool.submit(service.post, order_sign_request(), service.remote_token())
        time.sleep(0.2)  # C is now queued on the key lock
        _prompt_while_waiting(service, [call_a, call_c])
        assert call_a.result(timeout=30).status_code == 401  # no keys could be had: refused, not hung
        assert call_c.result(timeout=30).status_code == 401


def test_a_client_sending_its_body_slowly_does_not_hold_up_another(service: Service) -> None:
    """The body is read before the gate is taken: a slow EHR link delays only its own call."""
    raw = json.dumps(order_sign_request()).encode()
    host, port = service.base.removeprefix("http://").split(":")
    head = (f"POST /cds-services/all-order-sign HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {service.issuer.token(service.url)}\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall(head + raw[: len(raw) // 2])
        time.sleep(0.3)  # a worker thread has taken the request and is reading its body
        _prompt_while_waiting(service, [])
        slow.sendall(raw[len(raw) // 2:])
        answer = b""
        while chunk := slow.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
