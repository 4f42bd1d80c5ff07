"""Fixtures for the trust tests: real keys, a real loopback JWKS server, and a migrated Store on
SQLite (always) and PostgreSQL (when CDSHOOKS_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import text

from cdshooks.store import Store
from cdshooks.store.tables import metadata
from trust_helpers import POSTGRES_URL, JwksServer, KeyPair


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
