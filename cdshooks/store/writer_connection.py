"""The background audit writer's insert: the prepared INSERT (PostgreSQL: a COPY) run on one DBAPI
connection the writer keeps, not through a SQLAlchemy `Connection` per batch.

Why: per batch, `engine.begin()` checked a connection out of the pool (on PostgreSQL with a
pre-ping round-trip), ran the SQLite `BEGIN IMMEDIATE` through a full SQLAlchemy execution,
wrapped the executemany in another, committed and checked the connection back in (resetting it):
~0.7 ms of CPU for a 10-card call against ~0.35 ms for the same statements on the driver's
connection (SQLite; PostgreSQL ~1.1 vs ~0.75 ms), and the writer runs once per call at low load.
On SQLite the statements are the ones the SQLAlchemy path runs (`BEGIN IMMEDIATE`, the prepared
INSERT as one executemany, COMMIT), so rows, locking and durability are the same. On PostgreSQL
a batch is one `COPY card_audit (columns) FROM STDIN` and COMMIT: psycopg's executemany sent an
INSERT per row (~60 us of CPU each in a busy worker, ~2 ms for a 0.1 s batch); COPY writes the
same values into the same columns (the same input functions, defaults, constraints and
triggers) at under half the CPU. tests/trust/test_prepared_insert.py holds the rows it stores,
raw text included, to the Core insert's.

Faults are reported as `guard.transaction` reports them (same StoreUnavailable messages, so the
writer's ERROR line and /health's reason are unchanged). A connection that failed is
invalidated (closed, its pool slot reconnects), so the next batch starts on a fresh one. What
`pool_pre_ping` did per checkout is done on failure instead: a batch that fails because the held
connection was dropped (PostgreSQL restarted) is retried once at once on a fresh, pre-pinged
connection, so the first batch after a restart is written, as before.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreUnavailable
from .guard import FileIdentity, driver_fault
from .prepared import PreparedInsert

WHAT = "the audit rows"


class WriterConnection:
    """`write(rows)` commits rows in one transaction on a kept connection, or raises StoreUnavailable.
    Used from one thread at a time (the audit writer's, or a synchronous write's own instance);
    `release()` returns the connection to the pool."""

    def __init__(self, engine: Engine, insert: PreparedInsert, identity: FileIdentity, backend: str) -> None:
        self._engine = engine
        self._insert = insert
        self._identity = identity
        self._begin = "BEGIN IMMEDIATE"  # SQLite, as the engine's `begin` event does
        self._copy = insert.copy_sql if backend == "postgresql" else None
        self._conn: Any = None  # the pool's connection proxy, checked out while held

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Commit `rows` (driver tuples in the prepared insert's order, `AuditRows.build`)."""
        problem = self._identity.problem()
        if problem:
            raise StoreUnavailable(f"store unavailable: {problem}; {WHAT} not kept")
        if not rows:
            return
        parameters = rows
        if self._conn is not None:
            try:
                return self._transaction(parameters)
            except _Dropped:
                pass  # the kept connection was lost (server restart): once more on a fresh one
        try:
            self._transaction(parameters)
        except _Dropped as dropped:
            raise dropped.fault from dropped.__cause__

    def _transaction(self, parameters: Sequence[tuple[Any, ...]]) -> None:
        """BEGIN IMMEDIATE and the insert (SQLite) or the COPY (PostgreSQL), COMMIT. A fault invalidates the connection and
        raises StoreUnavailable, or _Dropped (carrying it) when the connection itself was lost."""
        cursor = None
        try:
            if self._conn is None:
                self._conn = self._engine.raw_connection()  # pre-pinged on PostgreSQL
            cursor = self._conn.cursor()
            if self._copy:
                with cursor.copy(self._copy) as copy:  # psycopg: the batch as one COPY (the transaction begins implicitly)
                    for row in parameters:
                        copy.write_row(row)
            else:
                cursor.execute(self._begin)
                cursor.executemany(self._insert.sql, parameters)
            cursor.close()
            self._conn.commit()
        except Exception as exc:
            dbapi_error = getattr(exc, "orig", None) or exc
            if not isinstance(exc, SQLAlchemyError) and not isinstance(exc, self._engine.dialect.loaded_dbapi.Error):
                self._discard(cursor)
                raise
            dropped = self._is_disconnect(dbapi_error, cursor)  # asked before the connection is closed
            self._discard(cursor)
            fault = driver_fault(exc, WHAT)
            if dropped:
                raise _Dropped(fault) from exc
            raise fault from exc

    def _is_disconnect(self, error: Any, cursor: Any) -> bool:
        connection = getattr(self._conn, "dbapi_connection", None)
        if connection is None or error is None:
            return False
        try:
            return bool(self._engine.dialect.is_disconnect(error, connection, cursor))
        except Exception:  # noqa: BLE001 - a dialect that cannot tell: not a disconnect
            return False

    def _discard(self, cursor: Any) -> None:
        """Close the failed transaction's cursor, roll it back and invalidate the connection (its
        pool slot reconnects on the next checkout). The cursor and the rollback first: SQLite keeps
        a connection with a live statement open after `close()`, and with it the write lock that
        BEGIN IMMEDIATE took, so every other connection would find the database locked."""
        conn, self._conn = self._conn, None
        for step in (getattr(cursor, "close", None), getattr(conn, "rollback", None), getattr(conn, "invalidate", None)):
            if step is not None:
                try:
                    step()
                except Exception:  # noqa: BLE001 - already broken: nothing more to release
                    pass

    def release(self) -> None:
        """Give the kept connection back to the pool (the writer is stopping)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection at exit
                pass


class _Dropped(Exception):
    """A transaction failed because its connection was lost; `fault` is raised if not retried."""

    def __init__(self, fault: StoreUnavailable) -> None:
        super().__init__(fault.message)
        self.fault = fault
