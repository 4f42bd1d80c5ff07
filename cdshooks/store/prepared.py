"""One INSERT compiled once per engine and run as a driver-level executemany.

Why: the audit write runs on every CDS call (before the answer when the store writes
synchronously, in the background writer under `cdshooks serve`). Through `conn.execute(table.insert(),
rows)` SQLAlchemy re-derived the parameters of every row per call (~0.4 ms of CPU for 10 cards,
as much as the SQLite commit itself). Here the statement string, the parameter order and the
columns' bind processors (e.g. `UtcDateTime`: aware UTC -> the backend's naive timestamp) are
taken from SQLAlchemy once (and run once per distinct value object of a batch: a call's rows share
one `recorded_at`), so the rows are stored exactly as the Core insert stores them
(tests/trust/test_prepared_insert.py compares both, on SQLite and PostgreSQL); only the per-call
work shrinks to building tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect


@dataclass(frozen=True)
class PreparedInsert:
    """`INSERT INTO table (columns...)` for one dialect; `execute(conn, rows)` inserts dict rows."""

    sql: str
    keys: tuple[str, ...]  # every row supplies these columns, in this order for positional paramstyles
    positional: bool
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (index in keys, bind processor)

    @classmethod
    def for_table(cls, table: Table, dialect: Dialect, columns: Iterable[str]) -> "PreparedInsert":
        columns = list(columns)
        compiled = table.insert().inline().compile(dialect=dialect, column_keys=columns)  # inline: no RETURNING of the ids (PostgreSQL)
        keys = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else tuple(columns)
        if sorted(keys) != sorted(columns):
            raise ValueError(f"compiled insert binds {keys}, expected {columns}")  # never a silently missing column
        processors = tuple(
            (i, proc) for i, key in enumerate(keys) if (proc := table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        return cls(sql=compiled.string, keys=keys, positional=bool(compiled.positional), processors=processors)

    def parameters(self, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
        """Driver parameters of `rows` (each must have every key): tuples or dicts by paramstyle."""
        out: list[Any] = []
        last: dict[int, tuple[Any, Any]] = {}  # index -> (value, processed): one call's rows share their common values
        for row in rows:
            values = [row[key] for key in self.keys]
            for i, proc in self.processors:
                value = values[i]
                seen = last.get(i)
                if seen is not None and seen[0] is value:  # the same object: a bind processor is a pure function
                    values[i] = seen[1]
                else:
                    values[i] = processed = proc(value)
                    last[i] = (value, processed)
            out.append(tuple(values) if self.positional else dict(zip(self.keys, values)))
        return out

    def execute(self, conn: Connection, rows: list[Mapping[str, Any]]) -> None:
        if rows:
            conn.exec_driver_sql(self.sql, self.parameters(rows))
