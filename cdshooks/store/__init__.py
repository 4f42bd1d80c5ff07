"""Feedback and audit persistence (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL by URL)."""

from .store import Store, parse_rfc3339

__all__ = ["Store", "parse_rfc3339"]
