"""The Flask app factory: `create_app(settings=None)`. No module-level app.

Builds Settings once (environment -> frozen dataclass), loads and validates the knowledge base
(refusing to start on a bad file), opens the store (migrating, or with CDSHOOKS_MIGRATE=never checking, the schema), creates the JWT verifier
and the outbound HTTP session, and registers the blueprints. Tests pass their own Settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask, current_app

from .config import Settings, settings_from_env
from .errors import ConfigError
from .knowledge import Knowledge, knowledge_for
from .protocol.auth import JwtVerifier
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a request needs, attached once to the app as `app.extensions["cdshooks"]`."""

    settings: Settings
    knowledge: Knowledge
    store: Store
    verifier: JwtVerifier
    session: requests.Session


def runtime() -> Runtime:
    return current_app.extensions["cdshooks"]


def check_policy_ids(settings: Settings, knowledge: Knowledge) -> None:
    """Refuse to start when the site policy names a rule id the knowledge does not have."""
    if settings.policy is None:
        return
    from .policy import check_known_ids

    problems = check_known_ids(settings.policy, knowledge)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"CDSHOOKS_POLICY: {problems[0]}{more}")


def create_app(settings: Settings | None = None, *, knowledge: Knowledge | None = None) -> Flask:
    settings = settings or settings_from_env()
    knowledge = knowledge or knowledge_for(settings.regimen_dir)
    check_policy_ids(settings, knowledge)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.from_settings(settings)
    store.prepare(settings.migrate)
    session = requests.Session()
    session.trust_env = False  # never route PHI through a proxy from the environment
    verifier = JwtVerifier(settings, store, session)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["cdshooks"] = Runtime(settings, knowledge, store, verifier, session)

    from .protocol import cors, request_log, routes

    request_log.init_app(app)
    app.register_blueprint(routes.bp)
    cors.init_app(app, settings)
    routes.init_error_handlers(app)
    if not settings.auth_required:
        log.warning(
            "AUTH DISABLED (CDSHOOKS_AUTH=disabled): no EHR JWT is checked. Bound to loopback only; "
            "never use this mode with real patient data."
        )
    log.info("ALL CDS ready: knowledge %s, store %s", knowledge.version, store.engine_name)
    return app


def wsgi_app(**kwargs: Any) -> Flask:
    """gunicorn entry point: `gunicorn 'cdshooks.app:wsgi_app()'` (GC tuned as under `cdshooks serve`)."""
    from .gctune import tune_for_serving

    app = create_app()
    tune_for_serving()
    return app
