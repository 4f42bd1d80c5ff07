"""JwtVerifier against real keys and real signed tokens: each attack is refused, good tokens pass.

Every refusal is checked to be Unauthorized (-> 401) and its log reason never to contain the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from cdshooks.config import Settings, TrustedIssuer
from cdshooks.errors import Unauthorized
from cdshooks.protocol.auth import ANONYMOUS, Caller, JwtVerifier
from cdshooks.store import Store

from trust_helpers import ISS, NOW, SERVICE_URL, JwksServer, KeyPair, claims, mint

LEEWAY = 60


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture
def inline_settings(keys: dict[str, KeyPair], tmp_path: Path) -> Settings:
    jwks = {"keys": [keys[a].public_jwk for a in ("ES384", "ES256", "ES512", "RS384", "RS256", "RS512")]}
    return Settings(
        trusted_issuers=(TrustedIssuer(iss=ISS, jwks=jwks),),
        data_dir=tmp_path / "var",
        jwt_leeway_seconds=LEEWAY,
    )


@pytest.fixture
def verifier(inline_settings: Settings, sqlite_store: Store, session: requests.Session) -> JwtVerifier:
    return JwtVerifier(inline_settings, sqlite_store, session, clock=lambda: NOW)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def refused(verifier: JwtVerifier, authorization: str | None, audience: str = SERVICE_URL) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        verifier.verify(authorization, audience)
    assert info.value.status == 401
    token = (authorization or "").split(" ", 1)[-1].strip()
    if len(token) >= 20:
        assert token not in info.value.message and token[-20:] not in info.value.message
    return info.value


# -- good tokens ---------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["ES384", "RS384", "ES256", "RS256", "ES512", "RS512"])
def test_good_token_each_allowed_algorithm(verifier: JwtVerifier, keys: dict[str, KeyPair], alg: str) -> None:
    payload = claims(tenant="hospital-a")
    caller = verifier.verify(bearer(mint(keys[alg], payload)), SERVICE_URL)
    assert caller == Caller(iss=ISS, tenant="hospital-a", jti=payload["jti"])


def test_aud_array_containing_the_invoked_url(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    token = mint(keys["ES384"], claims(aud=["https://other.example/x", SERVICE_URL]))
    assert verifier.verify(bearer(token), SERVICE_URL).iss == ISS


def test_anonymous_caller_has_no_identity() -> None:
    assert ANONYMOUS == Caller(None, None, None)


# -- the attack table ----------------------------------------------------------------------------
def test_missing_authorization_header(verifier: JwtVerifier) -> None:
    assert "missing" in refused(verifier, None).message
    refused(verifier, "")


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc.def.ghi"])
def test_not_a_bearer_token(verifier: JwtVerifier, value: str) -> None:
    refused(verifier, value)


def test_alg_none(verifier: JwtVerifier) -> None:
    token = _unsigned({"alg": "none", "typ": "JWT", "kid": "ec384"}, claims()) + "."
    assert "alg" in refused(verifier, bearer(token)).message


def test_hs256_signed_with_the_public_key(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    """Classic key-confusion attack: HMAC keyed with the server's own public key bytes."""
    pem = keys["RS384"].private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, json.dumps(keys["RS384"].public_jwk).encode()):
        signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "rsa-384"}, claims())
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert "alg" in refused(verifier, bearer(f"{signing_input}.{_b64(signature)}")).message


