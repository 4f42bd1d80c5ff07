"""Helpers for the trust tests: key pairs, claim sets, real signed tokens, the JWKS server state."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

POSTGRES_URL = os.environ.get("CDSHOOKS_TEST_POSTGRES_URL")
NOW = 1_900_000_000.0  # a fixed "now" for the verifier's clock (2030-03-17)
SERVICE_URL = "https://cds.example.org/cds-services/all-order-sign"
ISS = "https://ehr.example.org"


@dataclass(frozen=True)
class KeyPair:
    private: Any
    alg: str
    kid: str

    @property
    def public_jwk(self) -> dict[str, Any]:
        algo = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        jwk = algo.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    # a 300 s lifetime (the CDS Hooks best-practice maximum, CDSHOOKS_JWT_MAX_LIFETIME_SECONDS)
    base = {"iss": ISS, "aud": SERVICE_URL, "iat": int(NOW) - 5, "exp": int(NOW) + 295, "jti": str(uuid.uuid4())}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(pair: KeyPair, payload: dict[str, Any] | None = None, **header: Any) -> str:
    """A real signed JWT. Header members passed as None are left out (typ=None drops PyJWT's default)."""
    headers = {"typ": "JWT", "kid": pair.kid, **header}
    typ = headers.pop("typ")
    headers = {k: v for k, v in headers.items() if v is not None}
    headers["typ"] = typ  # PyJWT removes a falsy typ
    return jwt.encode(payload if payload is not None else claims(), pair.private, algorithm=pair.alg, headers=headers)


@dataclass
class JwksServer:
    """A real HTTP server on 127.0.0.1:<port 0> serving a mutable JWKS and counting fetches."""

    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    hits: int = 0
    status: int = 200
    delay: float = 0.0
    raw_body: bytes | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"
