"""The longest hookInstance a request may carry (and the longest tenant claim and issuer we
accept) is one the audit table can store.

Why: the request schema allowed 256 characters and `card_audit.hook_instance` holds 255. On
PostgreSQL one such call's audit row failed its batch on every retry, so the worker answered 503
to every call until it restarted, and the other calls' rows in that batch were never written.
The schema now allows what the column holds; a longer one is refused with 400 before any work.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, func, select

from cdshooks.config import MAX_ISS_CHARS
from cdshooks.protocol.auth import ANONYMOUS, MAX_JTI_CHARS, MAX_TENANT_CHARS
from cdshooks.store import Store
from cdshooks.store.tables import card_audit, feedback, seen_jti

SCHEMA = Path(__file__).resolve().parents[2] / "cdshooks" / "protocol" / "schemas" / "request.schema.json"


def _longest() -> int:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))["properties"]["hookInstance"]["maxLength"]


def test_the_schema_allows_no_longer_hook_instance_than_the_audit_column_holds() -> None:
    assert _longest() <= card_audit.c.hook_instance.type.length


def test_the_caller_identity_we_accept_fits_every_column_that_keeps_it() -> None:
    assert MAX_TENANT_CHARS <= min(card_audit.c.tenant.type.length, feedback.c.tenant.type.length)
    assert MAX_ISS_CHARS <= min(card_audit.c.issuer.type.length, feedback.c.issuer.type.length, seen_jti.c.iss.type.length)
    assert MAX_JTI_CHARS <= seen_jti.c.jti.type.length


def test_the_longest_hook_instance_is_audited_by_the_background_writer(store: Store, database_url: str) -> None:
    writer = store.write_audit_in_background()
    longest = "h" * _longest()
    cards = [{"uuid": "u-1", "indicator": "info", "source": {"topic": {"code": "risk-group"}},
              "extension": {"all-cds": {"ruleId": "risk.nci"}}}]
    store.record_cards(hook_instance=longest, service_id="all-order-sign", cards=cards, caller=ANONYMOUS,
                       patient_id="pt-1", knowledge_version="test")
    store.record_cards(hook_instance="next-call", service_id="all-order-sign", cards=cards, caller=ANONYMOUS,
                       patient_id="pt-1", knowledge_version="test")
    assert writer.flush(timeout=10) and writer.problem() is None
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(card_audit.c.hook_instance).order_by(card_audit.c.id)).scalars().all()
            assert conn.execute(select(func.count()).select_from(card_audit)).scalar_one() == 2
    finally:
        engine.dispose()
    assert stored == [longest, "next-call"]
