"""Shared fixtures for the trust tests: real keys, real signed tokens, a real loopback JWKS server,
and a migrated Store on SQLite (always) and PostgreSQL (when CDSHOOKS_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import text

from cdshooks.store import Store
from cdshooks.store.tables import metadata

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


@pytest.fixture(scope="session")
def keys() -> dict[str, KeyPair]:
    """One real key per allowed algorithm, plus spares for rotation and impostor cases."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "ES384": KeyPair(ec.generate_private_key(ec.SECP384R1()), "ES384", "ec384"),
        "ES256": KeyPair(ec.generate_private_key(ec.SECP256R1()), "ES256", "ec256"),
        "ES512": KeyPair(ec.generate_private_key(ec.SECP521R1()), "ES512", "ec521"),
        "RS384": KeyPair(rsa_key, "RS384", "rsa-384"),
        "RS256": KeyPair(rsa_key, "RS256", "rsa-256"),
        "RS512": KeyPair(rsa_key, "RS512", "rsa-512"),
        "rotated": KeyPair(ec.generate_private_key(ec.SECP384R1()), "ES384", "ec384-rotated"),
        "impostor": KeyPair(ec.generate_private_key(ec.SECP384R1()), "ES384", "ec384"),  # same kid, other key
    }


def claims(**overrides: Any) -> dict[str, Any]:
    base = {"iss": ISS, "aud": SERVICE_URL, "iat": int(NOW) - 5, "exp": int(NOW) + 300, "jti": str(uuid.uuid4())}
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


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            if self.path != "/.well-known/jwks.json":
                self.send_error(404)
                return
            state.hits += 1
            if state.delay:
                time.sleep(state.delay)
            body = state.raw_body if state.raw_body is not None else json.dumps(state.jwks).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _reset_postgres(url: str) -> None:
    store = Store(url)
    try:
        with store.engine.begin() as conn:
            metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        store.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: an SQLite file in tmp_path, or the emptied PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'cdshooks.sqlite3'}"
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL store tests need CDSHOOKS_TEST_POSTGRES_URL (scripts/postgres-test.sh prints one)")
    _reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store(database_url, data_dir=tmp_path / "data")
    s.migrate()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'db' / 'cdshooks.sqlite3'}", data_dir=tmp_path / "data")
    s.migrate()
    try:
        yield s
    finally:
        s.close()
