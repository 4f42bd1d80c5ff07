"""Token times (issue 11): out-of-range exp/iat/nbf are 401 (never an OverflowError 500), iat after
exp is 401, a lifetime beyond CDSHOOKS_JWT_MAX_LIFETIME_SECONDS is 401, and replay rows are pruned
once their token expired. Real keys, real signed tokens, a real SQLite store and a real HTTP app."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import jwt
import pytest
import requests
from sqlalchemy import select

from cdshooks.config import Settings, TrustedIssuer, settings_from_env
from cdshooks.errors import ConfigError, Unauthorized
from cdshooks.protocol.auth import MAX_NUMERIC_DATE, JwtVerifier
from cdshooks.store import Store
from cdshooks.store.tables import seen_jti

from trust_helpers import ISS, NOW, SERVICE_URL, KeyPair, claims, mint


@pytest.fixture
def make_verifier(keys: dict[str, KeyPair], sqlite_store: Store, tmp_path: Path) -> Iterator[Callable[..., JwtVerifier]]:
    session = requests.Session()

    def make(**overrides: Any) -> JwtVerifier:
        settings = Settings(trusted_issuers=(TrustedIssuer(iss=ISS, jwks={"keys": [keys["ES384"].public_jwk]}),),
                            data_dir=tmp_path / "var", **overrides)
        return JwtVerifier(settings, sqlite_store, session, clock=lambda: NOW)

    yield make
    session.close()


def _refusal(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(Unauthorized) as info:
        verifier.verify(f"Bearer {token}", SERVICE_URL)
    return info.value.message


@pytest.mark.parametrize("claim, value", [
    ("exp", MAX_NUMERIC_DATE + 1), ("exp", 1e20), ("exp", 2**63 - 1), ("exp", -1.0),
    ("iat", 1e20), ("iat", -(2**62)), ("nbf", 1e20), ("nbf", -5),
])
def test_out_of_range_numeric_dates_are_401(make_verifier: Callable[..., JwtVerifier], keys: dict[str, KeyPair], claim: str, value: float) -> None:
    message = _refusal(make_verifier(), mint(keys["ES384"], claims(**{claim: value})))
    assert "out of range" in message or "expired" in message


def test_iat_after_exp_is_401(make_verifier: Callable[..., JwtVerifier], keys: dict[str, KeyPair]) -> None:
    token = mint(keys["ES384"], claims(iat=int(NOW) + 30, exp=int(NOW) + 10))
    assert "iat is after exp" in _refusal(make_verifier(), token)


def test_lifetime_at_the_limit_passes_and_one_second_more_is_401(make_verifier: Callable[..., JwtVerifier], keys: dict[str, KeyPair]) -> None:
    verifier = make_verifier()  # default 300 s (CDS Hooks best practice)
    assert verifier.verify(f"Bearer {mint(keys['ES384'], claims(iat=int(NOW) - 10, exp=int(NOW) + 290))}", SERVICE_URL).iss == ISS
    message = _refusal(verifier, mint(keys["ES384"], claims(iat=int(NOW) - 10, exp=int(NOW) + 291)))
    assert "lifetime 301s exceeds 300s" in message
    ten_years = mint(keys["ES384"], claims(iat=int(NOW), exp=int(NOW) + 10 * 365 * 86400))
    assert "exceeds" in _refusal(verifier, ten_years)


def test_max_lifetime_is_configurable(make_verifier: Callable[..., JwtVerifier], keys: dict[str, KeyPair]) -> None:
    assert settings_from_env({"CDSHOOKS_JWT_MAX_LIFETIME_SECONDS": "900"}).jwt_max_lifetime_seconds == 900
    with pytest.raises(ConfigError):
        settings_from_env({"CDSHOOKS_JWT_MAX_LIFETIME_SECONDS": "0"})
    verifier = make_verifier(jwt_max_lifetime_seconds=900)
    assert verifier.verify(f"Bearer {mint(keys['ES384'], claims(iat=int(NOW), exp=int(NOW) + 900))}", SERVICE_URL).iss == ISS


def test_replay_rows_are_pruned_after_expiry(sqlite_store: Store) -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    for n in range(5):
        assert sqlite_store.claim_jti(ISS, f"old-{n}", now - timedelta(seconds=1))
    sqlite_store.purge_every_seconds = 0.0  # next claim purges
    assert sqlite_store.claim_jti(ISS, "fresh", now + timedelta(seconds=300))
    with sqlite_store.engine.connect() as conn:
        left = conn.execute(select(seen_jti.c.jti)).scalars().all()
    assert left == ["fresh"]


def test_out_of_range_exp_over_http_is_401_json(live_service: Callable[..., Any], keys: dict[str, KeyPair]) -> None:
    pair = keys["ES384"]
    issuer = TrustedIssuer(iss=ISS, jwks={"keys": [pair.public_jwk]})
    public = "https://cds.example.org"
    with live_service(auth="required", trusted_issuers=(issuer,), public_base_url=public) as base:
        for exp in (253402300800, 1e20):
            now = int(time.time())
            payload = {"iss": ISS, "aud": f"{public}/cds-services", "iat": now, "exp": exp, "jti": str(uuid.uuid4())}
            tok = jwt.encode(payload, pair.private, algorithm=pair.alg, headers={"kid": pair.kid, "typ": "JWT"})
            r = requests.get(f"{base}/cds-services", headers={"Authorization": f"Bearer {tok}"}, timeout=5)
            assert r.status_code == 401, (exp, r.text)
            assert r.json()["resourceType"] == "OperationOutcome"
