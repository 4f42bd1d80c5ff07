"""Store: replay cache, card audit and feedback, on SQLite (default) or PostgreSQL.

Why a database and not process memory: gunicorn runs several workers, and a JWT ``jti`` seen by
one worker must be refused by every other one; the audit trail and feedback must survive restarts.

Durability contract: every write method commits before it returns, so when the route answers 200
the row is on disk. On SQLite that means WAL with ``synchronous=FULL`` (each commit is fsynced)
and ``BEGIN IMMEDIATE`` transactions with a busy timeout, so concurrent workers queue instead of
failing; on PostgreSQL the default synchronous commit already guarantees it.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import Engine, create_engine, delete, event, exists, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

from ..errors import ConfigError, StoreUnavailable
from .audit_key import load_or_create_audit_key
from .audit_rows import AuditRows, str_or_none
from .audit_writer import AuditWriter
from .analytics import NONE, Answer, Issued, rate_rows
from .guard import FileIdentity, ping, transaction
from .identity import Caller
from .prepared import PreparedInsert
from .rfc3339 import parse_rfc3339
from .tables import card_audit, feedback, seen_jti
from .writer_connection import WriterConnection


SQLITE_BUSY_TIMEOUT_MS = 30_000
PURGE_EVERY_CLAIMS = 256  # expired jti rows are deleted every this many claims per process,
PURGE_EVERY_SECONDS = 60.0  # ... or on the first claim this long after the last purge
# Advisory lock id that serialises concurrent `migrate()` calls on PostgreSQL (arbitrary constant).
_PG_MIGRATE_LOCK = 0x616C6C636473
# Every column an audit row supplies (all but the autoincrement id), in one prebuilt INSERT.
AUDIT_COLUMNS = tuple(c.name for c in card_audit.columns if c.name != "id")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE below is the only BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: no deadlock when two workers both read then write.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Store:
    """Persistence for the trust layer. One instance per process; thread-safe through the engine pool."""

    def __init__(
        self,
        database_url: str,
        *,
        audit_key: bytes | str | None = None,
        data_dir: Path | None = None,
    ) -> None:
        """``audit_key`` (Settings.audit_key) keys the patient-id hash; without it the key file
        ``audit.key`` in ``data_dir`` is read or created on first use. ``data_dir`` defaults to the
        SQLite file's directory (which is Settings.data_dir by default), else ``./var``.
        ``Store.from_settings(settings)`` passes all three from Settings."""
        try:
            parsed = make_url(database_url)
        except Exception:
            raise ConfigError("CDSHOOKS_DATABASE_URL is not a valid SQLAlchemy URL") from None
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            self._engine = _sqlite_engine(database_url)
        elif backend == "postgresql":
            try:
                self._engine = create_engine(database_url, pool_pre_ping=True)
            except ModuleNotFoundError as exc:  # the driver is the `postgres` extra
                raise ConfigError(
                    f"CDSHOOKS_DATABASE_URL is PostgreSQL but its driver is not installed ({exc.name}): pip install 'cdshooks[postgres]'"
                ) from None
        else:
            raise ConfigError(f"CDSHOOKS_DATABASE_URL: unsupported database {backend!r} (sqlite or postgresql)")
        self.backend = backend
        self._audit_key = audit_key.encode("utf-8") if isinstance(audit_key, str) else audit_key
        if data_dir is None:  # default: beside the SQLite file (= Settings.data_dir), else ./var
            sqlite_file = parsed.database if backend == "sqlite" and parsed.database not in (None, "", ":memory:") else None
            data_dir = Path(sqlite_file).parent if sqlite_file else Path("./var")
        self._data_dir = data_dir
        sqlite_path = parsed.database if backend == "sqlite" and parsed.database not in (None, "", ":memory:") else None
        self._file = FileIdentity(Path(sqlite_path).resolve() if sqlite_path else None)
        self._claims = 0
        self._audit_insert = PreparedInsert.for_table(card_audit, self._engine.dialect, AUDIT_COLUMNS)
        if self._audit_insert.keys != AUDIT_COLUMNS or not self._audit_insert.processed_keys <= {"recorded_at"}:
            # AuditRows.build (audit_rows.py) builds tuples in AUDIT_COLUMNS order and processes only recorded_at
            raise RuntimeError(f"the audit insert binds {self._audit_insert.keys} (processed: {sorted(self._audit_insert.processed_keys)})")
        self._rows = AuditRows(self._audit_insert, self._key)
        self._writer: AuditWriter | None = None
        self._last_purge = time.monotonic()
        self.purge_every_seconds = PURGE_EVERY_SECONDS

    @classmethod
    def from_settings(cls, settings: Any) -> "Store":
        """The store the app uses: Settings' database URL, audit key and data directory."""
        return cls(settings.effective_database_url, audit_key=settings.audit_key, data_dir=settings.data_dir)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def engine_name(self) -> str:
        """For the start-up log line: the backend and database name, never the password."""
        url = self._engine.url
        return f"{self.backend}:{url.database or ''}"

    # -- schema ---------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Alembic ``upgrade head`` from the migrations shipped in this package (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATE_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        self._file.remember()

    def prepare(self, migrate: str = "auto") -> None:
        """Start-up schema step: upgrade ("auto", Settings.migrate) or refuse a stale schema ("never")."""
        if migrate == "never":
            from .schema import require_current

            require_current(self._engine)
            self._file.remember()
        else:
            self.migrate()

    # -- JWT replay cache -----------------------------------------------------------------------
    def claim_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Record (iss, jti) until ``expires_at``; False if it is already held and not yet expired.

        One atomic statement decides: INSERT ... ON CONFLICT DO NOTHING. If the row exists but has
        expired, a conditional UPDATE re-claims it; concurrent re-claimers race on that UPDATE and
        exactly one sees a changed row.
        """
        now = utcnow()
        insert = pg_insert if self.backend == "postgresql" else sqlite_insert
        statement = (
            insert(seen_jti)
            .values(iss=iss, jti=jti, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["iss", "jti"])
            .returning(seen_jti.c.jti)
        )
        with self._tx('the replay record') as conn:
            self._claims += 1
            if self._claims % PURGE_EVERY_CLAIMS == 0 or time.monotonic() - self._last_purge >= self.purge_every_seconds:
                # expires_at is the token's exp, at most CDSHOOKS_JWT_MAX_LIFETIME_SECONDS away
                conn.execute(delete(seen_jti).where(seen_jti.c.expires_at <= now))
                self._last_purge = time.monotonic()
            # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT (psycopg says -1).
            if conn.execute(statement).first() is not None:
                return True
            reclaimed = conn.execute(
                update(seen_jti)
                .where(seen_jti.c.iss == iss, seen_jti.c.jti == jti, seen_jti.c.expires_at <= now)
                .values(expires_at=expires_at)
                .returning(seen_jti.c.jti)
            )
            return reclaimed.first() is not None

    # -- audit ----------------------------------------------------------------------------------
    def _key(self) -> bytes:
        if self._audit_key is None:
            self._audit_key = load_or_create_audit_key(self._data_dir)
        return self._audit_key

    def record_cards(
        self,
        *,
        hook_instance: str,
        service_id: str,
        cards: list[dict],
        caller: Caller,
        patient_id: str | None,
        knowledge_version: str,
        policy_version: str | None = None,
        silenced: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """Write one audit row per returned card: committed before this returns, or (after
        `write_audit_in_background`) accepted by the background writer, which commits it.

        ``silenced`` holds (rule id, topic, indicator) of findings the site policy silenced: each
        gets a row with no card uuid and ``policy_action = 'silent'`` (logged, never shown)."""
        silenced = list(silenced)
        if not cards and not silenced:
            return
        rows = self._rows.build(hook_instance, service_id, cards, caller, patient_id, knowledge_version, policy_version, silenced,
                                utcnow())
        if self._writer is None:
            self._insert_audit(rows)
            return
        problem = self._file.problem()  # a vanished SQLite file refuses now, as a synchronous write would
        if problem:
            raise StoreUnavailable(f"store unavailable: {problem}; the audit rows not kept")
        self._writer.submit(rows)

    def _insert_audit(self, rows: list[tuple[Any, ...]]) -> None:
        """The synchronous write (no background writer): the writer's transaction on a connection
        checked out for this call (same statements, faults and messages as `guard.transaction`,
        without SQLAlchemy's execution layer around them: ~0.3 ms less per call in-process)."""
        connection = WriterConnection(self._engine, self._audit_insert, self._file, self.backend)
        try:
            connection.write(rows)
        finally:
            connection.release()

    def write_audit_in_background(self) -> AuditWriter:
        """From now on `record_cards` hands its rows to a background writer (audit_writer.py says
        what is guaranteed) instead of committing before it returns. The serving entry points
        (`cdshooks serve`, `wsgi_app()`) turn this on in each worker; `close()` drains it."""
        if self._writer is None:
            connection = WriterConnection(self._engine, self._audit_insert, self._file, self.backend)
            self._writer = AuditWriter(connection.write, on_exit=connection.release)
        return self._writer

    def _settle(self) -> None:
        """Reads that judge audit rows first wait for the rows this process has accepted."""
        if self._writer is not None:
            self._writer.flush()

    # -- feedback -------------------------------------------------------------------------------
    def record_feedback(self, *, service_id: str, items: list[dict], caller: Caller) -> int:
        """Store validated 2.0 feedback items; returns how many were stored.

        An item whose card uuid we never issued to this service for this issuer and tenant is still
        stored (it is evidence) but flagged ``card_issued = False``, and the report keeps it apart.
        """
        now = utcnow()
        self._settle()
        with self._tx('the feedback') as conn:
            rows = []
            for item in items:
                uuid = str(item["card"])
                issued = conn.execute(
                    select(
                        exists().where(
                            card_audit.c.card_uuid == uuid,
                            card_audit.c.service_id == service_id,
                            card_audit.c.issuer.is_not_distinct_from(caller.iss),
                            card_audit.c.tenant.is_not_distinct_from(caller.tenant),
                        )
                    )
                ).scalar_one()
                reason = item.get("overrideReason") or {}
                coding = reason.get("reason") or {}
                accepted = [s["id"] for s in item.get("acceptedSuggestions") or []]
                rows.append(
                    dict(
                        service_id=service_id,
                        card_uuid=uuid,
                        outcome=item["outcome"],
                        accepted_suggestions=json.dumps(accepted) if accepted else None,
                        override_system=str_or_none(coding.get("system")),
                        override_code=str_or_none(coding.get("code")),
                        override_display=str_or_none(coding.get("display")),
                        override_comment=str_or_none(reason.get("userComment")),
                        outcome_timestamp=parse_rfc3339(item["outcomeTimestamp"]),
                        received_at=now,
                        issuer=caller.iss,
                        tenant=caller.tenant,
                        card_issued=bool(issued),
                    )
                )
            if rows:
                conn.execute(feedback.insert(), rows)
        return len(rows)

    # -- report ---------------------------------------------------------------------------------
    def feedback_facts(self, since: datetime, until: datetime) -> tuple[list[Answer], list[Issued]]:
        """Each card's latest feedback received in [since, until), and the cards issued then.

        A card reported several times counts once, with its latest outcome (by outcomeTimestamp,
        then arrival). Feedback for a card we never issued keeps ``rule = None``. Silenced findings
        (audit rows without a card uuid) were never shown, so they are not "issued".
        """
        self._settle()
        with self._tx('the report') as conn:
            fb_rows = conn.execute(
                select(feedback).where(feedback.c.received_at >= since, feedback.c.received_at < until)
            ).all()
            audit_rows = conn.execute(
                select(card_audit.c.card_uuid, card_audit.c.service_id, card_audit.c.rule_id, card_audit.c.topic)
                .where(card_audit.c.card_uuid.in_(sorted({r.card_uuid for r in fb_rows})))
                .order_by(card_audit.c.id)
            ).all()
            issued_rows = conn.execute(
                select(card_audit.c.card_uuid, card_audit.c.rule_id, card_audit.c.topic, card_audit.c.recorded_at).where(
                    card_audit.c.recorded_at >= since, card_audit.c.recorded_at < until, card_audit.c.card_uuid.is_not(None)
                )
            ).all()
        labels: dict[tuple[str, str], tuple[str, str]] = {}
        for row in audit_rows:
            labels.setdefault((row.card_uuid, row.service_id), (row.rule_id or NONE, row.topic or NONE))
        latest: dict[tuple[str, str, bool], Any] = {}
        for row in fb_rows:
            key = (row.card_uuid, row.service_id, bool(row.card_issued))
            best = latest.get(key)
            if best is None or (row.outcome_timestamp, row.received_at, row.id) > (best.outcome_timestamp, best.received_at, best.id):
                latest[key] = row
        answers = []
        for (uuid, service, issued), row in latest.items():
            label = labels.get((uuid, service)) if issued else None
            answers.append(Answer(label[0] if label else None, label[1] if label else None, row.outcome, row.override_system,
                                  row.override_code, row.override_display, row.outcome_timestamp))
        issued = [Issued(r.card_uuid, r.rule_id or NONE, r.topic or NONE, r.recorded_at) for r in issued_rows]
        return answers, issued

    def override_report(self, since: datetime, until: datetime) -> list[dict]:
        """Override rate per rule and per topic for feedback received in [since, until).

        ``issued`` counts audited cards recorded in the same window, so a reader sees how many cards
        got no feedback at all (ignored cards send none). Feedback for cards we never issued is one
        ``unissued`` row, never mixed into a rule's rate.
        """
        return rate_rows(*self.feedback_facts(since, until))

    def card_rules(self, service_id: str, uuids: Iterable[str], caller: Caller) -> dict[str, str]:
        """card uuid -> rule id, for cards we issued to this service, issuer and tenant (metrics)."""
        wanted = sorted(set(uuids))
        if not wanted:
            return {}
        self._settle()
        with self._tx('the card lookup') as conn:
            rows = conn.execute(
                select(card_audit.c.card_uuid, card_audit.c.rule_id).where(
                    card_audit.c.card_uuid.in_(wanted),
                    card_audit.c.service_id == service_id,
                    card_audit.c.issuer.is_not_distinct_from(caller.iss),
                    card_audit.c.tenant.is_not_distinct_from(caller.tenant),
                )
            ).all()
        return {r.card_uuid: r.rule_id or NONE for r in rows}

    def _tx(self, what: str) -> Any:
        """A write/read transaction; store faults raise StoreUnavailable (503) naming `what`."""
        return transaction(self._engine, self._file, what)

    def ping(self) -> str | None:
        """Readiness: None when a round-trip works and writes can be kept, else the reason."""
        return ping(self._engine, self._file, self.backend) or (self._writer.problem() if self._writer else None)

    def close(self) -> None:
        """Commit every audit row the background writer accepted (if any), then release the engine."""
        if self._writer is not None:
            self._writer.close()
        self._engine.dispose()

