"""`cdshooks check FIXTURE` / `cdshooks check --all DIR`: run the service in-process on fixtures.

In-process = the real app (create_app) through Flask's test client, auth disabled, a throw-away
data directory: the same pipeline as production, with no port and no JWT, so it works offline.
A request without prefetch (`*-noprefetch`, or `--no-prefetch`) makes the service fetch the record
itself: `check` then serves the fixture's bundle on an embedded loopback FHIR server
(fixture_server.py) that is trusted for that run only, so the fallback-fetch path is exercised.

The service's clinical clock is pinned to `--as-of`, else the fixture's `referenceDate`
(expected.json), so our fixtures answer as their goldens say on any calendar day.
`--all` runs every request of every fixture under DIR and compares it with its golden
(cdshooks/goldens.py, the comparator the golden tests use).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ._common import EXIT_FINDINGS, EXIT_OK, HOOKS, console, fail_usage, findings_exit, print_cards, request_from_path
from ..fixtures import PLACEHOLDER_FHIR_SERVER, FixtureError, bundle_resources, clinical_now, load_fixture, read_json, service_for_request, with_fhir_server
from ..goldens import compare, describe

CHECK_ISSUER = "urn:cdshooks-check"  # the only issuer of a check run: trusts only its loopback server


def clinical_day(fixture: Path, as_of: str | None) -> date | None:
    """--as-of, else the fixture's referenceDate, else None (= the wall clock)."""
    if as_of:
        try:
            return date.fromisoformat(as_of)
        except ValueError:
            fail_usage(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}")
    try:
        return load_fixture(fixture if fixture.is_dir() else fixture.parent).reference_date
    except FixtureError:
        return None


def fixture_bundle(path: Path) -> Any:
    """The bundle whose record a no-prefetch request is served from (None for a lone request)."""
    try:
        return load_fixture(path if path.is_dir() or path.name == "bundle.json" else path.parent).bundle
    except FixtureError:
        return None


@dataclass
class Outcome:
    status: int
    cards: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    fetched: int = 0  # requests the service made to the loopback FHIR server


