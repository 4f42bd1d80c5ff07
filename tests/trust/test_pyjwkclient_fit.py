"""Why JWKS fetching stays ours and not PyJWT's PyJWKClient (HELPERS: kept libraries unless a test
shows they cannot meet our rules). PyJWT does the cryptography: PyJWK parses every key
(protocol/auth.py `_keyset`) and `jwt.decode` checks every signature with our algorithm allowlist.

Our rule (test_trust_jwt.py::test_unknown_kid_refetch_happens_once_and_is_rate_limited): a token
with an unknown kid - an EHR that just rotated its key - gets exactly ONE refetch at once, and
further unknown kids wait for the minimum interval. PyJWKClient (PyJWT 2.15) starts its refetch
cooldown at EVERY successful fetch, including the regular one: a key rotated within the cooldown
after a fetch is refused without a refetch; with the cooldown off, every forged kid is a fetch.
It also reads with urllib (not the configured session, timeouts and size cap). If a PyJWT release
changes this, these tests fail and the choice should be revisited.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientError
from trust_helpers import ISS, NOW, SERVICE_URL, JwksServer, KeyPair, claims, mint

from cdshooks.config import Settings, TrustedIssuer
from cdshooks.protocol.auth import JwtVerifier


def bearer(token: str) -> str:
    return f"Bearer {token}"


def rotate(jwks_server: JwksServer, keys: dict[str, KeyPair]) -> KeyPair:
    """The EHR publishes a second key and starts signing with it."""
    new = KeyPair(keys["rotated"].private, "ES384", "rotated-today")
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk, new.public_jwk]}
    return new


def test_pyjwkclient_refuses_a_key_rotated_within_its_cooldown(jwks_server: JwksServer, keys: dict[str, KeyPair]) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    client = PyJWKClient(jwks_server.url, lifespan=300, timeout=5, cooldown_duration=10)
    client.get_signing_key(keys["ES384"].public_jwk["kid"])
    rotate(jwks_server, keys)
    with pytest.raises(PyJWKClientError):
        client.get_signing_key("rotated-today")
    assert jwks_server.hits == 1  # no refetch: the rotated key is refused for up to 10 s


def test_pyjwkclient_without_cooldown_fetches_for_every_forged_kid(jwks_server: JwksServer, keys: dict[str, KeyPair]) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    client = PyJWKClient(jwks_server.url, lifespan=300, timeout=5, cooldown_duration=0)
    client.get_signing_key(keys["ES384"].public_jwk["kid"])
    for _ in range(5):
        with pytest.raises(PyJWKClientError):
            client.get_signing_key("never-published")
    assert jwks_server.hits == 6


def test_our_verifier_accepts_the_rotated_key_with_one_refetch(
    jwks_server: JwksServer, keys: dict[str, KeyPair], sqlite_store, tmp_path: Path
) -> None:
    jwks_server.jwks = {"keys": [keys["ES384"].public_jwk]}
    settings = Settings(trusted_issuers=(TrustedIssuer(iss=ISS, jwks_url=jwks_server.url),), data_dir=tmp_path / "var")
    verifier = JwtVerifier(settings, sqlite_store, requests.Session(), clock=lambda: NOW, min_refetch_seconds=10)
    verifier.verify(bearer(mint(keys["ES384"])), SERVICE_URL)
    new = rotate(jwks_server, keys)
    assert verifier.verify(bearer(mint(new, claims(jti="after-rotation"))), SERVICE_URL).iss == ISS
    assert jwks_server.hits == 2
