"""The three tables of the trust-and-memory store, as SQLAlchemy Core metadata.

Why Core and not ORM classes: the store only inserts rows and reads aggregates, so plain tables
keep the SQL visible. The Alembic migrations in ``migrations/versions`` create exactly these
tables; ``tests/trust/test_store.py`` checks that the migrated schema and this metadata agree.

Privacy: no table holds a patient name or a raw identifier. ``card_audit.patient_hash`` is an
HMAC-SHA256 of the patient id under a key that never enters the database (see ``audit_key.py``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

# Constraint names are fixed so PostgreSQL and SQLite migrations stay identical.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC as a naive timestamp on every engine; always hands back an aware UTC datetime.

    SQLite has no time-zone type, so storing aware values would compare as strings with offsets.
    Refusing naive input on the way in catches local-time bugs at the boundary.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs a time-zone-aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


# Replay cache for JWT ids: one row per (issuer, jti) until the token expires.
seen_jti = Table(
    "seen_jti",
    metadata,
    Column("iss", String(512), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index(None, "expires_at"),
)

# Every card returned, written before the response leaves (what we said, to whom, under which rule).
card_audit = Table(
    "card_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hook_instance", String(255), nullable=False),
    Column("service_id", String(128), nullable=False),
    Column("card_uuid", String(255), nullable=True),
    Column("rule_id", String(255), nullable=True),
    Column("indicator", String(32), nullable=True),
    Column("topic", String(128), nullable=True),
    Column("knowledge_version", String(64), nullable=False),
    Column("issuer", String(512), nullable=True),
    Column("tenant", String(255), nullable=True),
    Column("patient_hash", String(64), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("policy_version", String(64), nullable=True),  # CDSHOOKS_POLICY version (0002)
    Column("policy_action", String(16), nullable=True),  # NULL | "lowered" | "silent" (no card shown)
    Index(None, "card_uuid"),
    Index(None, "recorded_at"),
)

# One row per feedback item received (the same card may be reported more than once).
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(128), nullable=False),
    Column("card_uuid", String(255), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("accepted_suggestions", Text, nullable=True),  # JSON list of suggestion uuids
    Column("override_system", String(512), nullable=True),
    Column("override_code", String(255), nullable=True),
    Column("override_display", Text, nullable=True),
    Column("override_comment", Text, nullable=True),
    Column("outcome_timestamp", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("issuer", String(512), nullable=True),
    Column("tenant", String(255), nullable=True),
    # False = no card_audit row for this uuid, service and issuer: stored, but flagged.
    Column("card_issued", Boolean(create_constraint=False), nullable=False),
    Index(None, "card_uuid"),
    Index(None, "received_at"),
)
