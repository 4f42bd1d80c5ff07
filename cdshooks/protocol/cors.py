"""CORS for browser-based CDS clients (the CDS Hooks sandbox), including preflight OPTIONS.

Allowed origins come from CDSHOOKS_CORS_ORIGINS (comma-separated). With no list, `*` is used only
while auth is disabled (try-it-out on loopback); with auth required and no list, no
Access-Control-Allow-Origin is sent and browsers are refused. No cookies are used, so
credentials are never allowed.
"""

from __future__ import annotations

from flask import Flask, Response, request

from ..config import Settings

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Accept"
MAX_AGE = "600"


def allowed_origin(origin: str | None, settings: Settings) -> str | None:
    if not origin:
        return None
    if settings.cors_origins:
        if "*" in settings.cors_origins:
            return "*"
        return origin if origin.rstrip("/") in {o.rstrip("/") for o in settings.cors_origins} else None
    return "*" if not settings.auth_required else None


def init_app(app: Flask, settings: Settings) -> None:
    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        allow = allowed_origin(request.headers.get("Origin"), settings)
        if allow:
            response.headers["Access-Control-Allow-Origin"] = allow
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
            if allow != "*":
                response.headers.add("Vary", "Origin")
        return response
