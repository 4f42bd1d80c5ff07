"""`cdshooks cards PATH... [--html FILE]`: show the cards of fixtures as a CDS client would.

For pharmacists reviewing card wording without an EHR: each fixture directory (or request file)
runs in-process exactly as `cdshooks check` runs it (clock pinned to the fixture's
referenceDate, no-prefetch requests served from an embedded loopback FHIR server). Without
--html the cards are printed; with --html one self-contained page renders them the way the
CDS Hooks Sandbox does (indicator colours, Markdown detail, source link, suggestion buttons).
Exit codes: 0 done; 2 a path that does not exist or a request that fails.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click

from ._common import EXIT_OK, EXIT_USAGE, fail_usage, print_cards
from .check import Runner, clinical_day, fixture_bundle
from ..cards.review import review_page
from ..fixtures import FixtureError, load_fixture, read_json


def _requests(paths: tuple[str, ...]) -> list[tuple[Path, str, Path]]:
    """(fixture dir, request name, request file) for every with-prefetch request under the paths."""
    out: list[tuple[Path, str, Path]] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            fail_usage(f"{p}: no such file or directory")
        dirs = [p] if (p / "expected.json").exists() or p.is_file() else sorted(d for d in p.iterdir() if (d / "expected.json").exists())
        for d in dirs:
            if d.is_file():
                out.append((d.parent, d.name, d))
                continue
            try:
                fixture = load_fixture(d)
            except FixtureError as exc:
                fail_usage(str(exc))
            out += [(d, name, f) for name, f in sorted(fixture.requests.items()) if "noprefetch" not in name]
    if not out:
        fail_usage("no request-*.json found")
    return out


@click.command("cards")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--html", "html_out", type=click.Path(dir_okay=False, writable=True), help="write a review page here")
@click.option("--json", "as_json", is_flag=True, help="print the cards as JSON")
def command(paths: tuple[str, ...], html_out: str | None, as_json: bool) -> None:
    """Render fixture cards for review (text, --json, or an --html page)."""
    sections = []
    with ExitStack() as stack:
        runner = Runner(stack)
        for directory, name, path in _requests(paths):
            body = read_json(path)
            outcome = runner.run(body, fixture_bundle(path), clinical_day(directory, None))
            if outcome.status != 200:
                click.echo(f"cdshooks: {directory.name}/{name}: HTTP {outcome.status}: {outcome.error}", err=True)
                sys.exit(EXIT_USAGE)
            sections.append((directory.name, name, outcome.cards))
    if html_out:
        Path(html_out).write_text(review_page(sections), encoding="utf-8")
        click.echo(f"wrote {sum(len(c) for _, _, c in sections)} cards of {len(sections)} requests to {html_out}")
        sys.exit(EXIT_OK)
    for fixture, name, cards in sections:
        print_cards(cards, as_json=as_json, title=f"{fixture} · {name}")
    sys.exit(EXIT_OK)
