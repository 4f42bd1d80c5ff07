"""EHR authentication: verify the CDS Hooks JWT on every /cds-services* request.

Why each check (CDS Hooks 2.0 "Security and Safety" + the cds-hooks/docs best practices):
the EHR signs a short-lived JWT whose ``aud`` is the exact URL it is calling, so a token captured
for one endpoint cannot be replayed on another, and its ``jti`` makes it single-use. We accept
only asymmetric algorithms (no ``none``, no HS*: a public key must never double as an HMAC secret),
only issuers we were configured to trust, and only keys from that issuer's out-of-band JWKS or its
configured ``jwks_url``. A ``jku`` header never makes us fetch a URL we were not configured with.

Every failure raises ``Unauthorized(reason)``: the reason is for the log and never contains the
token; the HTTP body says nothing. Signature maths is PyJWT + cryptography; nothing hand-written.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWK

from ..config import Settings, TrustedIssuer
from ..errors import Unauthorized
from ..gate import GATE
from ..store import Store
from ..store.identity import ANONYMOUS, Caller  # noqa: F401  (defined with the rows they sign)

log = logging.getLogger(__name__)

# ES384 and RS384 are the spec's RECOMMENDED pair; the others are the same families at other sizes.
ALLOWED_ALGORITHMS: frozenset[str] = frozenset({"ES384", "RS384", "ES256", "RS256", "ES512", "RS512"})
MAX_TOKEN_CHARS = 16 * 1024  # a CDS Hooks JWT is a few hundred bytes; refuse to parse megabytes
MAX_JWKS_BYTES = 256 * 1024
MAX_JTI_CHARS = 255  # the replay table's column width
MAX_TENANT_CHARS = 255  # the audit and feedback tables' column width (a longer one could never be stored)
# A forced JWKS refetch for an unknown kid happens at most this often per issuer, so a stream of
# tokens with random kids cannot turn us into a request amplifier against the EHR.
DEFAULT_MIN_REFETCH_SECONDS = 10.0
# The last second a datetime can hold (9999-12-31T23:59:59Z). A NumericDate beyond it (or below the
# epoch, or not finite) cannot be a real token time: 401, never an OverflowError.
MAX_NUMERIC_DATE = 253402300799




@dataclass(frozen=True)
class _Jwk:
    """One usable public key and the JWK members we check (alg, use)."""

    data: Mapping[str, Any]
    key: Any


_KeySet = dict[str, _Jwk]  # kid -> key


@dataclass
class _CachedKeys:
    keys: _KeySet
    fetched_at: float
    forced_at: float | None = None


class JwtVerifier:
    """Verifies ``Authorization: Bearer <jwt>`` against Settings.trusted_issuers.

    Thread-safe: JWKS downloads are serialised by a lock, and the replay cache lives in the
    database (shared by all workers), never in process memory.
    """

    def __init__(
        self,
        settings: Settings,
        replay_store: Store,
        session: requests.Session,
        *,
        clock: Callable[[], float] = time.time,
        min_refetch_seconds: float = DEFAULT_MIN_REFETCH_SECONDS,
    ) -> None:
        self._settings = settings
        self._store = replay_store
        self._session = session
        self._clock = clock
        self._min_refetch = min_refetch_seconds
        self._cache: dict[str, _CachedKeys] = {}
        self._inline: dict[str, _KeySet] = {}
        self._lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------
    def verify(self, authorization: str | None, audience_url: str) -> Caller:
        """Return the authenticated Caller or raise Unauthorized; ``audience_url`` = URL invoked."""
        token = _bearer_token(authorization)
        header = _header(token)
        alg, kid = header["alg"], header["kid"]
        claims = _unverified_claims(token)
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss:
            raise Unauthorized("iss claim missing")
        issuer = self._settings.issuer(iss)
        if issuer is None:
            raise Unauthorized(f"untrusted issuer {iss!r}")
        jku = header.get("jku")
        if jku is not None and issuer.jwks_url is not None and jku != issuer.jwks_url:
            raise Unauthorized(f"jku not allow-listed for issuer {iss!r}")
        # With an out-of-band JWKS (no jwks_url), jku is never fetched, so it is ignored: the key must
        # still be in the configured set. This is how the offline Sandbox (hard-coded jku) works.
        key = self._key_for(issuer, kid, alg)
        try:
            payload = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "require": [],
                },
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized(f"bad signature (iss {iss!r}, kid {kid!r})") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token rejected by PyJWT: {type(exc).__name__}") from None
        return self._check_claims(payload, issuer, audience_url)

    # -- claims ---------------------------------------------------------------------------------
    def _check_claims(self, payload: Mapping[str, Any], issuer: TrustedIssuer, audience_url: str) -> Caller:
        now = self._clock()
        leeway = self._settings.jwt_leeway_seconds
        if payload.get("iss") != issuer.iss:
            raise Unauthorized("iss changed between parse and verify")
        aud = payload.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
        if not audiences or not all(isinstance(a, str) for a in audiences):
            raise Unauthorized("aud claim missing or not a string/array of strings")
        if audience_url not in audiences:
            raise Unauthorized(f"aud does not name the invoked URL {audience_url!r}")
        exp = _numeric(payload, "exp")
        if exp <= now:  # "exp in the future": no leeway
            raise Unauthorized(f"token expired (iss {issuer.iss!r})")
        iat = _numeric(payload, "iat")
        if iat > now + leeway:
            raise Unauthorized(f"iat in the future beyond {leeway}s leeway")
        if iat > exp:
            raise Unauthorized("iat is after exp")
        # CDS Hooks best practice: exp no more than 5 minutes after iat. A long-lived token is a
        # stolen-token risk and would make the replay table hold its jti for that long.
        if exp - iat > self._settings.jwt_max_lifetime_seconds:
            raise Unauthorized(f"token lifetime {exp - iat:.0f}s exceeds {self._settings.jwt_max_lifetime_seconds}s")
        if "nbf" in payload and _numeric(payload, "nbf") > now + leeway:
            raise Unauthorized("nbf in the future")
        tenant = payload.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise Unauthorized("tenant claim is not a string")
        if tenant is not None and len(tenant) > MAX_TENANT_CHARS:
            raise Unauthorized(f"tenant claim longer than {MAX_TENANT_CHARS} characters")
        if issuer.tenants and tenant not in issuer.tenants:
            raise Unauthorized(f"tenant not allow-listed for issuer {issuer.iss!r}")
        jti = payload.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise Unauthorized("jti claim missing or invalid")
        expires_at = datetime.fromtimestamp(exp, tz=timezone.utc)
        if not self._store.claim_jti(issuer.iss, jti, expires_at):
            raise Unauthorized(f"replayed jti {jti!r} (iss {issuer.iss!r})")
        return Caller(iss=issuer.iss, tenant=tenant, jti=jti)

    # -- keys -----------------------------------------------------------------------------------
    def _key_for(self, issuer: TrustedIssuer, kid: str, alg: str) -> Any:
        """The issuer's public key with this kid, checked to fit ``alg``."""
        if issuer.jwks is not None:
            if issuer.iss not in self._inline:
                self._inline[issuer.iss] = _keyset(issuer.jwks, issuer.iss)
            jwk = self._inline[issuer.iss].get(kid)
        else:
            jwk = self._remote_key(issuer, kid)
        if jwk is None:
            raise Unauthorized(f"unknown kid {kid!r} for issuer {issuer.iss!r}")
        declared_alg = jwk.data.get("alg")
        if declared_alg is not None and declared_alg != alg:
            raise Unauthorized(f"kid {kid!r} is for {declared_alg}, token says {alg}")
        if jwk.data.get("use", "sig") != "sig":
            raise Unauthorized(f"kid {kid!r} is not a signing key")
        wanted = ec.EllipticCurvePublicKey if alg.startswith("ES") else rsa.RSAPublicKey
        if not isinstance(jwk.key, wanted):
            raise Unauthorized(f"kid {kid!r} key type does not fit {alg}")
        return jwk.key

    def _remote_key(self, issuer: TrustedIssuer, kid: str) -> _Jwk | None:
        assert issuer.jwks_url is not None
        with GATE.locked(self._lock):  # another thread may hold it across a download (gate.py)
            now = self._clock()
            cached = self._cache.get(issuer.iss)
            if cached is None or now - cached.fetched_at >= self._settings.jwks_cache_seconds:
                cached = self._refresh(issuer, cached, now, forced=False)
            jwk = cached.keys.get(kid) if cached else None
            if jwk is None and cached is not None:
                # Key rotation: the EHR may have published a new key since we cached. Refetch once.
                if cached.forced_at is None or now - cached.forced_at >= self._min_refetch:
                    cached = self._refresh(issuer, cached, now, forced=True)
                    jwk = cached.keys.get(kid) if cached else None
            return jwk

    def _refresh(self, issuer: TrustedIssuer, cached: _CachedKeys | None, now: float, *, forced: bool) -> _CachedKeys | None:
        """Download the JWKS; on failure keep serving the previous set (logged) if there is one."""
        try:
            keys = _keyset(self._download(issuer.jwks_url or ""), issuer.iss)
        except Unauthorized as exc:
            log.warning("JWKS refresh failed for issuer %r: %s", issuer.iss, exc.message)
            if cached is not None and forced:
                cached.forced_at = now
            return cached
        fresh = _CachedKeys(keys=keys, fetched_at=now, forced_at=now if forced else (cached.forced_at if cached else None))
        self._cache[issuer.iss] = fresh
        return fresh

    def _download(self, url: str) -> Any:
        timeout = (self._settings.fetch_connect_timeout, self._settings.fetch_read_timeout)
        with GATE.released():  # the network wait lets another call run (gate.py)
            try:
                with self._session.get(url, timeout=timeout, stream=True, allow_redirects=False,
                                       headers={"Accept": "application/json"}) as response:
                    if response.status_code != 200:
                        raise Unauthorized(f"JWKS fetch answered HTTP {response.status_code}")
                    body = bytearray()
                    for chunk in response.iter_content(chunk_size=16384):
                        body.extend(chunk)
                        if len(body) > MAX_JWKS_BYTES:
                            raise Unauthorized(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
            except requests.RequestException as exc:
                raise Unauthorized(f"JWKS fetch failed: {type(exc).__name__}") from None
        try:
            return json.loads(bytes(body))
        except ValueError:
            raise Unauthorized("JWKS is not JSON") from None


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Authorization header missing")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization is not a Bearer token")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("token too long")
    return token


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("token header unreadable") from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise Unauthorized(f"alg {str(alg)[:16]!r} not allowed")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise Unauthorized("typ is not JWT")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("kid missing")
    jku = header.get("jku")
    if jku is not None and not isinstance(jku, str):
        raise Unauthorized("jku is not a string")
    return header


