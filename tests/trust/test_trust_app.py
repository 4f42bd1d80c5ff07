"""Through the real app on a loopback port: 401 with no detail for each attack, 200 for good tokens,
feedback stored, logs free of tokens and patient ids, and a SIGKILLed server loses no feedback row."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import jwt
import pytest
import requests
from sqlalchemy import func, select

from cdshooks.config import TrustedIssuer
from cdshooks.store import Store
from cdshooks.store.tables import feedback
from trust_helpers import ISS, KeyPair

PUBLIC = "https://cds.example.org"
REPO = Path(__file__).resolve().parents[2]


def token(pair: KeyPair, aud: str, **over: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISS, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()), **over}
    return jwt.encode(payload, pair.private, algorithm=pair.alg, headers={"kid": pair.kid, "typ": "JWT"})


@pytest.fixture
def secured(live_service: Callable[..., Any], keys: dict[str, KeyPair]) -> Callable[[], Any]:
    issuer = TrustedIssuer(iss=ISS, jwks={"keys": [keys["ES384"].public_jwk, keys["RS384"].public_jwk]})
    return lambda: live_service(auth="required", trusted_issuers=(issuer,), public_base_url=PUBLIC)


def test_http_attack_table(secured: Callable[[], Any], keys: dict[str, KeyPair], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    es = keys["ES384"]
    disc = f"{PUBLIC}/cds-services"
    replayed = token(es, disc)
    none_alg = jwt.encode({"iss": ISS, "aud": disc, "iat": int(time.time()), "exp": int(time.time()) + 60,
                           "jti": "n"}, None, algorithm="none", headers={"kid": es.kid, "typ": "JWT"})
    attacks = {
        "missing header": None,
        "alg none": none_alg,
        "wrong aud": token(es, f"{PUBLIC}/cds-services/all-order-sign"),
        "expired": token(es, disc, exp=int(time.time()) - 1),
        "future iat": token(es, disc, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200),
        "unknown kid": token(keys["rotated"], disc),
        "untrusted iss": token(es, disc, iss="https://evil.example"),
        "replayed jti": replayed,
    }
    with secured() as base:
        good = requests.get(f"{base}/cds-services", headers={"Authorization": f"Bearer {replayed}"}, timeout=5)
        assert good.status_code == 200 and good.json()["services"]
        for name, tok in attacks.items():
            headers = {"Authorization": f"Bearer {tok}"} if tok else {}
            response = requests.get(f"{base}/cds-services", headers=headers, timeout=5)
            assert response.status_code == 401, name
            body = response.json()
            assert body["issue"][0]["diagnostics"] == "Unauthorized", name  # no detail for the caller
            assert "aud" not in response.text and "kid" not in response.text and "expired" not in response.text
    for tok in [t for t in attacks.values() if t] + [replayed]:
        assert tok not in caplog.text
        signature = tok.split(".")[-1]
        assert not signature or signature not in caplog.text


def test_feedback_with_a_good_token_is_stored(secured: Callable[[], Any], keys: dict[str, KeyPair], tmp_path: Path) -> None:
    url = f"{PUBLIC}/cds-services/all-order-sign/feedback"
    body = {"feedback": [{"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"}]}
    with secured() as base:
        ok = requests.post(f"{base}/cds-services/all-order-sign/feedback", json=body, timeout=5,
                           headers={"Authorization": f"Bearer {token(keys['RS384'], url, tenant='t-9')}"})
        assert (ok.status_code, ok.json()) == (200, {})
        wrong_aud = requests.post(f"{base}/cds-services/all-order-sign/feedback", json=body, timeout=5,
                                  headers={"Authorization": f"Bearer {token(keys['RS384'], PUBLIC + '/cds-services/all-order-sign')}"})
        assert wrong_aud.status_code == 401
    store = Store(f"sqlite:///{tmp_path / 'var' / 'cdshooks.sqlite3'}")
    with store.engine.connect() as conn:
        (row,) = conn.execute(select(feedback)).all()
    store.close()
    assert (row.card_uuid, row.issuer, row.tenant, row.card_issued) == ("c-1", ISS, "t-9", False)


SERVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from werkzeug.serving import make_server
    from cdshooks.app import create_app
    from cdshooks.config import Settings

    app = create_app(Settings(auth="disabled", data_dir=Path(sys.argv[1])))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()
    """
)


def test_sigkill_right_after_feedback_200_loses_no_row(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path / "var")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().strip() or 0)
        assert port, server.stderr.read() if server.stderr else "server did not start"
        base = f"http://127.0.0.1:{port}"
        items = [{"card": f"c-{n}", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"} for n in range(4)]
        response = requests.post(f"{base}/cds-services/all-order-sign/feedback", json={"feedback": items}, timeout=10)
        server.send_signal(signal.SIGKILL)
        assert (response.status_code, response.json()) == (200, {})
    finally:
        server.kill()
        server.wait(timeout=10)
    assert server.returncode == -signal.SIGKILL
    store = Store(f"sqlite:///{tmp_path / 'var' / 'cdshooks.sqlite3'}")
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(feedback)).scalar_one() == 4
    store.close()