def test_wrong_aud(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    token = mint(keys["ES384"], claims(aud="https://cds.example.org/cds-services/all-order-select"))
    assert "aud" in refused(verifier, bearer(token)).message


@pytest.mark.parametrize(
    "aud",
    [SERVICE_URL + "/", SERVICE_URL.upper(), [], ["https://x.example"], 42, None],
    ids=["trailing-slash", "case", "empty-array", "array-without-url", "number", "absent"],
)
def test_aud_must_name_exactly_the_invoked_url(verifier: JwtVerifier, keys: dict[str, KeyPair], aud: Any) -> None:
    refused(verifier, bearer(mint(keys["ES384"], claims(aud=aud))))


def test_discovery_token_is_not_valid_for_a_service(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    token = mint(keys["ES384"], claims(aud="https://cds.example.org/cds-services"))
    refused(verifier, bearer(token), SERVICE_URL)


def test_expired_and_exp_boundary(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    """exp must be in the future: exp == now is expired, exp == now + 1 is accepted (no leeway)."""
    assert "expired" in refused(verifier, bearer(mint(keys["ES384"], claims(exp=int(NOW) - 1)))).message
    assert "expired" in refused(verifier, bearer(mint(keys["ES384"], claims(exp=int(NOW))))).message
    assert verifier.verify(bearer(mint(keys["ES384"], claims(exp=int(NOW) + 1))), SERVICE_URL).iss == ISS


def test_future_iat_and_leeway_boundary(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    """iat may be up to the leeway ahead (clock skew), not one second more."""
    ok = mint(keys["ES384"], claims(iat=int(NOW) + LEEWAY, exp=int(NOW) + LEEWAY + 300))
    assert verifier.verify(bearer(ok), SERVICE_URL).iss == ISS
    bad = mint(keys["ES384"], claims(iat=int(NOW) + LEEWAY + 1, exp=int(NOW) + LEEWAY + 301))
    assert "iat" in refused(verifier, bearer(bad)).message


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "iss"])
def test_required_claim_missing(verifier: JwtVerifier, keys: dict[str, KeyPair], claim: str) -> None:
    refused(verifier, bearer(mint(keys["ES384"], claims(**{claim: None}))))


def test_replayed_jti(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    token = mint(keys["ES384"])
    verifier.verify(bearer(token), SERVICE_URL)
    assert "replayed" in refused(verifier, bearer(token)).message


def test_same_jti_from_another_issuer_is_not_a_replay(
    keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session, tmp_path: Path
) -> None:
    other = "https://other-ehr.example.org"
    settings = Settings(
        trusted_issuers=(
            TrustedIssuer(iss=ISS, jwks={"keys": [keys["ES384"].public_jwk]}),
            TrustedIssuer(iss=other, jwks={"keys": [keys["RS384"].public_jwk]}),
        ),
        data_dir=tmp_path / "var",
    )
    verifier = JwtVerifier(settings, sqlite_store, session, clock=lambda: NOW)
    first = verifier.verify(bearer(mint(keys["ES384"], claims(jti="shared-nonce"))), SERVICE_URL)
    second = verifier.verify(bearer(mint(keys["RS384"], claims(iss=other, jti="shared-nonce"))), SERVICE_URL)
    assert (first.iss, first.jti) == (ISS, "shared-nonce")
    assert (second.iss, second.jti) == (other, "shared-nonce")
    # the replay cache is keyed per issuer, and it does hold both: each one again IS a replay
    for key, iss in ((keys["ES384"], ISS), (keys["RS384"], other)):
        with pytest.raises(Unauthorized, match="replayed jti"):
            verifier.verify(bearer(mint(key, claims(iss=iss, jti="shared-nonce"))), SERVICE_URL)


def test_replay_across_two_workers_sharing_the_database(
    inline_settings: Settings, keys: dict[str, KeyPair], tmp_path: Path, session: requests.Session
) -> None:
    """Two verifiers with two Store instances (as two gunicorn workers have) on one SQLite file."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first, second = Store(url), Store(url)
    first.migrate()
    try:
        worker_a = JwtVerifier(inline_settings, first, session, clock=lambda: NOW)
        worker_b = JwtVerifier(inline_settings, second, requests.Session(), clock=lambda: NOW)
        token = mint(keys["ES384"])
        worker_a.verify(bearer(token), SERVICE_URL)
        assert "replayed" in refused(worker_b, bearer(token)).message
    finally:
        first.close()
        second.close()


def test_jti_is_reusable_once_the_first_token_expired(
    inline_settings: Settings, keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session
) -> None:
    """The replay window is the token lifetime: after exp the stored jti no longer blocks."""
    import time

    # The store compares expiry with the real clock, so this test runs on real time.
    verifier = JwtVerifier(inline_settings, sqlite_store, session)
    exp = int(time.time()) + 2
    first = mint(keys["ES384"], claims(jti="nonce-1", iat=exp - 10, exp=exp))
    verifier.verify(bearer(first), SERVICE_URL)
    second = mint(keys["ES384"], claims(jti="nonce-1", iat=exp, exp=exp + 300))
    assert "replayed" in refused(verifier, bearer(second)).message  # first token still alive
    while time.time() <= exp + 0.05:
        time.sleep(0.05)
    third = mint(keys["ES384"], claims(jti="nonce-1", iat=int(time.time()), exp=int(time.time()) + 300))
    assert verifier.verify(bearer(third), SERVICE_URL).jti == "nonce-1"


def test_unknown_kid_inline(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    assert "kid" in refused(verifier, bearer(mint(keys["rotated"]))).message


def test_kid_missing(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    assert "kid" in refused(verifier, bearer(mint(keys["ES384"], kid=None))).message


@pytest.mark.parametrize("typ", [None, "JOSE", "at+jwt"])
def test_typ_must_be_jwt(verifier: JwtVerifier, keys: dict[str, KeyPair], typ: str | None) -> None:
    assert "typ" in refused(verifier, bearer(mint(keys["ES384"], typ=typ))).message


def test_untrusted_iss(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    token = mint(keys["ES384"], claims(iss="https://evil.example"))
    assert "untrusted" in refused(verifier, bearer(token)).message


def test_impostor_key_with_a_trusted_kid(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    """An attacker signs with their own key but names our issuer's kid: the signature fails."""
    assert "signature" in refused(verifier, bearer(mint(keys["impostor"]))).message


def test_tampered_payload(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    header, _, signature = mint(keys["ES384"]).split(".")
    forged = _b64(json.dumps(claims(tenant="someone-else")).encode())
    assert "signature" in refused(verifier, bearer(f"{header}.{forged}.{signature}")).message


def test_alg_must_fit_the_key(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    """A token saying ES384 that names an RSA kid is refused before any verification."""
    forged = _unsigned({"alg": "ES384", "typ": "JWT", "kid": "rsa-384"}, claims()) + "." + _b64(b"x" * 96)
    refused(verifier, bearer(forged))


def test_garbage_tokens(verifier: JwtVerifier) -> None:
    for junk in ("abc", "a.b", "a.b.c", "....", "x" * 20000):
        refused(verifier, bearer(junk))


def test_tenant_allow_list(keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session, tmp_path: Path) -> None:
    settings = Settings(
        trusted_issuers=(TrustedIssuer(iss=ISS, jwks={"keys": [keys["ES384"].public_jwk]}, tenants=("t1",)),),
        data_dir=tmp_path / "var",
    )
    verifier = JwtVerifier(settings, sqlite_store, session, clock=lambda: NOW)
    assert verifier.verify(bearer(mint(keys["ES384"], claims(tenant="t1"))), SERVICE_URL).tenant == "t1"
    assert "tenant" in refused(verifier, bearer(mint(keys["ES384"], claims(tenant="t2")))).message
    assert "tenant" in refused(verifier, bearer(mint(keys["ES384"], claims()))).message


def test_a_tenant_longer_than_the_store_keeps_is_refused(verifier: JwtVerifier, keys: dict[str, KeyPair]) -> None:
    """A tenant claim lands in every audit and feedback row (255 characters): a longer one could
    never be stored, and on PostgreSQL one such row failed its whole audit batch on every retry."""
    assert verifier.verify(bearer(mint(keys["ES384"], claims(tenant="t" * 255))), SERVICE_URL).tenant == "t" * 255
    assert "tenant claim longer than 255" in refused(verifier, bearer(mint(keys["ES384"], claims(tenant="t" * 256)))).message


def test_jku_with_inline_keys_is_never_fetched(verifier: JwtVerifier, keys: dict[str, KeyPair], jwks_server: JwksServer) -> None:
    """Out-of-band keys: a jku (e.g. the Sandbox's hard-coded one) is not fetched; the key must be ours."""
    jwks_server.jwks = {"keys": [keys["impostor"].public_jwk]}
    assert verifier.verify(bearer(mint(keys["ES384"], jku=jwks_server.url)), SERVICE_URL).iss == ISS
    refused(verifier, bearer(mint(keys["impostor"], jku=jwks_server.url)))
    assert jwks_server.hits == 0


# -- remote JWKS (jwks_url) on a real loopback server --------------------------------------------
def remote(
    jwks_server: JwksServer, store: Store, session: requests.Session, tmp_path: Path, **settings: Any
) -> tuple[JwtVerifier, dict[str, float]]:
    clock = {"now": NOW}
    values: dict[str, Any] = dict(
        trusted_issuers=(TrustedIssuer(iss=ISS, jwks_url=jwks_server.url),),
        data_dir=tmp_path / "var",
        jwks_cache_seconds=300,
        fetch_connect_timeout=1.0,
        fetch_read_timeout=0.5,
    )
    values.update(settings)
    verifier = JwtVerifier(Settings(**values), store, session, clock=lambda: clock["now"])
    return verifier, clock


def test_jwks_url_fetched_once_then_cached(
    jwks_server: JwksServer, keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session, tmp_path: Path
) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    verifier, clock = remote(jwks_server, sqlite_store, session, tmp_path)
    for _ in range(3):
        verifier.verify(bearer(mint(keys["ES384"])), SERVICE_URL)
    assert jwks_server.hits == 1
    clock["now"] = NOW + 299
    verifier.verify(bearer(mint(keys["ES384"], claims(iat=int(NOW) + 290, exp=int(NOW) + 590))), SERVICE_URL)
    assert jwks_server.hits == 1
    clock["now"] = NOW + 300  # TTL reached: refetch
    verifier.verify(bearer(mint(keys["ES384"], claims(iat=int(NOW) + 300, exp=int(NOW) + 600))), SERVICE_URL)
    assert jwks_server.hits == 2


def test_unknown_kid_refetches_exactly_once_then_accepts_the_rotated_key(
    jwks_server: JwksServer, keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session, tmp_path: Path
) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    verifier, _ = remote(jwks_server, sqlite_store, session, tmp_path)
    verifier.verify(bearer(mint(keys["ES384"])), SERVICE_URL)
    assert jwks_server.hits == 1
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk, keys["rotated"].public_jwk]}  # EHR rotates
    assert verifier.verify(bearer(mint(keys["rotated"])), SERVICE_URL).iss == ISS
    assert jwks_server.hits == 2
    verifier.verify(bearer(mint(keys["rotated"])), SERVICE_URL)  # now cached
    assert jwks_server.hits == 2


def test_unknown_kid_refetch_happens_once_and_is_rate_limited(
    jwks_server: JwksServer, keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session, tmp_path: Path
) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    verifier, clock = remote(jwks_server, sqlite_store, session, tmp_path)
    verifier.verify(bearer(mint(keys["ES384"])), SERVICE_URL)
    assert jwks_server.hits == 1
    stranger = KeyPair(keys["rotated"].private, "ES384", "never-published")
    assert "kid" in refused(verifier, bearer(mint(stranger))).message
    assert jwks_server.hits == 2  # exactly one refetch for the unknown kid
    for _ in range(5):  # a flood of unknown kids does not become a flood of fetches
        refused(verifier, bearer(mint(stranger)))
    assert jwks_server.hits == 2
    clock["now"] = NOW + 11  # after the minimum interval, one more refetch is allowed
    refused(verifier, bearer(mint(stranger)))
    assert jwks_server.hits == 3


def test_jku_must_equal_the_configured_jwks_url(
    jwks_server: JwksServer, keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session, tmp_path: Path
) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    verifier, _ = remote(jwks_server, sqlite_store, session, tmp_path)
    assert verifier.verify(bearer(mint(keys["ES384"], jku=jwks_server.url)), SERVICE_URL).iss == ISS
    attacker = jwks_server.url.replace("127.0.0.1", "localhost")
    assert "jku" in refused(verifier, bearer(mint(keys["ES384"], jku=attacker))).message
    assert "jku" in refused(verifier, bearer(mint(keys["ES384"], jku="https://evil.example/jwks.json"))).message
    assert jwks_server.hits == 1


@pytest.mark.parametrize(
    "problem",
    ["http-500", "not-json", "no-keys", "too-large", "slow"],
)
def test_jwks_fetch_failures_refuse(
    problem: str,
    jwks_server: JwksServer,
    keys: dict[str, KeyPair],
    sqlite_store: Store,
    session: requests.Session,
    tmp_path: Path,
) -> None:
    import time

    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    if problem == "http-500":
        jwks_server.status = 500
    elif problem == "not-json":
        jwks_server.raw_body = b"<html>"
    elif problem == "no-keys":
        jwks_server.jwks = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "ec384"}]}
    elif problem == "too-large":
        jwks_server.raw_body = json.dumps({"keys": [keys["ES384"].public_jwk], "pad": "x" * 300_000}).encode()
    elif problem == "slow":
        jwks_server.delay = 2.0
    verifier, _ = remote(jwks_server, sqlite_store, session, tmp_path)
    started = time.monotonic()
    refused(verifier, bearer(mint(keys["ES384"])))
    assert time.monotonic() - started < 1.9  # bounded by the read timeout, not the server


def test_stale_keys_serve_when_refresh_fails(
    jwks_server: JwksServer, keys: dict[str, KeyPair], sqlite_store: Store, session: requests.Session, tmp_path: Path
) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    verifier, clock = remote(jwks_server, sqlite_store, session, tmp_path)
    verifier.verify(bearer(mint(keys["ES384"])), SERVICE_URL)
    jwks_server.status = 503
    clock["now"] = NOW + 400
    token = mint(keys["ES384"], claims(iat=int(NOW) + 400, exp=int(NOW) + 700))
    assert verifier.verify(bearer(token), SERVICE_URL).iss == ISS
    assert jwks_server.hits == 2


def test_logs_never_contain_the_token(
    caplog: pytest.LogCaptureFixture,
    jwks_server: JwksServer,
    keys: dict[str, KeyPair],
    sqlite_store: Store,
    session: requests.Session,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    jwks_server.status = 500
    verifier, _ = remote(jwks_server, sqlite_store, session, tmp_path)
    token = mint(keys["ES384"])
    refused(verifier, bearer(token))
    assert caplog.records, "the JWKS failure should be logged"
    assert token not in caplog.text and token.split(".")[2] not in caplog.text
