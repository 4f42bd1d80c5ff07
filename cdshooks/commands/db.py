"""`cdshooks db upgrade` / `cdshooks db check`: the schema as a deployment step.

With many instances on one PostgreSQL, the schema is upgraded once per release (the Kubernetes
migration Job runs `cdshooks db upgrade`) and every pod starts with CDSHOOKS_MIGRATE=never, which
makes `serve` refuse a stale schema. `db check` exits 1 while the schema is behind, so a release
pipeline or an init step can wait on it.

Only CDSHOOKS_DATABASE_URL and CDSHOOKS_DATA_DIR are read (or --database-url): migrating needs
neither the issuers nor the audit key.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..errors import CdsError
from ..store import Store
from ..store.schema import schema_status
from ._common import EXIT_FINDINGS, fail_usage

URL_HELP = "SQLAlchemy URL; default CDSHOOKS_DATABASE_URL or the SQLite file in CDSHOOKS_DATA_DIR."


def _open(database_url: str | None) -> Store:
    settings = Settings(database_url=os.environ.get("CDSHOOKS_DATABASE_URL", ""),
                        data_dir=Path(os.environ.get("CDSHOOKS_DATA_DIR") or "./var"))
    try:
        return Store(database_url or settings.effective_database_url, data_dir=settings.data_dir)
    except CdsError as exc:
        fail_usage(exc.message)


def _unreachable(exc: SQLAlchemyError) -> None:
    # The driver's message can carry the URL with its password: name the failure class only.
    fail_usage(f"database unreachable or refused the operation ({exc.__class__.__name__})")


@click.group("db")
def command() -> None:
    """Database schema: upgrade it (once per release) or check it is current."""


@command.command("upgrade")
@click.option("--database-url", help=URL_HELP)
def upgrade(database_url: str | None) -> None:
    """Bring the schema to this version's head (idempotent; serialised on PostgreSQL)."""
    store = _open(database_url)
    try:
        before = schema_status(store.engine)
        store.migrate()
        after = schema_status(store.engine)
    except SQLAlchemyError as exc:
        _unreachable(exc)
    finally:
        store.close()
    was = ",".join(before.current) or "empty"
    click.echo(f"cdshooks: database schema {was} -> {','.join(after.current)} (head {after.head})")


@command.command("check")
@click.option("--database-url", help=URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print {current, head, upToDate} as JSON.")
def check(database_url: str | None, as_json: bool) -> None:
    """Exit 0 when the schema is at head, 1 when it is behind (or unknown), 2 when unreachable."""
    store = _open(database_url)
    try:
        status = schema_status(store.engine)
    except SQLAlchemyError as exc:
        _unreachable(exc)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"current": list(status.current), "head": status.head, "upToDate": status.up_to_date}))
    else:
        click.echo(f"cdshooks: {status.describe()}", err=not status.up_to_date)
    if not status.up_to_date:
        sys.exit(EXIT_FINDINGS)
