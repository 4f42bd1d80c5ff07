"""`cdshooks check FIXTURE`: run the service in-process on a fixture and print its cards.

In-process = the real app (create_app) through Flask's test client, auth disabled, a throw-away
data directory: the same pipeline as production, with no port and no JWT, so it works offline.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import click

from datetime import date

from ._common import HOOKS, fail_usage, findings_exit, print_cards, request_from_path
from ..fixtures import FixtureError, clinical_now, load_fixture, service_for_request


def clinical_day(fixture: str, as_of: str | None) -> date | None:
    """The day to pin the service's clinical clock to: --as-of, else the fixture's referenceDate
    (so our fixtures give their goldens' answers on any calendar day), else None = today."""
    if as_of:
        try:
            return date.fromisoformat(as_of)
        except ValueError:
            fail_usage(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}")
    path = Path(fixture)
    try:
        return load_fixture(path if path.is_dir() else path.parent).reference_date
    except FixtureError:
        return None


@click.command("check")
@click.argument("fixture", type=click.Path(exists=True))
@click.option("--hook", type=click.Choice(HOOKS), default=None, help="hook to simulate (default: order-sign if the bundle has draft orders, else patient-view)")
@click.option("--json", "as_json", is_flag=True, help="print the CDS Hooks response JSON instead of a table")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="the service's clinical 'today' (default: the fixture's referenceDate, else today)")
def command(fixture: str, hook: str | None, as_json: bool, as_of: str | None) -> None:
    """Run the ALL CDS service in-process on FIXTURE (fixture dir, bundle.json or request-*.json).

    Exit codes: 0 no warning/critical card, 1 at least one warning or critical card,
    2 usage error (bad path, bundle or hook) or the service refused the request.
    """
    from ..app import create_app
    from ..config import Settings

    day = clinical_day(fixture, as_of)
    body = request_from_path(fixture, hook)
    service_id = service_for_request(body)
    logging.getLogger("cdshooks").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="cdshooks-check-") as tmp:
        app = create_app(Settings(auth="disabled", data_dir=Path(tmp), fixed_now=clinical_now(day) if day else None))
        response = app.test_client().post(f"/cds-services/{service_id}", json=body)
        app.extensions["cdshooks"].store.close() if hasattr(app.extensions["cdshooks"].store, "close") else None
    if response.status_code != 200:
        issue = ((response.get_json(silent=True) or {}).get("issue") or [{}])[0]
        fail_usage(f"service answered HTTP {response.status_code}: {issue.get('diagnostics', response.get_data(as_text=True)[:300])}")
    cards = response.get_json()["cards"]
    print_cards(cards, as_json=as_json, title=f"{service_id} on {fixture}")
    sys.exit(findings_exit(cards))


