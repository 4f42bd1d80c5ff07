"""The background audit writer (store/audit_writer.py) on the real SQLite and PostgreSQL engines.

What must hold: a row the writer accepted is committed, also across a SIGTERM drain of a real
`cdshooks serve` while the database holds the writer back; a failing write is loud (ERROR log,
/health not ready, new calls refused with 503) and its rows are kept and written once the store
works again; reads that judge audit rows see every row this process accepted.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from cdshooks.errors import StoreUnavailable
from cdshooks.protocol.auth import ANONYMOUS
from cdshooks.store import Store
from cdshooks.store.tables import card_audit
from support.processes import serve_env, start_serve
from support.requests import order_sign_request

KEY = "k" * 40  # CDSHOOKS_AUDIT_KEY: PostgreSQL requires one


def _cards(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"uuid": f"{prefix}-{i}", "indicator": "info", "source": {"topic": {"code": "risk-group"}},
             "extension": {"all-cds": {"ruleId": "risk.nci"}}} for i in range(n)]


def _record(store: Store, hook_instance: str, cards: list[dict[str, Any]]) -> None:
    store.record_cards(hook_instance=hook_instance, service_id="all-order-sign", cards=cards, caller=ANONYMOUS,
                       patient_id="pt-1", knowledge_version="test")


def _audited_uuids(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return sorted(r.card_uuid for r in conn.execute(select(card_audit.c.card_uuid)))
    finally:
        engine.dispose()


def _wait(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_accepted_rows_are_committed_and_reads_in_this_process_see_them(store: Store, database_url: str) -> None:
    writer = store.write_audit_in_background()
    for call in range(20):
        _record(store, f"h-{call}", _cards(f"c{call}", 3))
    # card_rules judges feedback: it must see rows accepted a moment ago, committed or not
    assert store.card_rules("all-order-sign", [f"c{n}-2" for n in range(20)], ANONYMOUS) == {f"c{n}-2": "risk.nci" for n in range(20)}
    store.close()
    assert writer.pending() == 0 and writer.committed == 60
    assert _audited_uuids(database_url) == sorted(f"c{n}-{i}" for n in range(20) for i in range(3))


def test_calls_close_together_share_one_commit(store: Store, database_url: str) -> None:
    writer = store.write_audit_in_background()
    writer.batch_wait = 0.5
    for call in range(5):  # five calls' rows within microseconds: one transaction (group commit)
        _record(store, f"h-{call}", _cards(f"g{call}", 2))
    assert _wait(lambda: writer.committed == 10)
    assert writer.batches == 1
    store.close()
    assert _audited_uuids(database_url) == sorted(f"g{n}-{i}" for n in range(5) for i in range(2))


def test_flush_and_close_do_not_wait_for_more_rows(store: Store, database_url: str) -> None:
    writer = store.write_audit_in_background()
    writer.batch_wait = 30.0  # a batch gathering this long would fail both timings below
    _record(store, "h-flushed", _cards("flushed", 2))
    started = time.monotonic()
    assert writer.flush(timeout=10) and writer.committed == 2
    _record(store, "h-closed", _cards("closed", 1))
    store.close()
    assert time.monotonic() - started < 10
    assert writer.committed == 3 and _audited_uuids(database_url) == ["closed-0", "flushed-0", "flushed-1"]


def test_a_failing_audit_write_is_loud_refuses_calls_and_keeps_its_rows(
    store: Store, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = store.write_audit_in_background()
    writer.retry_seconds = 0.1
    _record(store, "h-before", _cards("before", 1))
    assert writer.flush()
    other = create_engine(database_url)
    try:
        with other.begin() as conn:  # the table vanishes under the running service
            conn.execute(text("ALTER TABLE card_audit RENAME TO card_audit_away"))
        with caplog.at_level(logging.ERROR, logger="cdshooks.store.audit_writer"):
            _record(store, "h-accepted", _cards("accepted", 2))  # accepted: the failure is not known yet
            assert _wait(lambda: writer.problem() is not None)
        assert any(r.levelno == logging.ERROR and "kept in memory" in r.getMessage() for r in caplog.records)
        assert "audit rows are not being written" in (store.ping() or "")  # /health answers 503
        with pytest.raises(StoreUnavailable):
            _record(store, "h-refused", _cards("refused", 1))  # answered 503: never a 200 we cannot keep
        assert writer.pending() == 2  # the accepted rows are still held
        with other.begin() as conn:
            conn.execute(text("ALTER TABLE card_audit_away RENAME TO card_audit"))
        assert _wait(lambda: writer.problem() is None and writer.pending() == 0)
        assert store.ping() is None
        _record(store, "h-after", _cards("after", 1))
        store.close()
    finally:
        other.dispose()
    assert _audited_uuids(database_url) == ["accepted-0", "accepted-1", "after-0", "before-0"]


def test_close_reports_rows_it_could_not_write(store: Store, database_url: str, caplog: pytest.LogCaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import cdshooks.store.audit_writer as audit_writer

    monkeypatch.setattr(audit_writer, "CLOSE_TIMEOUT_SECONDS", 0.5)
    writer = store.write_audit_in_background()
    writer.retry_seconds = 0.05
    other = create_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(text("ALTER TABLE card_audit RENAME TO card_audit_away"))
        _record(store, "h-lost", _cards("lost", 3))
        with caplog.at_level(logging.CRITICAL, logger="cdshooks.store.audit_writer"):
            assert writer.close(timeout=5) == 3
        assert any(r.levelno == logging.CRITICAL and "3 accepted audit row(s)" in r.getMessage() for r in caplog.records)
        with other.begin() as conn:
            conn.execute(text("ALTER TABLE card_audit_away RENAME TO card_audit"))
    finally:
        other.dispose()


def _hold_audit_writes(database_url: str) -> tuple[Any, Any]:
    """Open a transaction that blocks inserts into card_audit (SQLite: the database write lock;
    PostgreSQL: an EXCLUSIVE lock on the table, which still lets readiness `SELECT 1` through)."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT" if database_url.startswith("sqlite") else None)
    conn = engine.connect()
    if database_url.startswith("sqlite"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.begin()
        conn.execute(text("LOCK TABLE card_audit IN EXCLUSIVE MODE"))
    return engine, conn


def test_sigterm_drain_commits_every_answered_calls_audit_rows(database_url: str, tmp_path: Path) -> None:
    """Calls are answered while the database holds the audit insert back (the answer does not wait
    for the commit); SIGTERM then; the workers finish, their writers commit once the database lets
    go, and every card the clients were shown is in the audit table."""
    env = serve_env(tmp_path / "var", CDSHOOKS_AUTH="disabled", CDSHOOKS_DATABASE_URL=database_url,
                    CDSHOOKS_AUDIT_KEY=KEY, CDSHOOKS_GRACEFUL_TIMEOUT="20")
    instance = start_serve(env, tmp_path / "serve.log", workers=2)
    try:
        instance.wait_healthy()
        url = instance.base + "/cds-services/all-order-sign"
        warm = requests.post(url, json=order_sign_request(), timeout=30)
        assert warm.status_code == 200
        engine, held = _hold_audit_writes(database_url)
        try:
            def call(n: int) -> list[str]:
                body = order_sign_request()
                body["hookInstance"] = f"00000000-0000-4000-8000-{n:012d}"
                answer = requests.post(url, json=body, timeout=30)
                assert answer.status_code == 200, answer.text[:300]
                return [c["uuid"] for c in answer.json()["cards"]]

            with ThreadPoolExecutor(4) as pool:
                shown = [u for uuids in pool.map(call, range(8)) for u in uuids]
            assert shown  # cards were shown, and their rows are not committed yet
            instance.proc.terminate()  # SIGTERM with every one of those rows still uncommitted
            time.sleep(1.5)
            assert instance.proc.poll() is None  # the workers wait for their writers
        finally:
            held.rollback() if not database_url.startswith("sqlite") else held.exec_driver_sql("ROLLBACK")
            held.close()
            engine.dispose()
        assert instance.proc.wait(timeout=30) == 0
    finally:
        instance.stop()
    audited = set(_audited_uuids(database_url))
    assert set(shown) <= audited
    assert {c["uuid"] for c in warm.json()["cards"]} <= audited
    assert "could not be written" not in instance.log_text()
