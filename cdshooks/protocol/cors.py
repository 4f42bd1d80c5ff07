"""CORS for browser-based CDS clients (the CDS Hooks sandbox), including preflight OPTIONS.

The mechanics are flask-cors; the policy is ours, decided here from Settings:
- CDSHOOKS_CORS_ORIGINS (comma-separated) lists the browser origins allowed (`*` = any);
- with no list, `*` is used only while auth is disabled (try-it-out on loopback); with auth
  required and no list, CORS is not enabled at all, so browsers are refused;
- no cookies are used, so credentials are never allowed; `Vary: Origin` whenever the answer
  depends on the origin. flask-cors adds Vary only for several origins or a pattern; with ONE
  listed origin the answer still differs by Origin (header present or absent), so a shared cache
  needs it too (tests/protocol/test_cors_policy.py): added here.
"""

from __future__ import annotations

from flask import Flask, Response
from flask_cors import CORS

from ..config import Settings

ALLOW_METHODS = ["GET", "POST", "OPTIONS"]
ALLOW_HEADERS = ["Authorization", "Content-Type", "Accept"]
MAX_AGE = 600


def allowed_origins(settings: Settings) -> list[str] | str | None:
    """The origins list for flask-cors: "*", explicit origins, or None (CORS off)."""
    if settings.cors_origins:
        return "*" if "*" in settings.cors_origins else sorted({o.rstrip("/") for o in settings.cors_origins})
    return "*" if not settings.auth_required else None


def init_app(app: Flask, settings: Settings) -> None:
    origins = allowed_origins(settings)
    if origins is None:
        return
    CORS(
        app,
        origins=origins,
        methods=ALLOW_METHODS,
        allow_headers=ALLOW_HEADERS,
        max_age=MAX_AGE,
        supports_credentials=False,
        send_wildcard=origins == "*",  # answer "*" rather than echoing any origin back
        vary_header=True,
    )
    if origins != "*":
        @app.after_request
        def vary_on_origin(response: Response) -> Response:
            response.vary.add("Origin")
            return response
