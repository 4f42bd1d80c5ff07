"""One INSERT compiled once per engine and run as a driver-level executemany of positional rows.

Why: the audit write runs on every CDS call (before the answer when the store writes
synchronously, in the background writer under `cdshooks serve`). Through `conn.execute(table.insert(),
rows)` SQLAlchemy re-derived the parameters of every row per call (~0.4 ms of CPU for 10 cards,
as much as the SQLite commit itself). Here the statement string, the parameter order and the
columns' bind processors (e.g. `UtcDateTime`: aware UTC -> the backend's naive timestamp) are
taken from SQLAlchemy once, so the rows are stored exactly as the Core insert stores them
(tests/trust/test_prepared_insert.py compares both, on SQLite and PostgreSQL); only the per-call
work shrinks to building tuples.

The statement is always compiled with a positional paramstyle (psycopg's `pyformat` becomes
`format`: the same statement and casts with `%s` for `%(name)s`), so a row is a plain tuple in
`keys` order on every backend: `Store.record_cards` builds those tuples itself, with the bind
processors run once per call on the values its rows share (`process`), and nothing re-packs them
on the way to the driver. `parameters` turns mapping rows into the same tuples (the general path,
which the tests hold the fast one to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

# A named paramstyle's positional twin: the same statement with the names left out.
_POSITIONAL = {"pyformat": "format", "named": "qmark"}


@dataclass(frozen=True)
class PreparedInsert:
    """`INSERT INTO table (columns...)` for one dialect, with positional parameters in `keys` order."""

    sql: str
    keys: tuple[str, ...]  # every row supplies these columns, in this order
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (index in keys, bind processor)
    copy_sql: str | None = None  # PostgreSQL: `COPY table (keys...) FROM STDIN`, the same rows in bulk (writer_connection.py)

    @classmethod
    def for_table(cls, table: Table, dialect: Dialect, columns: Iterable[str]) -> "PreparedInsert":
        columns = list(columns)
        compiler_dialect = dialect
        if not dialect.positional:
            compiler_dialect = type(dialect)(paramstyle=_POSITIONAL[dialect.paramstyle])
        compiled = table.insert().inline().compile(dialect=compiler_dialect, column_keys=columns)  # inline: no RETURNING of the ids (PostgreSQL)
        keys = tuple(compiled.positiontup or ())
        if not compiled.positional or sorted(keys) != sorted(columns):
            raise ValueError(f"compiled insert binds {keys}, expected {columns} positionally")  # never a silently missing column
        processors = tuple(
            (i, proc) for i, key in enumerate(keys) if (proc := table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        copy_sql = None
        if dialect.name == "postgresql":
            quote = dialect.identifier_preparer
            copy_sql = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(k) for k in keys)}) FROM STDIN"
        return cls(sql=compiled.string, keys=keys, processors=processors, copy_sql=copy_sql)

    @property
    def processed_keys(self) -> frozenset[str]:
        """The columns whose values a bind processor turns into the driver's value."""
        return frozenset(self.keys[i] for i, _ in self.processors)

    def process(self, key: str, value: Any) -> Any:
        """`value` as the driver receives it for column `key` (its bind processor, if any)."""
        for i, proc in self.processors:
            if self.keys[i] == key:
                return proc(value)
        return value

    def parameters(self, rows: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Driver parameters of mapping `rows` (each must have every key): tuples in `keys` order."""
        out: list[tuple[Any, ...]] = []
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
            out.append(tuple(values))
        return out

    def execute(self, conn: Connection, rows: list[Mapping[str, Any]]) -> None:
        """Insert mapping rows (the general path)."""
        self.execute_tuples(conn, self.parameters(rows))

    def execute_tuples(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows already in driver form (`parameters`' output, or `Store.record_cards`' tuples)."""
        if rows:
            conn.exec_driver_sql(self.sql, list(rows))
