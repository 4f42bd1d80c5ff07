"""`cdshooks feedback report`: how often clinicians override each rule, topic and reason, per week,
and which rules are candidates for review.

Why: a rule that is overridden most of the time is either wrong for this population or firing on
the wrong orders; the clinical safety review reads these tables, and the review list names the
rules overridden on more than --review-share of at least --review-min-cards answered cards (a rule
with a handful of answers is not yet evidence). Counts come only from the store (no patient data is
involved: the audit table holds a keyed hash, never an identifier).

Exit codes: 0 report printed; 2 bad option or the database cannot be opened (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone

import click
from rich.console import Console
from rich.table import Table

from ..config import settings_from_env
from ..errors import CdsError
from ..store import Store
from ..store.analytics import DEFAULT_REVIEW_MIN_CARDS, DEFAULT_REVIEW_SHARE, reason_rows, review_candidates, rate_rows, week_rows
from ._common import error_reason, fail_usage, redact

DEFAULT_PERIOD_DAYS = 30


def _when(value: str | None, default: datetime, option: str) -> datetime:
    """An ISO date or date-time; a naive value is read as UTC (the store's clock)."""
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail_usage(f"feedback report: Invalid value for {option}: not an ISO 8601 date or date-time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _table(title: str, rows: list[dict], top_reason: dict[str, str] | None = None, flagged: set[str] = frozenset()) -> Table:  # type: ignore[assignment]
    table = Table(title=title)
    table.add_column(title.split()[-1].capitalize())
    for name in ("Issued", "Accepted", "Overridden", "Override rate"):
        table.add_column(name, justify="right")
    if top_reason is not None:
        table.add_column("Top reason")
        table.add_column("Review")
    for row in rows:
        cells = [row["key"], str(row["issued"]), str(row["accepted"]), str(row["overridden"]), _rate(row["override_rate"])]
        if top_reason is not None:
            cells += [top_reason.get(row["key"], ""), "REVIEW" if row["key"] in flagged else ""]
        table.add_row(*cells)
    return table


def _reason_table(rows: list[dict]) -> Table:
    table = Table(title="Override reasons")
    for name, justify in (("Reason", "left"), ("Display", "left"), ("Overrides", "right"), ("Share", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row["key"], row["display"] or "", str(row["overridden"]), _rate(row["share"]))
    return table


command = click.Group("feedback", help="Clinician feedback on our cards.")


@command.command("report")
@click.option("--since", help="Start (inclusive), ISO date or date-time, UTC if no offset. Default: 30 days ago.")
@click.option("--until", help="End (exclusive), ISO date or date-time. Default: now.")
@click.option("--database-url", help="SQLAlchemy URL; default CDSHOOKS_DATABASE_URL or the SQLite file in the data dir.")
@click.option("--review-share", default=DEFAULT_REVIEW_SHARE, show_default=True, type=click.FloatRange(0, 1),
              help="Flag rules overridden on MORE than this share of answered cards.")
@click.option("--review-min-cards", default=DEFAULT_REVIEW_MIN_CARDS, show_default=True, type=click.IntRange(1),
              help="...with at least this many answered cards.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def report(since: str | None, until: str | None, database_url: str | None, review_share: float, review_min_cards: int,
           as_json: bool) -> None:
    """Override rates per rule, topic, reason and week for feedback received in [SINCE, UNTIL).

    A card reported several times counts once with its latest outcome. 'Issued' is the number of
    cards we returned in the same window (cards a clinician ignored send no feedback). Feedback
    for card uuids we never issued is counted apart, never in a rule's rate.
    """
    now = datetime.now(timezone.utc)
    end = _when(until, now, "--until")
    start = _when(since, end - timedelta(days=DEFAULT_PERIOD_DAYS), "--since")
    if start >= end:
        fail_usage("feedback report: Invalid value: --since must be before --until")
    try:
        settings = settings_from_env()
        store = Store(database_url or settings.effective_database_url, audit_key=settings.audit_key, data_dir=settings.data_dir)
        try:
            store.migrate()
            answers, issued = store.feedback_facts(start, end)
        finally:
            store.close()
    except CdsError as exc:
        fail_usage(f"feedback report: {exc.message}")
    except Exception as exc:  # SQLAlchemy / driver errors: one line, never a traceback with the URL
        fail_usage(f"feedback report: cannot read the store at {redact(database_url or settings.effective_database_url)}: {error_reason(exc)}")
    rows = rate_rows(answers, issued)
    reasons = reason_rows(answers)
    weeks = week_rows(answers, issued)
    review = review_candidates(rows, review_share, review_min_cards)
    if as_json:
        click.echo(json.dumps({
            "since": start.isoformat(), "until": end.isoformat(), "rows": rows,
            "reasons": [r for r in reasons if r["group"] == "reason"], "ruleReasons": [r for r in reasons if r["group"] == "rule-reason"],
            "weeks": weeks, "review": {"share": review_share, "minCards": review_min_cards, "candidates": review},
        }, indent=2))
        return
    top: dict[str, str] = {}
    for r in reasons:
        if r["group"] == "rule-reason" and r["rule"] not in top:
            top[r["rule"]] = f"{r['reason']} ({_rate(r['share'])})"
    flagged = {c["rule"] for c in review}
    console = Console(width=None if sys.stdout.isatty() else 200)  # piped: never fold a rule id
    console.print(f"Feedback received {start.isoformat()} .. {end.isoformat()} (end exclusive)")
    console.print(_table("Override rate per rule", [r for r in rows if r["group"] == "rule"], top, flagged))
    console.print(_table("Override rate per topic", [r for r in rows if r["group"] == "topic"]))
    console.print(_reason_table([r for r in reasons if r["group"] == "reason"]))
    console.print(_table("Override rate per week", weeks))
    unissued = next((r for r in rows if r["group"] == "unissued"), None)
    if unissued:
        console.print(
            f"[yellow]Feedback for {unissued['accepted'] + unissued['overridden']} card(s) we never issued "
            f"(flagged, excluded above).[/yellow]"
        )
    if review:
        console.print(f"[bold]Review candidates[/bold] (overridden on more than {_rate(review_share)} of at least {review_min_cards} answered cards):")
        for c in review:
            console.print(f"  {c['rule']}: {c['overridden']}/{c['answered']} overridden ({_rate(c['override_rate'])})")
    else:
        console.print(f"No rule overridden on more than {_rate(review_share)} of at least {review_min_cards} answered cards.")
