"""The background audit writer's kept DBAPI connection (store/writer_connection.py), on real
SQLite and PostgreSQL: one connection serves every batch; a failed batch leaves no lock behind
(other connections read and write at once); a PostgreSQL restart under a kept connection costs
no error and no refused call (the batch is retried once on a fresh connection, as pool_pre_ping
did per checkout); stopping the writer gives the connection back to the pool."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text

from cdshooks.protocol.auth import ANONYMOUS
from cdshooks.store import Store
from cdshooks.store.tables import card_audit
from support.pg import ThrowawayPostgres, pg_available


def _record(store: Store, name: str, n: int = 2) -> None:
    cards = [{"uuid": f"{name}-{i}", "indicator": "info", "source": {"topic": {"code": "risk-group"}},
              "extension": {"all-cds": {"ruleId": "risk.nci"}}} for i in range(n)]
    store.record_cards(hook_instance=name, service_id="all-order-sign", cards=cards, caller=ANONYMOUS,
                       patient_id="pt-1", knowledge_version="test")


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(card_audit)).scalar_one()
    finally:
        engine.dispose()


def _checkouts(store: Store) -> list[int]:
    seen: list[int] = []
    event.listen(store.engine, "checkout", lambda *_: seen.append(1))
    return seen


def test_one_kept_connection_serves_every_batch_and_goes_back_to_the_pool(store: Store, database_url: str) -> None:
    checkouts = _checkouts(store)
    writer = store.write_audit_in_background()
    for call in range(5):
        _record(store, f"kept{call}")
        assert writer.flush()
    assert writer.batches == 5 and len(checkouts) == 1  # checked out once, for the first batch
    assert store.engine.pool.checkedout() == 1
    writer.close()
    assert store.engine.pool.checkedout() == 0  # the writer thread gave it back as it stopped
    assert _count(database_url) == 10


def test_a_failed_batch_leaves_the_database_free_for_others(store: Store, database_url: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    writer = store.write_audit_in_background()
    writer.retry_seconds = 0.05
    _record(store, "before")
    assert writer.flush()
    other = create_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(text("ALTER TABLE card_audit RENAME TO card_audit_away"))
        with caplog.at_level(logging.ERROR, logger="cdshooks.store.audit_writer"):
            _record(store, "failing")
            deadline = time.monotonic() + 10
            while writer.problem() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        assert writer.problem() is not None
        expires = datetime.now(timezone.utc) + timedelta(minutes=5)
        for n in range(5):  # between the writer's retries, a request thread's write and the readiness check go through
            assert store.claim_jti("https://ehr.example", f"jti-{n}", expires)
            assert "audit rows are not being written" in (store.ping() or "")  # the writer's fault, not a locked store
            time.sleep(0.03)
        with other.begin() as conn:
            conn.execute(text("ALTER TABLE card_audit_away RENAME TO card_audit"))
        assert writer.flush(timeout=10) and writer.problem() is None
    finally:
        other.dispose()
    store.close()
    assert _count(database_url) == 4


@pytest.mark.postgres
def test_a_postgres_restart_under_the_kept_connection_loses_nothing_and_refuses_nothing(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    if not pg_available():
        pytest.skip("no PostgreSQL binaries (/usr/lib/postgresql/*/bin)")
    with ThrowawayPostgres() as pg:
        store = Store(pg.url, audit_key="k" * 32, data_dir=tmp_path)
        store.prepare("auto")
        checkouts = _checkouts(store)
        writer = store.write_audit_in_background()
        try:
            _record(store, "before-restart")
            assert writer.flush()
            pg.restart()  # the kept connection is now dead
            with caplog.at_level(logging.WARNING, logger="cdshooks.store.audit_writer"):
                _record(store, "after-restart")  # accepted: the writer is healthy
                assert writer.flush(timeout=10)
            assert writer.problem() is None and writer.committed == 4
            assert not [r for r in caplog.records if r.name == "cdshooks.store.audit_writer"]  # no error, no "resumed"
            assert len(checkouts) == 2  # the first batch's, and one fresh after the restart
        finally:
            store.close()
        assert _count(pg.url) == 4
