"""The Flask app factory: `create_app(settings=None)`. No module-level app.

Builds Settings once (environment -> frozen dataclass), loads and validates the knowledge base
(refusing to start on a bad file), opens the store (migrating, or with CDSHOOKS_MIGRATE=never checking, the schema), creates the JWT verifier
and the outbound HTTP session, and registers the blueprints. Tests pass their own Settings.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from .config import Settings, settings_from_env
from .errors import ConfigError
from .knowledge import Knowledge, knowledge_for
from .protocol.auth import JwtVerifier
from .protocol.runtime import Runtime, runtime  # noqa: F401  (kept importable from here)
from .rules.registry import registered_rules
from .store import Store

log = logging.getLogger(__name__)
# Auth required with no trusted issuer is allowed (the contract documents "every call is 401":
# a locked-down instance is safe) but said loudly at every start.
NO_ISSUERS_WARNING = (
    "NO TRUSTED ISSUERS: CDSHOOKS_AUTH=required and CDSHOOKS_TRUSTED_ISSUERS lists no EHR, "
    "so every /cds-services call will be answered 401"
)


def check_policy_ids(settings: Settings, knowledge: Knowledge) -> None:
    """Refuse to start when the site policy names a rule id the knowledge does not have."""
    if settings.policy is None:
        return
    from .policy import check_known_ids

    problems = check_known_ids(settings.policy, knowledge)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"CDSHOOKS_POLICY: {problems[0]}{more}")


def check_rule_ids(settings: Settings, knowledge: Knowledge) -> None:
    """Refuse to start when CDSHOOKS_DISABLED_RULES / _ENABLED_SOFT_RULES name an unknown rule
    id: a typo would otherwise leave on the rule the operator meant to switch off."""
    from .policy.catalogue import is_known_rule, known_rule_ids

    known = known_rule_ids(knowledge)
    for name, ids in (("CDSHOOKS_DISABLED_RULES", settings.disabled_rules), ("CDSHOOKS_ENABLED_SOFT_RULES", settings.enabled_soft_rules)):
        unknown = sorted(i for i in ids if not is_known_rule(i, known))
        if unknown:
            raise ConfigError(f"{name}: unknown rule id {unknown[0]!r}" + (f" (+{len(unknown) - 1} more)" if len(unknown) > 1 else ""))


def open_store(settings: Settings, knowledge: Knowledge) -> Store:
    """The start-up checks that need more than the environment, then the store with its schema
    in place. Every failure is a ConfigError with a one-line reason (`cdshooks serve` exits 2)."""
    check_policy_ids(settings, knowledge)
    check_rule_ids(settings, knowledge)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"CDSHOOKS_DATA_DIR: cannot create {settings.data_dir}: {exc.strerror or type(exc).__name__}") from None
    store = Store.from_settings(settings)
    try:
        store.prepare(settings.migrate)
    except SQLAlchemyError as exc:
        store.close()
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"CDSHOOKS_DATABASE_URL: cannot open the store ({first})") from None
    return store


def create_app(settings: Settings | None = None, *, knowledge: Knowledge | None = None, audit_in_background: bool = False) -> Flask:
    """`audit_in_background`: audit rows are committed by a background writer in this process
    (store/audit_writer.py) instead of before each answer; the serving entry points turn it on,
    and whoever turns it on closes the store at exit (`close_app`), which drains the writer."""
    settings = settings or settings_from_env()
    knowledge = knowledge or knowledge_for(settings.regimen_dir)
    registered_rules()  # import every rule family now: a knowledge kind with no evaluator stops start-up, not the first call
    store = open_store(settings, knowledge)
    if audit_in_background:
        store.write_audit_in_background()
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
    if settings.auth_required and not settings.trusted_issuers:
        log.warning(NO_ISSUERS_WARNING)
    if not settings.auth_required:
        log.warning(
            "AUTH DISABLED (CDSHOOKS_AUTH=disabled): no EHR JWT is checked. Bound to loopback only; "
            "never use this mode with real patient data."
        )
    log.info("ALL CDS ready: knowledge %s, store %s", knowledge.version, store.engine_name)
    return app


def close_app(app: Any) -> None:
    """Release what `create_app` opened: the audit writer is drained (every accepted row
    committed), then the database engine is closed. A no-op for any other WSGI app."""
    runtime_ = getattr(app, "extensions", {}).get("cdshooks") if hasattr(app, "extensions") else None
    if runtime_ is not None:
        runtime_.store.close()


def serving_app() -> Flask:
    """The app as gunicorn serves it, built in each worker (`cdshooks serve`, `wsgi_app()`):
    audit rows written in the background, the GC tuned after one warm-up call per service
    (gctune.py), Content-Length bodies read in one pass (protocol/wsgi_body.py), and in a
    gthread worker one service call at a time running Python (the CPU gate, gate.py)."""
    from .gate import gate_service_calls
    from .gctune import tune_for_serving
    from .protocol.wsgi_body import length_body_reads

    app = create_app(audit_in_background=True)
    tune_for_serving(app)
    max_body = app.extensions["cdshooks"].settings.max_body_bytes
    app.wsgi_app = length_body_reads(gate_service_calls(app.wsgi_app, max_body_bytes=max_body))
    return app


def wsgi_app(**kwargs: Any) -> Flask:
    """gunicorn entry point: `gunicorn 'cdshooks.app:wsgi_app()'`, the app `cdshooks serve` runs
    (`serving_app`); the audit writer is drained when the worker exits."""
    import atexit

    app = serving_app()
    atexit.register(close_app, app)
    return app
