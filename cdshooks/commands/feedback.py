"""`cdshooks feedback report`: how often clinicians override each rule and each card topic.

Why: a rule that is overridden most of the time is either wrong for this population or firing on
the wrong orders; the clinical safety review reads this table. Counts come only from the store
(no patient data is involved: the audit table holds a keyed hash, never an identifier).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import click
from rich.console import Console
from rich.table import Table

from ..config import settings_from_env
from ..errors import CdsError
from ..store import Store

DEFAULT_PERIOD_DAYS = 30


def _when(value: str | None, default: datetime) -> datetime:
    """An ISO date or date-time; a naive value is read as UTC (the store's clock)."""
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date or date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _table(title: str, rows: list[dict]) -> Table:
    table = Table(title=title)
    table.add_column(title.split()[-1].capitalize())
    for name in ("Issued", "Accepted", "Overridden", "Override rate"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row["key"], str(row["issued"]), str(row["accepted"]), str(row["overridden"]), _rate(row["override_rate"]))
    return table


command = click.Group("feedback", help="Clinician feedback on our cards.")


@command.command("report")
@click.option("--since", help="Start (inclusive), ISO date or date-time, UTC if no offset. Default: 30 days ago.")
@click.option("--until", help="End (exclusive), ISO date or date-time. Default: now.")
@click.option("--database-url", help="SQLAlchemy URL; default CDSHOOKS_DATABASE_URL or the SQLite file in the data dir.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def report(since: str | None, until: str | None, database_url: str | None, as_json: bool) -> None:
    """Override rate per rule and per topic for feedback received in [SINCE, UNTIL).

    A card reported several times counts once with its latest outcome. 'Issued' is the number of
    cards we returned in the same window (cards a clinician ignored send no feedback). Feedback
    for card uuids we never issued is counted apart, never in a rule's rate.
    """
    now = datetime.now(timezone.utc)
    end = _when(until, now)
    start = _when(since, end - timedelta(days=DEFAULT_PERIOD_DAYS))
    if start >= end:
        raise click.BadParameter("--since must be before --until")
    try:
        settings = settings_from_env()
        store = Store(database_url or settings.effective_database_url, audit_key=settings.audit_key, data_dir=settings.data_dir)
    except CdsError as exc:
        raise click.ClickException(exc.message) from None
    try:
        store.migrate()
        rows = store.override_report(start, end)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"since": start.isoformat(), "until": end.isoformat(), "rows": rows}, indent=2))
        return
    console = Console()
    console.print(f"Feedback received {start.isoformat()} .. {end.isoformat()} (end exclusive)")
    console.print(_table("Override rate per rule", [r for r in rows if r["group"] == "rule"]))
    console.print(_table("Override rate per topic", [r for r in rows if r["group"] == "topic"]))
    unissued = next((r for r in rows if r["group"] == "unissued"), None)
    if unissued:
        console.print(
            f"[yellow]Feedback for {unissued['accepted'] + unissued['overridden']} card(s) we never issued "
            f"(flagged, excluded above).[/yellow]"
        )
