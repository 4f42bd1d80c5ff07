"""A slow FHIR server never blocks /health (issue 11): `cdshooks serve` runs gthread workers, so
calls waiting on their fetch deadline hold threads, not the worker. One worker, two calls stuck on
a hanging FHIR server, and /health still answers at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from support.hostile_fhir import hang, hostile_fhir
from support.processes import LocalIssuer, serve_env, start_serve
from support.requests import order_sign_request
from support.servers import free_port

FETCH_DEADLINE = 6.0


def test_health_answers_while_calls_wait_on_a_hanging_fhir_server(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with hostile_fhir(hang) as fhir:
        issuer = LocalIssuer(tmp_path / "issuers.json", fhir_servers=(fhir.base_url,))
        env = serve_env(tmp_path / "var", CDSHOOKS_TRUSTED_ISSUERS=str(issuer.issuers_file),
                        CDSHOOKS_FETCH_DEADLINE_SECONDS=str(FETCH_DEADLINE),
                        # the per-read timeout (default 5 s) must not end the call first: the deadline is under test
                        CDSHOOKS_FETCH_READ_TIMEOUT=str(FETCH_DEADLINE * 3))
        instance = start_serve(env, tmp_path / "serve.log", port=port, workers=1)
        try:
            instance.wait_healthy()
            url = base + "/cds-services/all-order-sign"
            body = order_sign_request(fhir_server=fhir.base_url, token="t")
            body["prefetch"].pop("observations")
            with ThreadPoolExecutor(2) as pool:
                started = time.monotonic()
                calls = [pool.submit(requests.post, url, json=body, timeout=30,
                                     headers={"Authorization": f"Bearer {issuer.token(url)}"}) for _ in range(2)]
                while fhir.count("/Observation") < 2 and time.monotonic() - started < 10:
                    time.sleep(0.05)
                assert fhir.count("/Observation") == 2  # both calls are now waiting on the FHIR server
                health_started = time.monotonic()
                health = requests.get(base + "/health", timeout=FETCH_DEADLINE)
                health_took = time.monotonic() - health_started
                assert health.status_code == 200
                assert health_took < 1.0, health_took  # not queued behind the stuck calls
                assert not any(c.done() for c in calls)
                answers = [c.result(timeout=30) for c in calls]
            took = time.monotonic() - started
            assert [a.status_code for a in answers] == [200, 200]  # the deadline turned the hang into missing data
            assert FETCH_DEADLINE - 0.5 < took < FETCH_DEADLINE + 5, took
        finally:
            instance.stop()
