"""Our CORS policy on top of flask-cors, through the real app (no browser; tests/browser has one)."""

from __future__ import annotations

from typing import Any

import pytest

SANDBOX = "https://sandbox.cds-hooks.org"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


def preflight(app: Any, origin: str) -> Any:
    return app.test_client().options("/cds-services/all-order-sign", headers={"Origin": origin, **PREFLIGHT})


def test_listed_origin_only_and_never_credentials(make_app: Any) -> None:
    app = make_app(auth="required", cors_origins=(SANDBOX + "/",))  # a trailing slash in the setting is forgiven
    ok = preflight(app, SANDBOX)
    assert ok.headers["Access-Control-Allow-Origin"] == SANDBOX and "Origin" in ok.headers.get("Vary", "")
    assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in ok.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in ok.headers["Access-Control-Allow-Headers"].split(",")}
    assert ok.headers["Access-Control-Max-Age"] == "600" and "Access-Control-Allow-Credentials" not in ok.headers
    for other in ("https://evil.example", "null", SANDBOX.replace("https", "http")):
        assert "Access-Control-Allow-Origin" not in preflight(app, other).headers, other
    get = app.test_client().get("/cds-services", headers={"Origin": SANDBOX})
    assert get.headers["Access-Control-Allow-Origin"] == SANDBOX


@pytest.mark.parametrize("auth,origins,expected", [
    ("disabled", (), "*"),  # loopback try-it-out: any origin, as "*"
    ("required", (), None),  # auth on and no list: browsers refused
    ("required", ("*",), "*"),
])
def test_defaults_follow_auth(make_app: Any, auth: str, origins: tuple[str, ...], expected: str | None) -> None:
    headers = preflight(make_app(auth=auth, cors_origins=origins), "http://localhost:3000").headers
    assert headers.get("Access-Control-Allow-Origin") == expected
