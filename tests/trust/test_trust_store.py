"""Store round trips on SQLite and (when configured) PostgreSQL: schema, replay cache, audit, feedback."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from cdshooks.config import Settings
from cdshooks.errors import ConfigError
from cdshooks.protocol.auth import ANONYMOUS, Caller
from cdshooks.store import Store, parse_rfc3339
from cdshooks.store.tables import card_audit, feedback, metadata

CALLER = Caller("https://ehr.example.org", "tenant-1", "jti-1")
PATIENT = "MRN-0042-smith"


def card(uuid: str, rule: str = "dose.vincristine.cap", topic: str = "dose-limit", indicator: str = "critical") -> dict:
    return {
        "uuid": uuid,
        "summary": "Vincristine dose above the 2 mg cap",
        "indicator": indicator,
        "source": {"label": "ALL CDS", "topic": {"system": "urn:all-cds:card-topic", "code": topic}},
        "extension": {"all-cds": {"ruleId": rule, "citation": "seed Table 2"}},
    }


def rows(store: Store, table) -> list:
    with store.engine.connect() as conn:
        return conn.execute(select(table).order_by(table.c.id)).all()


def test_migrate_is_idempotent_and_matches_the_metadata(store: Store) -> None:
    store.migrate()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert set(inspect(conn).get_table_names()) >= {"seen_jti", "card_audit", "feedback", "alembic_version"}


def test_claim_jti(store: Store) -> None:
    now = datetime.now(timezone.utc)
    assert store.claim_jti("iss-a", "j1", now + timedelta(minutes=5)) is True
    assert store.claim_jti("iss-a", "j1", now + timedelta(minutes=5)) is False
    assert store.claim_jti("iss-b", "j1", now + timedelta(minutes=5)) is True  # per issuer
    # an expired entry no longer blocks; re-claiming it is again single-use
    assert store.claim_jti("iss-a", "old", now - timedelta(seconds=1)) is True
    assert store.claim_jti("iss-a", "old", now + timedelta(minutes=5)) is True
    assert store.claim_jti("iss-a", "old", now + timedelta(minutes=5)) is False


def test_record_cards_stores_ids_not_identifiers(store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store.record_cards(
        hook_instance="hi-1",
        service_id="all-order-sign",
        cards=[card("c1"), card("c2", "ddi.methotrexate.ppi", "interaction", "warning"), {"summary": "bare"}],
        caller=CALLER,
        patient_id=PATIENT,
        knowledge_version="2026.1.0",
    )
    audit = rows(store, card_audit)
    assert [(r.card_uuid, r.rule_id, r.topic, r.indicator) for r in audit] == [
        ("c1", "dose.vincristine.cap", "dose-limit", "critical"),
        ("c2", "ddi.methotrexate.ppi", "interaction", "warning"),
        (None, None, None, None),
    ]
    first = audit[0]
    assert (first.hook_instance, first.service_id, first.knowledge_version) == ("hi-1", "all-order-sign", "2026.1.0")
    assert (first.issuer, first.tenant) == (CALLER.iss, CALLER.tenant)
    assert first.recorded_at.tzinfo is timezone.utc
    assert abs(first.recorded_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    key_file = tmp_path / "data" / "audit.key"
    key = bytes.fromhex(key_file.read_text().strip())
    assert first.patient_hash == hmac.new(key, PATIENT.encode(), hashlib.sha256).hexdigest()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    flat = json.dumps([list(map(str, r)) for r in audit])
    assert PATIENT not in flat and "0042" not in flat
    assert PATIENT not in caplog.text


def test_patient_hash_is_stable_and_keyed(database_url: str, tmp_path: Path) -> None:
    a = Store(database_url, audit_key="k" * 32)
    a.migrate()
    b = Store(database_url, audit_key="another-key-of-enough-length!!!")
    try:
        for s in (a, a, b):
            s.record_cards(hook_instance="h", service_id="s", cards=[card("x")], caller=ANONYMOUS,
                           patient_id=PATIENT, knowledge_version="1")
        hashes = [r.patient_hash for r in rows(a, card_audit)]
        assert hashes[0] == hashes[1] != hashes[2]
        assert hashes[0] == hmac.new(b"k" * 32, PATIENT.encode(), hashlib.sha256).hexdigest()
    finally:
        a.close()
        b.close()


def test_audit_key_file_is_created_once_and_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    first, second = Store(url, data_dir=tmp_path / "d"), Store(url, data_dir=tmp_path / "d")
    first.migrate()
    for s in (first, second):
        s.record_cards(hook_instance="h", service_id="s", cards=[card("x")], caller=ANONYMOUS,
                       patient_id=PATIENT, knowledge_version="1")
    a, b = rows(first, card_audit)
    assert a.patient_hash == b.patient_hash
    assert len(list((tmp_path / "d").iterdir())) == 1  # no temp files left behind
    first.close()
    second.close()


def test_audit_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "audit.key").write_text("ab" * 32)
    os.chmod(tmp_path / "d" / "audit.key", 0o644)
    s = Store(f"sqlite:///{tmp_path / 'a.sqlite3'}", data_dir=tmp_path / "d")
    s.migrate()
    with pytest.raises(ConfigError, match="chmod 600"):
        s.record_cards(hook_instance="h", service_id="s", cards=[card("x")], caller=ANONYMOUS,
                       patient_id=PATIENT, knowledge_version="1")
    s.close()


def test_from_settings_uses_the_configured_audit_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", audit_key="configured-secret-0123456789abcdef")
    s = Store.from_settings(settings)
    s.migrate()
    s.record_cards(hook_instance="h", service_id="s", cards=[card("x")], caller=ANONYMOUS,
                   patient_id=PATIENT, knowledge_version="1")
    (row,) = rows(s, card_audit)
    assert row.patient_hash == hmac.new(settings.audit_key.encode(), PATIENT.encode(), hashlib.sha256).hexdigest()
    assert not (tmp_path / "var" / "audit.key").exists()
    assert (tmp_path / "var" / "cdshooks.sqlite3").exists()
    s.close()


def test_record_feedback_round_trip_and_unissued_flag(store: Store) -> None:
    store.record_cards(hook_instance="h", service_id="all-order-sign", cards=[card("c1")], caller=CALLER,
                       patient_id=None, knowledge_version="1")
    items = [
        {"card": "c1", "outcome": "accepted", "acceptedSuggestions": [{"id": "s1"}, {"id": "s2"}],
         "outcomeTimestamp": "2026-03-01T10:00:00.52Z"},
        {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T12:00:00+02:00",
         "overrideReason": {"reason": {"system": "urn:x", "code": "pt-tolerates", "display": "Tolerates"},
                            "userComment": "discussed with attending"}},
        {"card": "never-issued", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"},
    ]
    assert store.record_feedback(service_id="all-order-sign", items=items, caller=CALLER) == 3
    # same uuid sent to another service, or by another issuer/tenant, is not "ours" either
    store.record_feedback(service_id="all-order-select", items=items[:1], caller=CALLER)
    store.record_feedback(service_id="all-order-sign", items=items[:1], caller=Caller(CALLER.iss, "tenant-2", "j"))
    fb = rows(store, feedback)
    assert [r.card_issued for r in fb] == [True, True, False, False, False]
    accepted, overridden = fb[0], fb[1]
    assert json.loads(accepted.accepted_suggestions) == ["s1", "s2"]
    assert accepted.outcome_timestamp == datetime(2026, 3, 1, 10, 0, 0, 520000, tzinfo=timezone.utc)
    assert overridden.outcome_timestamp == datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
    assert (overridden.override_system, overridden.override_code, overridden.override_display) == (
        "urn:x", "pt-tolerates", "Tolerates")
    assert overridden.override_comment == "discussed with attending"
    assert overridden.accepted_suggestions is None
    assert (accepted.issuer, accepted.tenant, accepted.service_id) == (CALLER.iss, CALLER.tenant, "all-order-sign")
    assert abs(accepted.received_at - datetime.now(timezone.utc)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1985-04-12T23:20:50.52Z", datetime(1985, 4, 12, 23, 20, 50, 520000, tzinfo=timezone.utc)),
        ("1996-12-19T16:39:57-08:00", datetime(1996, 12, 20, 0, 39, 57, tzinfo=timezone.utc)),
        ("2026-01-01t00:00:00.123456789z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "yesterday", "2026-01-01 00:00:00Z"])
def test_parse_rfc3339_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_unsupported_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Store("mysql://localhost/x")
    with pytest.raises(ConfigError):
        Store("not a url")
