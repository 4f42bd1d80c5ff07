"""Store faults (issue 11): never a bare 500, never a 200 for data that was not kept.

SQLite file removed while running, a store that went read-only, PostgreSQL stopped and restarted:
each answers feedback (and auth) with 503 + OperationOutcome while broken, `/health` (readiness)
says 503 with the reason, `/health/live` stays 200, and service resumes when the store is back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from support.pg import ThrowawayPostgres, pg_available

FEEDBACK = "/cds-services/all-order-sign/feedback"


def _feedback() -> dict[str, Any]:
    return {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"}]}


def _assert_503(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "transient"


def _stored(database_url: str) -> int:
    from sqlalchemy import create_engine, func, select

    from cdshooks.store.tables import feedback

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(feedback)).scalar_one()
    finally:
        engine.dispose()


def test_sqlite_file_removed_while_running_is_503_not_a_lost_200(live_service: Callable[..., Any], tmp_path: Path) -> None:
    db = tmp_path / "var" / "cdshooks.sqlite3"
    with live_service() as base:
        assert requests.post(base + FEEDBACK, json=_feedback(), timeout=10).status_code == 200
        assert requests.get(base + "/health", timeout=5).status_code == 200
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        for _ in range(3):
            _assert_503(requests.post(base + FEEDBACK, json=_feedback(), timeout=10))
        health = requests.get(base + "/health", timeout=5)
        assert health.status_code == 503 and "database file" in health.json()["reason"]
        assert requests.get(base + "/health/live", timeout=5).status_code == 200
        # a call that would have to write its audit rows is not answered as if they were kept
        from support.requests import order_sign_request

        _assert_503(requests.post(base + "/cds-services/all-order-sign", json=order_sign_request(), timeout=10))


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """chattr +i: a file even root cannot write (the store's disk went read-only)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr not available")
    marked: list[Path] = []

    def mark(path: Path) -> None:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("cannot set the immutable attribute here (needs root on ext4/xfs)")
        marked.append(path)

    yield mark
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_read_only_sqlite_store_is_503_and_not_ready(live_service: Callable[..., Any], tmp_path: Path, immutable: Callable[[Path], None]) -> None:
    db = tmp_path / "var" / "cdshooks.sqlite3"
    with live_service() as base:
        assert requests.post(base + FEEDBACK, json=_feedback(), timeout=10).status_code == 200
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{db}{suffix}").exists():
                immutable(Path(f"{db}{suffix}"))
        immutable(db.parent)
        _assert_503(requests.post(base + FEEDBACK, json=_feedback(), timeout=10))
        health = requests.get(base + "/health", timeout=5)
        assert health.status_code == 503 and "store" in health.json()["reason"]


@pytest.mark.postgres
def test_postgres_stopped_is_503_and_a_restart_is_survived(live_service: Callable[..., Any], tmp_path: Path) -> None:
    if not pg_available():
        pytest.skip("no PostgreSQL binaries (/usr/lib/postgresql/*/bin)")
    with ThrowawayPostgres() as pg, live_service(database_url=pg.url, audit_key="k" * 32) as base:
        assert requests.post(base + FEEDBACK, json=_feedback(), timeout=10).status_code == 200
        pg.stop()
        _assert_503(requests.post(base + FEEDBACK, json=_feedback(), timeout=10))
        health = requests.get(base + "/health", timeout=5)
        assert health.status_code == 503 and "store" in health.json()["reason"]
        pg.start()
        assert requests.post(base + FEEDBACK, json=_feedback(), timeout=10).status_code == 200  # pre-ping reconnects
        assert requests.get(base + "/health", timeout=5).status_code == 200
        assert _stored(pg.url) == 2  # the 503 was not kept, both 200s were


@pytest.mark.postgres
def test_postgres_read_only_is_503_and_not_ready(live_service: Callable[..., Any], tmp_path: Path) -> None:
    if not pg_available():
        pytest.skip("no PostgreSQL binaries (/usr/lib/postgresql/*/bin)")
    with ThrowawayPostgres() as pg, live_service(database_url=pg.url, audit_key="k" * 32) as base:
        pg.sql("ALTER DATABASE cdshooks_test SET default_transaction_read_only = on")
        pg.restart()  # every new session is read-only
        _assert_503(requests.post(base + FEEDBACK, json=_feedback(), timeout=10))
        health = requests.get(base + "/health", timeout=5)
        assert health.status_code == 503 and "read-only" in health.json()["reason"]
    assert os.environ.get("CDSHOOKS_TEST_POSTGRES_URL", "") != pg.url  # never the shared test server
