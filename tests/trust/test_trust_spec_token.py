"""The CDS Hooks 2.0.1 example JWT and the Sandbox JWKS, as published (vendor/cds-hooks-spec).

The example token is ES384, signed by the spec's example key (``jwks-public.json``, kid
``example-kid``) and expired in 2015: its signature must verify, and today it must be refused as
expired. The Sandbox JWKS is a different key (kid ``44823f3d-...``) for tokens minted by the
CDS Hooks Sandbox; it must load as a usable P-384 key and must NOT verify the spec's token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from cdshooks.config import Settings, TrustedIssuer
from cdshooks.errors import Unauthorized
from cdshooks.protocol.auth import Caller, JwtVerifier
from cdshooks.store import Store

SPEC_ISS = "https://fhir-ehr.example.com/"
SPEC_AUD = "https://cds.example.org/cds-services/some-service"
SPEC_EXP = 1422568860
SANDBOX_ISS = "https://sandbox.cds-hooks.org"


def _load(spec_dir: Path, *parts: str) -> Any:
    return json.loads((spec_dir / Path(*parts)).read_text(encoding="utf-8"))


@pytest.fixture
def spec_token(spec_dir: Path) -> str:
    return _load(spec_dir, "examples", "spec-2.0.1", "jwt-example-token.json")["jwt"]


def _verifier(jwks: dict[str, Any], iss: str, store: Store, tmp_path: Path, clock: float | None = None) -> JwtVerifier:
    # The spec's example token lives ~3.5 years (iat 2011 -> exp 2015); our default maximum lifetime
    # is 300 s, so these signature-path tests raise CDSHOOKS_JWT_MAX_LIFETIME_SECONDS to admit it.
    settings = Settings(trusted_issuers=(TrustedIssuer(iss=iss, jwks=jwks),), data_dir=tmp_path / "var",
                        jwt_max_lifetime_seconds=10**9)
    if clock is None:
        return JwtVerifier(settings, store, requests.Session())
    return JwtVerifier(settings, store, requests.Session(), clock=lambda: clock)


def test_spec_token_signature_is_valid_with_pyjwt(spec_token: str, spec_dir: Path) -> None:
    jwks = _load(spec_dir, "examples", "spec-2.0.1", "jwks-public.json")
    key = jwt.PyJWK(jwks["keys"][0]).key
    payload = jwt.decode(spec_token, key, algorithms=["ES384"], options={"verify_exp": False, "verify_aud": False})
    assert payload["exp"] == SPEC_EXP and payload["iss"] == SPEC_ISS
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(spec_token, key, algorithms=["ES384"], audience=SPEC_AUD)


def test_spec_token_is_refused_today_as_expired(
    spec_token: str, spec_dir: Path, sqlite_store: Store, tmp_path: Path
) -> None:
    jwks = _load(spec_dir, "examples", "spec-2.0.1", "jwks-public.json")
    verifier = _verifier(jwks, SPEC_ISS, sqlite_store, tmp_path)
    with pytest.raises(Unauthorized) as info:
        verifier.verify(f"Bearer {spec_token}", SPEC_AUD)
    assert "expired" in info.value.message  # got past header, issuer, key and signature checks


def test_spec_token_passes_every_check_on_a_2015_clock(
    spec_token: str, spec_dir: Path, sqlite_store: Store, tmp_path: Path
) -> None:
    """Proves the signature path end to end (its jku is ignored: the issuer's keys are out of band)."""
    jwks = _load(spec_dir, "examples", "spec-2.0.1", "jwks-public.json")
    verifier = _verifier(jwks, SPEC_ISS, sqlite_store, tmp_path, clock=SPEC_EXP - 60)
    caller = verifier.verify(f"Bearer {spec_token}", SPEC_AUD)
    assert caller == Caller(SPEC_ISS, "2ddd6c3a-8e9a-44c6-a305-52111ad302a2", "ee22b021-e1b7-4611-ba5b-8eec6a33ac1e")
    with pytest.raises(Unauthorized, match="aud"):
        _verifier(jwks, SPEC_ISS, sqlite_store, tmp_path, clock=SPEC_EXP - 60).verify(
            f"Bearer {spec_token}", "https://cds.example.org/cds-services"
        )


def test_sandbox_jwks_is_a_usable_es384_key_but_not_the_spec_key(
    spec_token: str, spec_dir: Path, sqlite_store: Store, tmp_path: Path
) -> None:
    sandbox = _load(spec_dir, "sandbox", "sandbox-jwks.json")
    (key,) = sandbox["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-384", "ES384")
    public = jwt.PyJWK(key).key
    assert public.curve.name == "secp384r1"
    # Same issuer name, sandbox keys: the spec token's kid is not in the set -> refused.
    verifier = _verifier(sandbox, SPEC_ISS, sqlite_store, tmp_path, clock=SPEC_EXP - 60)
    with pytest.raises(Unauthorized, match="kid"):
        verifier.verify(f"Bearer {spec_token}", SPEC_AUD)
    # Even with the kid forced to match, the sandbox key does not verify the spec signature.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(spec_token, public, algorithms=["ES384"], options={"verify_exp": False, "verify_aud": False})


def test_spec_token_is_refused_at_the_default_lifetime_limit(
    spec_token: str, spec_dir: Path, sqlite_store: Store, tmp_path: Path
) -> None:
    """Even on a 2015 clock the example token's multi-year lifetime is over the 300 s default."""
    jwks = _load(spec_dir, "examples", "spec-2.0.1", "jwks-public.json")
    settings = Settings(trusted_issuers=(TrustedIssuer(iss=SPEC_ISS, jwks=jwks),), data_dir=tmp_path / "var")
    verifier = JwtVerifier(settings, sqlite_store, requests.Session(), clock=lambda: SPEC_EXP - 60)
    with pytest.raises(Unauthorized, match="lifetime"):
        verifier.verify(f"Bearer {spec_token}", SPEC_AUD)
