"""Settings: environment -> one validated, frozen dataclass, built once per app.

Every knob the service has lives here with its default, so a reader sees them in one place.
Code reads settings from ``current_app.extensions["cdshooks"].settings`` (or receives them as an
argument), never from module globals. Bad configuration raises ConfigError with a one-line reason,
which ``cdshooks serve`` prints before exiting non-zero.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from .errors import ConfigError
from .policy import PolicyError, SitePolicy, load_policy

MAX_ISS_CHARS = 512  # the store's issuer columns (card_audit, feedback, the replay table)

DEFAULT_BIND_HOST = "127.0.0.1"
DEFAULT_BIND_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_FETCH_CONNECT_TIMEOUT = 2.0
DEFAULT_FETCH_READ_TIMEOUT = 5.0
DEFAULT_FETCH_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_FETCH_MAX_PAGES = 5
# One deadline for all fallback fetching of a request, well under gunicorn's 30 s worker timeout.
DEFAULT_FETCH_DEADLINE_SECONDS = 3.0
DEFAULT_FETCH_MAX_TOTAL_BYTES = 32 * 1024 * 1024
DEFAULT_FETCH_WORKERS = 4  # concurrent fetches per request
DEFAULT_DOSE_TOLERANCE_PCT = 10.0
DEFAULT_DOSE_CRITICAL_PCT = 25.0
DEFAULT_JWT_LEEWAY_SECONDS = 60
DEFAULT_JWKS_CACHE_SECONDS = 300
DEFAULT_GRACEFUL_TIMEOUT = 20  # seconds a SIGTERMed worker may finish in-flight requests (< k8s grace)
MIN_AUDIT_KEY_CHARS = 32  # the generated key is 64 hex characters; a configured one must not be weak
MIGRATE_MODES = ("auto", "never")
DEFAULT_JWT_MAX_LIFETIME_SECONDS = 300  # CDS Hooks best practice: exp at most 5 minutes after iat


@dataclass(frozen=True)
class TrustedIssuer:
    """One EHR (JWT issuer) we accept, its keys, and the FHIR servers we may call for it."""

    iss: str
    jwks: Mapping[str, Any] | None = None
    jwks_url: str | None = None
    fhir_servers: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()  # empty = any tenant


@dataclass(frozen=True)
class Settings:
    auth: str = "required"  # "required" | "disabled"
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    trusted_issuers_path: str | None = None
    database_url: str = ""
    data_dir: Path = Path("./var")
    public_base_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    fetch_connect_timeout: float = DEFAULT_FETCH_CONNECT_TIMEOUT
    fetch_read_timeout: float = DEFAULT_FETCH_READ_TIMEOUT
    fetch_max_bytes: int = DEFAULT_FETCH_MAX_BYTES
    fetch_max_pages: int = DEFAULT_FETCH_MAX_PAGES
    fetch_deadline_seconds: float = DEFAULT_FETCH_DEADLINE_SECONDS
    fetch_max_total_bytes: int = DEFAULT_FETCH_MAX_TOTAL_BYTES
    fetch_workers: int = DEFAULT_FETCH_WORKERS
    dose_tolerance_pct: float = DEFAULT_DOSE_TOLERANCE_PCT
    dose_critical_pct: float = DEFAULT_DOSE_CRITICAL_PCT
    disabled_rules: frozenset[str] = frozenset()
    enabled_soft_rules: frozenset[str] = frozenset()
    jwt_leeway_seconds: int = DEFAULT_JWT_LEEWAY_SECONDS
    jwks_cache_seconds: int = DEFAULT_JWKS_CACHE_SECONDS
    jwt_max_lifetime_seconds: int = DEFAULT_JWT_MAX_LIFETIME_SECONDS
    audit_key: str | None = None
    graceful_timeout: int = DEFAULT_GRACEFUL_TIMEOUT
    migrate: str = "auto"  # "auto": serve runs `db upgrade` at start; "never": it only checks
    policy: SitePolicy | None = None  # CDSHOOKS_POLICY; ids checked against the knowledge at start-up
    bind_host: str = DEFAULT_BIND_HOST
    regimen_dir: Path | None = None  # CDSHOOKS_REGIMEN_DIR: the site's regimen templates (*.json), added to the shipped ones
    # The clinical "now" (ages on patient-view, measurement windows without an order date).
    # None = the wall clock. Deliberately NOT read from the environment, so no deployment can
    # freeze it by accident: only code sets it (tests pin it to the fixtures' reference date,
    # `cdshooks check --as-of` to a chosen day). Token lifetimes always use the real clock.
    fixed_now: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        """The clinical "now": `fixed_now` when set (timezone-aware), else the wall clock in UTC."""
        if self.fixed_now is None:
            return datetime.now(timezone.utc)
        return self.fixed_now if self.fixed_now.tzinfo else self.fixed_now.replace(tzinfo=timezone.utc)

    @property
    def auth_required(self) -> bool:
        return self.auth == "required"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'cdshooks.sqlite3').resolve()}"

    def trusted_fhir_servers(self, iss: str | None) -> tuple[str, ...]:
        """FHIR base URLs we may fetch from for this issuer (any issuer's list when auth is off)."""
        if iss is None:
            if self.auth_required:
                return ()
            return tuple(s for i in self.trusted_issuers for s in i.fhir_servers)
        return tuple(s for i in self.trusted_issuers if i.iss == iss for s in i.fhir_servers)

    def issuer(self, iss: str) -> TrustedIssuer | None:
        return next((i for i in self.trusted_issuers if i.iss == iss), None)

    def with_overrides(self, **kwargs: Any) -> "Settings":
        return replace(self, **kwargs)


def _bool_list(raw: str | None) -> frozenset[str]:
    return frozenset(p.strip() for p in (raw or "").split(",") if p.strip())


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    return int(_float(env, name, default, minimum))


def normalize_base_url(url: str) -> str:
    return url.rstrip("/")


def load_trusted_issuers(path: str) -> tuple[TrustedIssuer, ...]:
    """Read CDSHOOKS_TRUSTED_ISSUERS: a JSON list of {iss, jwks | jwks_url, fhir_servers}."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"CDSHOOKS_TRUSTED_ISSUERS: file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"CDSHOOKS_TRUSTED_ISSUERS: cannot read {path}: {exc}") from None
    if not isinstance(raw, list):
        raise ConfigError("CDSHOOKS_TRUSTED_ISSUERS must hold a JSON list of issuer objects")
    issuers: list[TrustedIssuer] = []
    for n, item in enumerate(raw):
        where = f"CDSHOOKS_TRUSTED_ISSUERS[{n}]"
        if not isinstance(item, dict) or not isinstance(item.get("iss"), str) or not item["iss"]:
            raise ConfigError(f"{where}: needs a non-empty string 'iss'")
        if len(item["iss"]) > MAX_ISS_CHARS:  # every audit, feedback and replay row names it
            raise ConfigError(f"{where}: 'iss' is longer than {MAX_ISS_CHARS} characters, which the store cannot keep")
        jwks, jwks_url = item.get("jwks"), item.get("jwks_url")
        if (jwks is None) == (jwks_url is None):
            raise ConfigError(f"{where}: give exactly one of 'jwks' or 'jwks_url'")
        if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
            raise ConfigError(f"{where}: 'jwks' must be a JWK Set object with a 'keys' list")
        if jwks_url is not None and urlsplit(str(jwks_url)).scheme not in ("https", "http"):
            raise ConfigError(f"{where}: 'jwks_url' must be an http(s) URL")
        servers = item.get("fhir_servers", [])
        if not isinstance(servers, list) or not all(isinstance(s, str) and urlsplit(s).scheme in ("http", "https") for s in servers):
            raise ConfigError(f"{where}: 'fhir_servers' must be a list of http(s) base URLs")
        if jwks is not None and not any(isinstance(k, dict) and k.get("kty") in ("EC", "RSA") and k.get("kid") for k in jwks["keys"]):
            raise ConfigError(f"{where}: 'jwks' has no usable key (an EC or RSA key with a kid); every token would be refused")
        tenants = item.get("tenants", [])
        issuers.append(
            TrustedIssuer(
                iss=item["iss"],
                jwks=jwks,
                jwks_url=jwks_url,
                fhir_servers=tuple(normalize_base_url(s) for s in servers),
                tenants=tuple(str(t) for t in tenants),
            )
        )
    return tuple(issuers)


def audit_key_from_env(env: Mapping[str, str]) -> str | None:
    """CDSHOOKS_AUDIT_KEY, or the contents of CDSHOOKS_AUDIT_KEY_FILE (a mounted secret).

    Every instance sharing one database must hash a patient id with the same key, so the key is
    configuration, not something each process generates (see store/audit_key.py).
    """
    value, path = env.get("CDSHOOKS_AUDIT_KEY") or None, env.get("CDSHOOKS_AUDIT_KEY_FILE") or None
    if value and path:
        raise ConfigError("set CDSHOOKS_AUDIT_KEY or CDSHOOKS_AUDIT_KEY_FILE, not both")
    name = "CDSHOOKS_AUDIT_KEY"
    if path:
        name = "CDSHOOKS_AUDIT_KEY_FILE"
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"CDSHOOKS_AUDIT_KEY_FILE: cannot read {path}: {exc.__class__.__name__}") from None
    if value is not None and len(value) < MIN_AUDIT_KEY_CHARS:
        raise ConfigError(f"{name} must be at least {MIN_AUDIT_KEY_CHARS} characters (e.g. `openssl rand -hex 32`)")
    return value


def is_postgresql(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0].lower() in ("postgresql", "postgres")
def read_site_policy(path: str | None) -> SitePolicy | None:
    """CDSHOOKS_POLICY: schema and topics checked here, rule ids once the knowledge is loaded."""
    if not path:
        return None
    try:
        return load_policy(path)
    except PolicyError as exc:
        more = f" (+{len(exc.problems) - 1} more; see `cdshooks policy check {path}`)" if len(exc.problems) > 1 else ""
        raise ConfigError(f"CDSHOOKS_POLICY: {exc.problems[0]}{more}") from None


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def settings_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from CDSHOOKS_* variables; keyword overrides win (tests, CLI flags)."""
    env = os.environ if env is None else env
    auth = (env.get("CDSHOOKS_AUTH") or "required").strip().lower()
    if auth not in ("required", "disabled"):
        raise ConfigError(f"CDSHOOKS_AUTH must be 'required' or 'disabled', got {auth!r}")
    issuers_path = env.get("CDSHOOKS_TRUSTED_ISSUERS") or None
    issuers = load_trusted_issuers(issuers_path) if issuers_path else ()
    public = env.get("CDSHOOKS_PUBLIC_BASE_URL") or None
    if public and urlsplit(public).scheme not in ("http", "https"):
        raise ConfigError(f"CDSHOOKS_PUBLIC_BASE_URL must be an http(s) URL, got {public!r}")
    values: dict[str, Any] = dict(
        auth=auth,
        trusted_issuers=issuers,
        trusted_issuers_path=issuers_path,
        database_url=env.get("CDSHOOKS_DATABASE_URL", ""),
        data_dir=Path(env.get("CDSHOOKS_DATA_DIR") or "./var"),
        public_base_url=normalize_base_url(public) if public else None,
        cors_origins=tuple(sorted(_bool_list(env.get("CDSHOOKS_CORS_ORIGINS")))),
        max_body_bytes=_int(env, "CDSHOOKS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024),
        fetch_connect_timeout=_float(env, "CDSHOOKS_FETCH_CONNECT_TIMEOUT", DEFAULT_FETCH_CONNECT_TIMEOUT, 0.05),
        fetch_read_timeout=_float(env, "CDSHOOKS_FETCH_READ_TIMEOUT", DEFAULT_FETCH_READ_TIMEOUT, 0.05),
        fetch_max_bytes=_int(env, "CDSHOOKS_FETCH_MAX_BYTES", DEFAULT_FETCH_MAX_BYTES, 1024),
        fetch_max_pages=_int(env, "CDSHOOKS_FETCH_MAX_PAGES", DEFAULT_FETCH_MAX_PAGES, 1),
        fetch_deadline_seconds=_float(env, "CDSHOOKS_FETCH_DEADLINE_SECONDS", DEFAULT_FETCH_DEADLINE_SECONDS, 0.1),
        fetch_max_total_bytes=_int(env, "CDSHOOKS_FETCH_MAX_TOTAL_BYTES", DEFAULT_FETCH_MAX_TOTAL_BYTES, 1024),
        fetch_workers=_int(env, "CDSHOOKS_FETCH_WORKERS", DEFAULT_FETCH_WORKERS, 1),
        dose_tolerance_pct=_float(env, "CDSHOOKS_DOSE_TOLERANCE_PCT", DEFAULT_DOSE_TOLERANCE_PCT, 0.0),
        dose_critical_pct=_float(env, "CDSHOOKS_DOSE_CRITICAL_PCT", DEFAULT_DOSE_CRITICAL_PCT, 0.0),
        disabled_rules=_bool_list(env.get("CDSHOOKS_DISABLED_RULES")),
        enabled_soft_rules=_bool_list(env.get("CDSHOOKS_ENABLED_SOFT_RULES")),
        jwt_leeway_seconds=_int(env, "CDSHOOKS_JWT_LEEWAY_SECONDS", DEFAULT_JWT_LEEWAY_SECONDS, 0),
        jwks_cache_seconds=_int(env, "CDSHOOKS_JWKS_CACHE_SECONDS", DEFAULT_JWKS_CACHE_SECONDS, 0),
        audit_key=audit_key_from_env(env),
        graceful_timeout=_int(env, "CDSHOOKS_GRACEFUL_TIMEOUT", DEFAULT_GRACEFUL_TIMEOUT, 1),
        migrate=(env.get("CDSHOOKS_MIGRATE") or "auto").strip().lower(),
        policy=read_site_policy(env.get("CDSHOOKS_POLICY")),
        jwt_max_lifetime_seconds=_int(env, "CDSHOOKS_JWT_MAX_LIFETIME_SECONDS", DEFAULT_JWT_MAX_LIFETIME_SECONDS, 1),
        bind_host=env.get("CDSHOOKS_BIND_HOST") or DEFAULT_BIND_HOST,
        regimen_dir=Path(env["CDSHOOKS_REGIMEN_DIR"]) if env.get("CDSHOOKS_REGIMEN_DIR") else None,
    )
    values.update(overrides)
    settings = Settings(**values)
    if settings.dose_critical_pct < settings.dose_tolerance_pct:
        raise ConfigError("CDSHOOKS_DOSE_CRITICAL_PCT must be >= CDSHOOKS_DOSE_TOLERANCE_PCT")
    if settings.migrate not in MIGRATE_MODES:
        raise ConfigError(f"CDSHOOKS_MIGRATE must be 'auto' or 'never', got {settings.migrate!r}")
    if is_postgresql(settings.database_url) and not settings.audit_key:
        raise ConfigError(
            "CDSHOOKS_DATABASE_URL is PostgreSQL (shared by many instances) but no audit key is configured: "
            "set CDSHOOKS_AUDIT_KEY or CDSHOOKS_AUDIT_KEY_FILE to the same secret on every instance"
        )
    if not settings.auth_required and not is_loopback(settings.bind_host):
        raise ConfigError(
            f"CDSHOOKS_AUTH=disabled is allowed only on a loopback address, not {settings.bind_host!r}"
        )
    return settings
