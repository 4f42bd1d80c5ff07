"""Where the database schema stands against the migrations this version ships.

Many instances share one database, so migrating is a deployment step (`cdshooks db upgrade`, run
once per release by the Kubernetes migration Job), not something every pod races to do at start.
With CDSHOOKS_MIGRATE=never, `serve` only calls ``require_current`` and refuses to start on a
schema that is behind, instead of silently running old code against it or upgrading it under the
other pods' feet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from ..errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class SchemaStatus:
    """The database's Alembic revision(s) and the head this code expects."""

    current: tuple[str, ...]
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == (self.head,)

    def describe(self) -> str:
        now = ",".join(self.current) or "empty (no schema)"
        state = "up to date" if self.up_to_date else "behind: run `cdshooks db upgrade`"
        if self.current and not self.up_to_date and not self.behind:
            state = "unknown to this version (newer code migrated it?)"
        return f"database schema {now}; this version needs {self.head}: {state}"

    @property
    def behind(self) -> bool:
        """True when every current revision is an ancestor of head (an upgrade would fix it)."""
        if self.up_to_date:
            return False
        script = ScriptDirectory(str(MIGRATIONS_DIR))
        known = {rev.revision for rev in script.walk_revisions()}
        return all(rev in known for rev in self.current)


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def schema_status(engine: Engine) -> SchemaStatus:
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    return SchemaStatus(current=tuple(sorted(current)), head=head_revision())


def require_current(engine: Engine) -> SchemaStatus:
    """Raise ConfigError (one line, exit 2 from serve) unless the schema is at head."""
    status = schema_status(engine)
    if not status.up_to_date:
        raise ConfigError(f"CDSHOOKS_MIGRATE=never and the {status.describe()}")
    return status