def _unverified_claims(token: str) -> dict[str, Any]:
    """Read claims before the signature check only to learn which issuer's keys to use."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthorized("token payload unreadable") from None
    return claims


def _numeric(payload: Mapping[str, Any], name: str) -> float:
    """A NumericDate claim as float; Unauthorized if missing, not a number or out of range."""
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unauthorized(f"{name} claim missing or not a number")
    try:
        out = float(value)
    except OverflowError:
        raise Unauthorized(f"{name} claim out of range") from None
    if not math.isfinite(out) or not 0 <= out <= MAX_NUMERIC_DATE:
        raise Unauthorized(f"{name} claim out of range")
    return out


def _keyset(data: Any, iss: str) -> _KeySet:
    """Parse a JWK Set into kid -> key; keys that are not EC/RSA, lack a kid, or do not parse are skipped."""
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise Unauthorized(f"JWKS for {iss!r} has no 'keys' list")
    keys: _KeySet = {}
    for item in data["keys"]:
        if not isinstance(item, Mapping) or item.get("kty") not in ("EC", "RSA"):
            continue
        kid = item.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue  # kid must be unique within the set; the first one wins
        try:
            parsed = PyJWK(dict(item))
        except jwt.PyJWTError:
            continue
        if "d" in item:
            continue  # a private key has no business in a published JWKS: refuse to use it
        keys[kid] = _Jwk(data=dict(item), key=parsed.key)
    if not keys:
        raise Unauthorized(f"JWKS for {iss!r} has no usable EC/RSA key")
    return keys