class Runner:
    """One app per clinical day, all trusting one embedded loopback FHIR server (started lazily)."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cdshooks-check-")))
        self._apps: dict[date | None, Any] = {}
        self._fhir: Any = None

    def _server(self) -> Any:
        if self._fhir is None:
            from ..fixture_server import bundle_fhir_server

            self._fhir = self._stack.enter_context(bundle_fhir_server())
        return self._fhir

    def _app(self, day: date | None) -> Any:
        if day not in self._apps:
            from ..app import create_app
            from ..config import Settings, TrustedIssuer

            issuer = TrustedIssuer(iss=CHECK_ISSUER, jwks={"keys": []}, fhir_servers=(self._server().base_url,))
            app = create_app(Settings(auth="disabled", data_dir=self._tmp / str(day or "today"), trusted_issuers=(issuer,),
                                      fixed_now=clinical_now(day) if day else None))
            store = app.extensions["cdshooks"].store
            if hasattr(store, "close"):
                self._stack.callback(store.close)
            self._apps[day] = app
        return self._apps[day]

    def run(self, body: dict[str, Any], bundle: Any, day: date | None) -> Outcome:
        fhir = self._server()
        app = self._app(day)
        fetched_before = fhir.requests
        if "prefetch" not in body:
            if bundle is None:
                return Outcome(0, error="the request has no prefetch and there is no bundle.json to serve its record from")
            fhir.resources = bundle_resources(bundle)
            body = with_fhir_server(body, fhir.base_url)
        response = app.test_client().post(f"/cds-services/{service_for_request(body)}", json=body)
        if response.status_code != 200:
            issue = ((response.get_json(silent=True) or {}).get("issue") or [{}])[0]
            return Outcome(response.status_code, error=str(issue.get("diagnostics") or response.get_data(as_text=True)[:300]))
        return Outcome(200, response.get_json()["cards"], fetched=fhir.requests - fetched_before)


def check_all(root: Path, as_of: str | None, as_json: bool) -> int:
    dirs = sorted(d for d in root.iterdir() if (d / "expected.json").exists()) if root.is_dir() else []
    if not dirs:
        fail_usage(f"{root}: no fixture directories (with expected.json) found")
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        runner = Runner(stack)
        for d in dirs:
            try:
                fixture = load_fixture(d)
                day = clinical_day(d, as_of)
                for name, golden in (fixture.expected or {}).get("requests", {}).items():
                    body = read_json(d / name)
                    outcome = runner.run(body, fixture.bundle, day)
                    problems = [f"HTTP {outcome.status}: {outcome.error}"] if outcome.status != 200 else compare(golden, outcome.cards)
                    if outcome.status == 200 and "prefetch" not in body and outcome.fetched == 0:
                        problems.append("the service never called the loopback FHIR server")
                    results.append({"fixture": d.name, "request": name, "hook": body.get("hook"), "prefetch": "prefetch" in body,
                                    "ok": not problems, "cards": [describe(c) for c in outcome.cards], "problems": problems})
            except FixtureError as exc:
                results.append({"fixture": d.name, "request": "", "hook": None, "prefetch": None, "ok": False, "cards": [], "problems": [str(exc)]})
    failed = [r for r in results if not r["ok"]]
    if as_json:
        click.echo(json.dumps({"fixtures": len(dirs), "requests": len(results), "failed": len(failed), "results": results}, indent=1))
    else:
        table = Table(title=f"{len(results)} request(s) in {len(dirs)} fixture(s) against their goldens")
        for column in ("fixture", "request", "cards", "golden"):
            table.add_column(column)
        for r in results:
            verdict = "[green]match[/green]" if r["ok"] else "[red]" + "; ".join(r["problems"]).replace("[", "\\[") + "[/red]"
            table.add_row(r["fixture"], r["request"], str(len(r["cards"])), verdict)
        console.print(table)
        console.print(f"{len(results) - len(failed)} match, {len(failed)} differ")
    return EXIT_FINDINGS if failed else EXIT_OK


@click.command("check")
@click.argument("fixture", type=click.Path(exists=True))
@click.option("--hook", type=click.Choice(HOOKS), default=None, help="hook to simulate (default: order-sign if the bundle has draft orders, else patient-view)")
@click.option("--no-prefetch", "no_prefetch", is_flag=True, help="send no prefetch: the service fetches the bundle's record from an embedded loopback FHIR server")
@click.option("--all", "run_all", is_flag=True, help="FIXTURE is a directory of fixtures: run every request and compare it with its golden")
@click.option("--json", "as_json", is_flag=True, help="print JSON (the CDS Hooks response; with --all, one result per request) instead of a table")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="the service's clinical 'today' (default: the fixture's referenceDate, else today)")
def command(fixture: str, hook: str | None, no_prefetch: bool, run_all: bool, as_json: bool, as_of: str | None) -> None:
    """Run the ALL CDS service in-process on FIXTURE (fixture dir, bundle.json or request-*.json).

    Exit codes: 0 no warning/critical card (with --all: every golden matches), 1 at least one
    warning or critical card (with --all: a golden differs), 2 usage error (bad path, bundle or
    hook) or the service refused the request.
    """
    logging.getLogger("cdshooks").setLevel(logging.ERROR)
    if run_all:
        sys.exit(check_all(Path(fixture), as_of, as_json))
    path = Path(fixture)
    day = clinical_day(path, as_of)
    body = request_from_path(fixture, hook, prefetch=not no_prefetch, fhir_server=PLACEHOLDER_FHIR_SERVER if no_prefetch else None,
                             access_token="check-token" if no_prefetch else None)
    try:
        service_id = service_for_request(body)
    except FixtureError as exc:
        fail_usage(str(exc))
    with ExitStack() as stack:
        outcome = Runner(stack).run(body, fixture_bundle(path), day)
    if outcome.status != 200:
        fail_usage(f"service answered HTTP {outcome.status}: {outcome.error}" if outcome.status else outcome.error)
    print_cards(outcome.cards, as_json=as_json, title=f"{service_id} on {fixture}")
    sys.exit(findings_exit(outcome.cards))
