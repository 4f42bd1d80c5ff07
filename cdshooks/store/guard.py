"""Store faults become `StoreUnavailable` (503), never a bare 500 and never a silent success.

Two faults a plain SQLAlchemy call does not see or name:
  * the SQLite file removed (or replaced) while running: the open connections keep writing to
    the unlinked inode, every commit "succeeds" and the rows vanish at restart. `FileIdentity`
    remembers (device, inode) of the file at start and refuses to write once it changed.
  * any driver error (read-only database, disk full, PostgreSQL stopped or restarting): the
    transaction wrapper turns it into StoreUnavailable with a short, PHI-free reason.
PostgreSQL restarts are survived by the engine's pool_pre_ping (a dead pooled connection is
replaced before use), so the first request after the restart succeeds.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreUnavailable


class FileIdentity:
    """(st_dev, st_ino) of the SQLite database file, taken once the schema is in place."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None

    def remember(self) -> None:
        if self.path is not None and self.path.exists():
            st = self.path.stat()
            self._identity = (st.st_dev, st.st_ino)

    def problem(self) -> str | None:
        """Why the file can no longer be trusted to keep writes, or None."""
        if self.path is None or self._identity is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return "the SQLite database file was removed while the service runs"
        except OSError as exc:
            return f"the SQLite database file cannot be read ({type(exc).__name__})"
        if (st.st_dev, st.st_ino) != self._identity:
            return "the SQLite database file was replaced while the service runs"
        return None


@contextmanager
def transaction(engine: Engine, identity: FileIdentity, what: str) -> Iterator[Connection]:
    """`engine.begin()` that refuses to start on a vanished SQLite file and names driver errors."""
    problem = identity.problem()
    if problem:
        raise StoreUnavailable(f"store unavailable: {problem}; {what} not kept")
    try:
        with engine.begin() as conn:
            yield conn
    except StoreUnavailable:
        raise
    except SQLAlchemyError as exc:
        raise driver_fault(exc, what) from exc


def driver_fault(exc: BaseException, what: str) -> StoreUnavailable:
    """The 503 for a driver error (SQLAlchemy's wrapper or the DBAPI's own): a short, PHI-free
    reason, the exception's type or "the database is read-only"."""
    orig = getattr(exc, "orig", None) or (exc if not isinstance(exc, SQLAlchemyError) else None)
    reason = type(orig or exc).__name__
    if "readonly" in str(orig or "").replace("-", "").replace(" ", "").lower():
        reason = "the database is read-only"
    return StoreUnavailable(f"store unavailable ({reason}); {what} not kept")


def ping(engine: Engine, identity: FileIdentity, backend: str) -> str | None:
    """Readiness round-trip: None when the store can keep writes, else the reason (no PHI)."""
    problem = identity.problem()
    if problem:
        return problem
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            if backend == "postgresql":
                if conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on":
                    return "the PostgreSQL database is read-only"
            elif identity.path is not None:
                for path in (identity.path, identity.path.parent):
                    if not os.access(path, os.W_OK):  # also False for chattr +i, even as root
                        return "the SQLite store is read-only"
    except SQLAlchemyError as exc:
        return f"the store does not answer ({type(getattr(exc, 'orig', None) or exc).__name__})"
    return None

