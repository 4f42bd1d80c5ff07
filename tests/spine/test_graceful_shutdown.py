"""SIGTERM to `cdshooks serve` (what Kubernetes and systemd send): stop accepting, finish what is in
flight within CDSHOOKS_GRACEFUL_TIMEOUT, lose no acknowledged feedback.

The in-flight request is held open for real: its prefetch fallback fetch waits on a loopback FHIR
server until the test releases it, after the signal has been sent.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select

from cdshooks.store.tables import card_audit, feedback
from support.processes import LocalIssuer, serve_env, start_serve
from support.requests import order_sign_request
from support.servers import fhir_server, free_port

GRACE = 6  # CDSHOOKS_GRACEFUL_TIMEOUT for this test


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_sigterm_finishes_the_in_flight_request_refuses_new_ones_and_keeps_feedback(tmp_path: Path) -> None:
    arrived, release = threading.Event(), threading.Event()

    def hold_observations(rec):  # the service's fallback fetch waits here
        if rec.path.endswith("/Observation"):
            arrived.set()
            release.wait(20)
        return None

    port = free_port()
    base = f"http://127.0.0.1:{port}/cds-services/all-order-sign"
    with fhir_server([], override=hold_observations) as fhir:
        issuer = LocalIssuer(tmp_path / "issuers.json", fhir_servers=(fhir.base_url,))
        env = serve_env(tmp_path / "var", CDSHOOKS_TRUSTED_ISSUERS=str(issuer.issuers_file),
                        CDSHOOKS_GRACEFUL_TIMEOUT=str(GRACE))
        instance = start_serve(env, tmp_path / "serve.log", port=port, workers=2)
        instance.wait_healthy()
        fb = {"feedback": [{"card": "c-drain", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"}]}
        acked = requests.post(base + "/feedback", json=fb, timeout=10,
                              headers={"Authorization": f"Bearer {issuer.token(base + '/feedback')}"})
        assert acked.status_code == 200
        body = order_sign_request(fhir_server=fhir.base_url, token="fhir-token")
        body["prefetch"].pop("observations")
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(requests.post, base, json=body, timeout=30,
                                    headers={"Authorization": f"Bearer {issuer.token(base)}"})
            deadline = time.monotonic() + 60  # generous: the suite shares 2 cores with other work
            while not arrived.wait(0.2):
                early = in_flight.result() if in_flight.done() else None
                assert early is None, f"answered before its fetch: {early.status_code} {early.text[:300]}"
                assert time.monotonic() < deadline, f"never reached its fetch: {instance.log_text()[-1500:]}"
            signalled = time.monotonic()
            instance.proc.terminate()  # SIGTERM while the request is in flight
            deadline = time.monotonic() + 3
            while not _refuses_connections(port) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _refuses_connections(port), "new connections must be refused once SIGTERM arrives"
            assert not in_flight.done()
            time.sleep(1.0)  # still held: the worker must wait for it, not drop it
            release.set()
            answer = in_flight.result(timeout=20)
        assert answer.status_code == 200 and answer.json()["cards"]
        assert instance.proc.wait(timeout=GRACE + 10) == 0
        assert time.monotonic() - signalled < GRACE + 5
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'cdshooks.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(feedback).where(feedback.c.card_uuid == "c-drain")).scalar_one() == 1
        audited = select(func.count()).select_from(card_audit).where(card_audit.c.hook_instance == body["hookInstance"])
        assert conn.execute(audited).scalar_one() == len(answer.json()["cards"])
    engine.dispose()
